-- +goose Up
-- API keys of the JSON API: an account's keys act as an admin of it; an
-- operator key (account_id NULL) creates accounts and acts on any. Only the
-- hash of a key is kept.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

-- Idempotency-Key of POST requests: the first request with a key claims
-- it (status 0 while it runs); its response is kept for 24 hours so that a
-- retry gets the same answer. request_hash tells a retry from a different
-- request that reuses the key.
CREATE TABLE idempotency_keys (
    api_key_id   TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    response     BLOB,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
