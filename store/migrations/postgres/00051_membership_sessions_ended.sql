-- +goose Up
-- When an admin last ended the person's sessions in the account: a session
-- signed in before then does not enter the account again (a switch from
-- another account, a hand-off, an app's authorization), nor stay in it.
-- Nullable, no default: adding it rewrites nothing and holds no lock for
-- longer than the catalogue change.
ALTER TABLE memberships ADD COLUMN sessions_ended_at timestamptz;

-- +goose Down
ALTER TABLE memberships DROP COLUMN sessions_ended_at;
