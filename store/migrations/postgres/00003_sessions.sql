-- +goose Up
-- A session is found by the SHA-256 of its cookie value: the database never
-- holds a value that would sign anyone in.
CREATE TABLE sessions (
    id_hash      text COLLATE "C" PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_account_user ON sessions (account_id, user_id);

-- Failed sign-ins, kept a short while to throttle guessing from any replica.
-- key is "email:<email key>" or "addr:<client address>".
CREATE TABLE sign_in_failures (
    key        text COLLATE "C" NOT NULL,
    failed_at  timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key, failed_at);

-- The account a person last chose, offered first at their next sign-in.
ALTER TABLE users ADD COLUMN last_account_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN last_account_id;
DROP TABLE sign_in_failures;
DROP TABLE sessions;
