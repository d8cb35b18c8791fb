-- +goose Up
-- A hand-off carries a signed-in browser from admit's host to the host of
-- a forward-auth app: a single-use code, kept only as its SHA-256, bound to
-- the app and the URL it returns to, alive for seconds. Redeeming it on the
-- app's host opens a session there for the same person, in the same
-- account, with the same credential, ending no later than session_hash's.
-- binding is the SHA-256 of a nonce the app's host gave the browser before
-- it left for admit's: only that browser redeems the code (no login CSRF).
CREATE TABLE handoffs (
    code_hash        TEXT PRIMARY KEY,
    session_hash     TEXT NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    app_id           TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    return_url       TEXT NOT NULL,
    binding          TEXT NOT NULL,
    expires_at       TIMESTAMP NOT NULL
);
CREATE INDEX handoffs_expires ON handoffs (expires_at);

-- +goose Down
DROP TABLE handoffs;
