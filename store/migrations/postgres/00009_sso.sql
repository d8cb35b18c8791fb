-- +goose Up
-- The service provider's own key pairs for SAML signing and encryption.
-- One is active (signs, and is what identity providers encrypt to); a next
-- one is published in the metadata before it is used, and a previous one
-- stays published (and able to decrypt) until it is retired. Private keys
-- are sealed with the server key (DESIGN rule 7).
CREATE TABLE certificates (
    id           text PRIMARY KEY,
    state        text NOT NULL CHECK (state IN ('next', 'active', 'previous')),
    cert_pem     text NOT NULL,
    sealed_key   text NOT NULL,
    not_before   timestamptz NOT NULL,
    not_after    timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    activated_at timestamptz
);
CREATE UNIQUE INDEX certificates_one_state ON certificates (state) WHERE state IN ('next', 'active');

-- One SAML or OIDC identity provider of an account.
CREATE TABLE connections (
    id                  text PRIMARY KEY,
    account_id          text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    protocol            text NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    name                text NOT NULL,
    domains             jsonb NOT NULL,
    jit_mode            text NOT NULL CHECK (jit_mode IN ('create', 'link', 'off')),
    settings            jsonb NOT NULL,
    metadata            text NOT NULL DEFAULT '',
    metadata_url        text NOT NULL DEFAULT '',
    metadata_fetched_at timestamptz,
    metadata_error      text NOT NULL DEFAULT '',
    sealed_secret       text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE UNIQUE INDEX connections_name ON connections (account_id, lower(name));

-- Sign-ins started here and not yet finished: the SAML AuthnRequest id (or
-- OIDC state), bound to the browser that started it by the hash of a cookie.
-- In the database so that the identity provider's answer may reach any replica.
CREATE TABLE sso_requests (
    id            text COLLATE "C" PRIMARY KEY,
    connection_id text NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    browser_hash  text COLLATE "C" NOT NULL,
    return_to     text NOT NULL,
    data          text NOT NULL DEFAULT '',
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);

-- Assertion ids already accepted, kept until the assertion expires: each
-- is accepted once, whichever replica sees it.
CREATE TABLE sso_replays (
    connection_id text NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    assertion_id  text COLLATE "C" NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX sso_replays_expiry ON sso_replays (expires_at);

-- Each connection's recent login attempts, for the admin who debugs an
-- identity provider's configuration.
CREATE TABLE sso_attempts (
    id            text PRIMARY KEY,
    connection_id text NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    outcome       text NOT NULL,
    reason        text NOT NULL,
    reference     text NOT NULL,
    email         text NOT NULL,
    detail        jsonb NOT NULL
);
CREATE INDEX sso_attempts_connection ON sso_attempts (connection_id, created_at DESC);

-- The groups the identity provider last asserted for a member.
ALTER TABLE memberships ADD COLUMN sso_groups jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE memberships DROP COLUMN sso_groups;
DROP TABLE sso_attempts;
DROP TABLE sso_replays;
DROP TABLE sso_requests;
DROP TABLE connections;
DROP TABLE certificates;
