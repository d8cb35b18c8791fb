-- +goose Up
-- The service provider's own key pairs for SAML signing and encryption.
-- One is active (signs, and is what identity providers encrypt to); a next
-- one is published in the metadata before it is used, and a previous one
-- stays published (and able to decrypt) until it is retired. Private keys
-- are sealed with the server key (DESIGN rule 7).
CREATE TABLE certificates (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('next', 'active', 'previous')),
    cert_pem     TEXT NOT NULL,
    sealed_key   TEXT NOT NULL,
    not_before   TIMESTAMP NOT NULL,
    not_after    TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    activated_at TIMESTAMP
);
CREATE UNIQUE INDEX certificates_one_state ON certificates (state) WHERE state IN ('next', 'active');

-- One SAML or OIDC identity provider of an account.
CREATE TABLE connections (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    protocol            TEXT NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    name                TEXT NOT NULL,
    domains             TEXT NOT NULL,
    jit_mode            TEXT NOT NULL CHECK (jit_mode IN ('create', 'link', 'off')),
    settings            TEXT NOT NULL,
    metadata            TEXT NOT NULL DEFAULT '',
    metadata_url        TEXT NOT NULL DEFAULT '',
    metadata_fetched_at TIMESTAMP,
    metadata_error      TEXT NOT NULL DEFAULT '',
    sealed_secret       TEXT NOT NULL DEFAULT '',
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX connections_name ON connections (account_id, lower(name));

-- Sign-ins started here and not yet finished: the SAML AuthnRequest id (or
-- OIDC state), bound to the browser that started it by the hash of a cookie.
-- In the database so that the identity provider's answer may reach any replica.
CREATE TABLE sso_requests (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    browser_hash  TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    data          TEXT NOT NULL DEFAULT '',
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);

-- Assertion ids already accepted, kept until the assertion expires: each
-- is accepted once, whichever replica sees it.
CREATE TABLE sso_replays (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    assertion_id  TEXT NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX sso_replays_expiry ON sso_replays (expires_at);

-- Each connection's recent login attempts, for the admin who debugs an
-- identity provider's configuration.
CREATE TABLE sso_attempts (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    created_at    TIMESTAMP NOT NULL,
    outcome       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    reference     TEXT NOT NULL,
    email         TEXT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX sso_attempts_connection ON sso_attempts (connection_id, created_at DESC);

-- The groups the identity provider last asserted for a member.
ALTER TABLE memberships ADD COLUMN sso_groups TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE memberships DROP COLUMN sso_groups;
DROP TABLE sso_attempts;
DROP TABLE sso_replays;
DROP TABLE sso_requests;
DROP TABLE connections;
DROP TABLE certificates;
