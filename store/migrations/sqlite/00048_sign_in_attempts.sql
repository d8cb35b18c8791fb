-- +goose Up
-- A sign-in attempt is counted before its password is checked (so a burst
-- of concurrent guesses cannot all pass the count), and taken back when it
-- succeeds or is refused: attempt names the rows of one attempt. Rows
-- written otherwise (the reset page's SSO emails) have none.
ALTER TABLE sign_in_failures ADD COLUMN attempt text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sign_in_failures DROP COLUMN attempt;
