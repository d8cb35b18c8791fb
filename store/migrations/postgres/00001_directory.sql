-- +goose Up
-- Keys that are compared or paged on (slugs, email keys, name keys) use the
-- "C" collation: byte order is the same in PostgreSQL and SQLite, it makes
-- prefix ranges exact, and it lets plain b-tree indexes serve them.

CREATE TABLE accounts (
    id              text PRIMARY KEY,
    slug            text COLLATE "C" NOT NULL UNIQUE,
    name            text NOT NULL,
    branding        jsonb NOT NULL DEFAULT '{}',
    password_policy jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- A domain belongs to at most one account, so an email domain names the
-- account (home realm discovery) and no account can claim another's people.
CREATE TABLE account_domains (
    domain     text COLLATE "C" PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX account_domains_account ON account_domains (account_id);

CREATE TABLE account_roles (
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE users (
    id                   text PRIMARY KEY,
    email                text NOT NULL,
    email_key            text COLLATE "C" NOT NULL UNIQUE,
    first_name           text NOT NULL,
    last_name            text NOT NULL,
    password_hash        text NOT NULL DEFAULT '',
    password_must_change boolean NOT NULL DEFAULT false,
    password_changed_at  timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

-- email_key, name_key and last_key copy the person's lowercased email and
-- names into the membership, so that an account's member listing and search
-- are index range scans within that account, however many users others have.
-- Whatever changes a user's email or name updates them in the same statement set.
CREATE TABLE memberships (
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL,
    status     text NOT NULL,
    email_key  text COLLATE "C" NOT NULL,
    name_key   text COLLATE "C" NOT NULL,
    last_key   text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE UNIQUE INDEX memberships_email ON memberships (account_id, email_key, user_id);
CREATE INDEX memberships_name ON memberships (account_id, name_key);
CREATE INDEX memberships_last ON memberships (account_id, last_key);

CREATE TABLE groups (
    id           text PRIMARY KEY,
    account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    display_name text NOT NULL,
    external_id  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX groups_account ON groups (account_id, display_name);

CREATE TABLE group_members (
    group_id   text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE audit_events (
    id           text PRIMARY KEY,
    account_id   text NOT NULL,
    actor_source text NOT NULL,
    actor_id     text NOT NULL DEFAULT '',
    actor_name   text NOT NULL DEFAULT '',
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text NOT NULL,
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);
-- Audit events outlive what they describe, so account_id has no foreign key.
CREATE INDEX audit_events_account ON audit_events (account_id, created_at DESC, id DESC);

CREATE TABLE outbox_messages (
    id           text PRIMARY KEY,
    account_id   text NOT NULL,
    topic        text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    available_at timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT '',
    delivered_at timestamptz
);
-- Workers look only at undelivered messages; the partial index keeps that
-- lookup small however long the delivered history grows.
CREATE INDEX outbox_messages_due ON outbox_messages (available_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE outbox_messages;
DROP TABLE audit_events;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE account_roles;
DROP TABLE account_domains;
DROP TABLE accounts;
