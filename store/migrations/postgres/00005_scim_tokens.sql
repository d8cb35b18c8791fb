-- +goose Up
-- SCIM bearer tokens: several per account so that an identity provider's
-- token can be rotated without an outage; only their hash is kept.
CREATE TABLE scim_tokens (
    id           text PRIMARY KEY,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   text COLLATE "C" NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX scim_tokens_account ON scim_tokens (account_id, created_at);

-- +goose Down
DROP TABLE scim_tokens;
