-- +goose Up
-- SCIM bearer tokens: several per account so that an identity provider's
-- token can be rotated without an outage; only their hash is kept.
CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX scim_tokens_account ON scim_tokens (account_id, created_at);

-- +goose Down
DROP TABLE scim_tokens;
