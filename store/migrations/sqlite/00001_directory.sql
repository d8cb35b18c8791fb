-- +goose Up
-- SQLite compares TEXT byte by byte (BINARY collation), the same order as the
-- "C" collation the PostgreSQL schema gives its keys, so listings page alike.

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    branding        TEXT NOT NULL DEFAULT '{}',
    password_policy TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- A domain belongs to at most one account, so an email domain names the
-- account (home realm discovery) and no account can claim another's people.
CREATE TABLE account_domains (
    domain     TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX account_domains_account ON account_domains (account_id);

CREATE TABLE account_roles (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL,
    email_key            TEXT NOT NULL UNIQUE,
    first_name           TEXT NOT NULL,
    last_name            TEXT NOT NULL,
    password_hash        TEXT NOT NULL DEFAULT '',
    password_must_change INTEGER NOT NULL DEFAULT 0,
    password_changed_at  TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);

-- email_key, name_key and last_key copy the person's lowercased email and
-- names into the membership, so that an account's member listing and search
-- are index range scans within that account, however many users others have.
-- Whatever changes a user's email or name updates them in the same statement set.
CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    status     TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    last_key   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE UNIQUE INDEX memberships_email ON memberships (account_id, email_key, user_id);
CREATE INDEX memberships_name ON memberships (account_id, name_key);
CREATE INDEX memberships_last ON memberships (account_id, last_key);

CREATE TABLE groups (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    external_id  TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX groups_account ON groups (account_id, display_name);

CREATE TABLE group_members (
    group_id   TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    actor_source TEXT NOT NULL,
    actor_id     TEXT NOT NULL DEFAULT '',
    actor_name   TEXT NOT NULL DEFAULT '',
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    data         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
-- Audit events outlive what they describe, so account_id has no foreign key.
CREATE INDEX audit_events_account ON audit_events (account_id, created_at DESC, id DESC);

CREATE TABLE outbox_messages (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    available_at TIMESTAMP NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    delivered_at TIMESTAMP
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
