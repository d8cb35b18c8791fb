-- +goose Up
-- admit as an OpenID provider. apps are its relying parties, registered by
-- the operator: the client secret is kept only as a SHA-256 hash; an app
-- with an account_id serves that account only.
CREATE TABLE apps (
    id                        text PRIMARY KEY,
    name                      text NOT NULL,
    client_id                 text NOT NULL UNIQUE,
    secret_hash               text NOT NULL DEFAULT '',
    redirect_uris             text NOT NULL,
    post_logout_redirect_uris text NOT NULL DEFAULT '[]',
    public                    boolean NOT NULL,
    backchannel_logout_uri    text NOT NULL DEFAULT '',
    account_id                text REFERENCES accounts (id) ON DELETE CASCADE,
    created_at                timestamptz NOT NULL
);

-- An authorization, from the person's sign-in until its code is exchanged
-- (before the sign-in, the browser holds the request, sealed: anonymous
-- requests write nothing); in the database so that any replica serves any
-- step.
CREATE TABLE app_authorizations (
    id                    text PRIMARY KEY,
    client_id             text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    redirect_uri          text NOT NULL,
    state                 text NOT NULL,
    nonce                 text NOT NULL,
    scopes                text NOT NULL,
    response_type         text NOT NULL,
    response_mode         text NOT NULL,
    code_challenge        text NOT NULL,
    code_challenge_method text NOT NULL,
    login_hint            text NOT NULL,
    user_id               text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id            text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_method     text NOT NULL DEFAULT '',
    connection_id         text NOT NULL DEFAULT '',
    auth_time             timestamptz,
    code_hash             text UNIQUE,
    code_expires_at       timestamptz,
    created_at            timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL
);
CREATE INDEX app_authorizations_expiry ON app_authorizations (expires_at);

-- Access and refresh tokens issued to apps. Refresh tokens are found by
-- hash; the tokens of one sign-in share a family, which a replayed refresh
-- token revokes whole.
CREATE TABLE app_tokens (
    id                text PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash        text UNIQUE,
    family_id         text NOT NULL,
    client_id         text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    user_id           text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id        text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scopes            text NOT NULL,
    credential_method text NOT NULL,
    connection_id     text NOT NULL DEFAULT '',
    auth_time         timestamptz NOT NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    used_at           timestamptz
);
CREATE INDEX app_tokens_family ON app_tokens (family_id);
CREATE INDEX app_tokens_user ON app_tokens (user_id, client_id);
CREATE INDEX app_tokens_expiry ON app_tokens (expires_at);

-- Which apps a person signed in to, in which account, until their session
-- there could last no longer (admit's longest session): the apps that hear
-- of it when the membership ends (OpenID Back-Channel Logout 1.0).
CREATE TABLE app_sign_ins (
    client_id    text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    signed_in_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (client_id, account_id, user_id)
);
CREATE INDEX app_sign_ins_member ON app_sign_ins (account_id, user_id);
CREATE INDEX app_sign_ins_expiry ON app_sign_ins (expires_at);

-- Back-channel logouts to deliver, written in the transaction that ends
-- the membership; a worker on any replica claims, sends and deletes them.
-- Account and user have no foreign keys: the person may be gone by the
-- time the app is told.
CREATE TABLE app_logouts (
    id              text PRIMARY KEY,
    client_id       text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    account_id      text NOT NULL,
    user_id         text NOT NULL,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX app_logouts_due ON app_logouts (next_attempt_at);

-- admit's own key pairs come in kinds: the SAML one, and the ES256 and
-- RS256 keys that sign tokens. Each kind rotates on its own.
ALTER TABLE certificates ADD COLUMN kind text NOT NULL DEFAULT 'saml' CHECK (kind IN ('saml', 'es256', 'rs256'));
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
