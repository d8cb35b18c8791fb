-- +goose Up
-- API keys of the JSON API: an account's keys act as an admin of it; an
-- operator key (account_id NULL) creates accounts and acts on any. Only the
-- hash of a key is kept.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    account_id   text REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    key_hash     text COLLATE "C" NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

-- Idempotency-Key of POST requests: the first request with a key claims
-- it (status 0 while it runs); its response is kept for 24 hours so that a
-- retry gets the same answer. request_hash tells a retry from a different
-- request that reuses the key.
CREATE TABLE idempotency_keys (
    api_key_id   text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    key          text COLLATE "C" NOT NULL,
    request_hash text NOT NULL,
    status       integer NOT NULL DEFAULT 0,
    response     bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
