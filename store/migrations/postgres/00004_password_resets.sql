-- +goose Up
-- Like invitation links, reset links are kept only as a hash, and rebuilt
-- from the server key and token_nonce when the email is sent.
CREATE TABLE password_resets (
    id          text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash  text COLLATE "C" NOT NULL UNIQUE,
    token_nonce text NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- +goose Down
DROP TABLE password_resets;
