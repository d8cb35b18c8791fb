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

-- A session a hand-off opened belongs to the family of the session on
-- admit's host it came from (family_hash, its id_hash; '' for a session
-- opened by signing in): signing out anywhere ends the family, so a
-- browser is not handed straight back in after signing out of an app.
ALTER TABLE sessions ADD COLUMN family_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX sessions_family ON sessions (family_hash) WHERE family_hash <> '';

-- +goose Down
DROP INDEX sessions_family;
ALTER TABLE sessions DROP COLUMN family_hash;
DROP TABLE handoffs;
