-- +goose Up
-- admit as an OpenID provider. apps are its relying parties, registered by
-- the operator: the client secret is kept only as a SHA-256 hash; an app
-- with an account_id serves that account only.
CREATE TABLE apps (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    client_id                 TEXT NOT NULL UNIQUE,
    secret_hash               TEXT NOT NULL DEFAULT '',
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    public                    BOOLEAN NOT NULL,
    backchannel_logout_uri    TEXT NOT NULL DEFAULT '',
    account_id                TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    created_at                TIMESTAMP NOT NULL
);

-- An authorization, from the person's sign-in until its code is exchanged
-- (before the sign-in, the browser holds the request, sealed: anonymous
-- requests write nothing); in the database so that any replica serves any
-- step.
CREATE TABLE app_authorizations (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    state                 TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    response_type         TEXT NOT NULL,
    response_mode         TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    login_hint            TEXT NOT NULL,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id            TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_method     TEXT NOT NULL DEFAULT '',
    connection_id         TEXT NOT NULL DEFAULT '',
    auth_time             TIMESTAMP,
    code_hash             TEXT UNIQUE,
    code_expires_at       TIMESTAMP,
    created_at            TIMESTAMP NOT NULL,
    expires_at            TIMESTAMP NOT NULL
);
CREATE INDEX app_authorizations_expiry ON app_authorizations (expires_at);

-- Access and refresh tokens issued to apps. Refresh tokens are found by
-- hash; the tokens of one sign-in share a family, which a replayed refresh
-- token revokes whole.
CREATE TABLE app_tokens (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash        TEXT UNIQUE,
    family_id         TEXT NOT NULL,
    client_id         TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes            TEXT NOT NULL,
    credential_method TEXT NOT NULL,
    connection_id     TEXT NOT NULL DEFAULT '',
    auth_time         TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    used_at           TIMESTAMP
);
CREATE INDEX app_tokens_family ON app_tokens (family_id);
CREATE INDEX app_tokens_user ON app_tokens (user_id, client_id);
CREATE INDEX app_tokens_expiry ON app_tokens (expires_at);

-- Which apps a person signed in to, in which account, until their session
-- there could last no longer (admit's longest session): the apps that hear
-- of it when the membership ends (OpenID Back-Channel Logout 1.0).
CREATE TABLE app_sign_ins (
    client_id    TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signed_in_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, account_id, user_id)
);
CREATE INDEX app_sign_ins_member ON app_sign_ins (account_id, user_id);
CREATE INDEX app_sign_ins_expiry ON app_sign_ins (expires_at);

-- Back-channel logouts to deliver, written in the transaction that ends
-- the membership; a worker on any replica claims, sends and deletes them.
-- Account and user have no foreign keys: the person may be gone by the
-- time the app is told.
CREATE TABLE app_logouts (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    account_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX app_logouts_due ON app_logouts (next_attempt_at);

-- admit's own key pairs come in kinds: the SAML one, and the ES256 and
-- RS256 keys that sign tokens. Each kind rotates on its own.
ALTER TABLE certificates ADD COLUMN kind TEXT NOT NULL DEFAULT 'saml' CHECK (kind IN ('saml', 'es256', 'rs256'));
DROP INDEX certificates_one_state;
CREATE UNIQUE INDEX certificates_one_state ON certificates (kind, state) WHERE state IN ('next', 'active');

-- +goose Down
DELETE FROM certificates WHERE kind <> 'saml';
DROP INDEX certificates_one_state;
CREATE UNIQUE INDEX certificates_one_state ON certificates (state) WHERE state IN ('next', 'active');
ALTER TABLE certificates DROP COLUMN kind;
DROP TABLE app_logouts;
DROP TABLE app_sign_ins;
DROP TABLE app_tokens;
DROP TABLE app_authorizations;
DROP TABLE apps;
