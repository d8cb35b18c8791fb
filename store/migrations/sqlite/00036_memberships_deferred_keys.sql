-- +goose NO TRANSACTION
-- +goose Up
-- A membership's foreign keys (its account, its user) are checked when
-- its transaction commits instead of at each statement. Nothing else
-- changes: a membership whose account or user is missing still fails,
-- its whole transaction with it, and deleting an account or a user still
-- deletes its memberships at once. Why: SQLite keeps a statement journal
-- (a copy of every page a statement changes, written to a temporary file)
-- for a many-row INSERT into a table with immediate foreign keys, so that
-- the statement alone can be undone; a bulk upload's memberships, with a
-- dozen indexes each, spent an eighth of the import's time writing it.
--
-- SQLite cannot alter a constraint, so the table is rebuilt as its
-- documented procedure says: with foreign keys off (so that dropping the
-- old table deletes nothing that refers to it, such as sso_group_members)
-- and inside one transaction, which the statements below open and commit
-- themselves (goose runs them on one connection).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE memberships_new (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    role       TEXT NOT NULL,
    status     TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    last_key   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    scim_id         TEXT NOT NULL DEFAULT '',
    external_id     TEXT NOT NULL DEFAULT '',
    user_name       TEXT NOT NULL DEFAULT '',
    user_name_key   TEXT NOT NULL DEFAULT '',
    display_name    TEXT NOT NULL DEFAULT '',
    given_name      TEXT NOT NULL DEFAULT '',
    family_name     TEXT NOT NULL DEFAULT '',
    scim_attributes TEXT NOT NULL DEFAULT '{}',
    version         INTEGER NOT NULL DEFAULT 1,
    scim_email      TEXT NOT NULL DEFAULT '',
    scim_email_key  TEXT NOT NULL DEFAULT '',
    sso_groups      TEXT NOT NULL DEFAULT '[]',
    source          TEXT NOT NULL DEFAULT 'admin',
    last_sign_in_at TIMESTAMP,
    last_connection_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, user_id)
);
INSERT INTO memberships_new (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, external_id, user_name, user_name_key, display_name, given_name, family_name, scim_attributes, version, scim_email, scim_email_key, sso_groups, source, last_sign_in_at, last_connection_id)
    SELECT account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, external_id, user_name, user_name_key, display_name, given_name, family_name, scim_attributes, version, scim_email, scim_email_key, sso_groups, source, last_sign_in_at, last_connection_id FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
CREATE UNIQUE INDEX memberships_account_scim_id ON memberships (account_id, scim_id);
CREATE UNIQUE INDEX memberships_email ON memberships (account_id, email_key, user_id);
CREATE INDEX memberships_external_id ON memberships (account_id, external_id);
CREATE INDEX memberships_last ON memberships (account_id, last_key);
CREATE INDEX memberships_never_signed_in ON memberships (account_id, email_key, user_id, name_key, last_key) WHERE last_sign_in_at IS NULL;
CREATE INDEX memberships_scim_email ON memberships (account_id, scim_email_key);
CREATE INDEX memberships_sort_created ON memberships (account_id, created_at, user_id);
CREATE INDEX memberships_sort_name ON memberships (account_id, name_key, user_id);
CREATE INDEX memberships_sort_sign_in ON memberships (account_id, last_sign_in_at, user_id) WHERE last_sign_in_at IS NOT NULL;
CREATE INDEX memberships_source ON memberships (account_id, source, email_key, user_id, name_key, last_key);
CREATE INDEX memberships_status ON memberships (account_id, status, email_key, user_id, name_key, last_key);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE UNIQUE INDEX memberships_user_name ON memberships (account_id, user_name_key);
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE memberships_new (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    status     TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    last_key   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    scim_id         TEXT NOT NULL DEFAULT '',
    external_id     TEXT NOT NULL DEFAULT '',
    user_name       TEXT NOT NULL DEFAULT '',
    user_name_key   TEXT NOT NULL DEFAULT '',
    display_name    TEXT NOT NULL DEFAULT '',
    given_name      TEXT NOT NULL DEFAULT '',
    family_name     TEXT NOT NULL DEFAULT '',
    scim_attributes TEXT NOT NULL DEFAULT '{}',
    version         INTEGER NOT NULL DEFAULT 1,
    scim_email      TEXT NOT NULL DEFAULT '',
    scim_email_key  TEXT NOT NULL DEFAULT '',
    sso_groups      TEXT NOT NULL DEFAULT '[]',
    source          TEXT NOT NULL DEFAULT 'admin',
    last_sign_in_at TIMESTAMP,
    last_connection_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, user_id)
);
INSERT INTO memberships_new (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, external_id, user_name, user_name_key, display_name, given_name, family_name, scim_attributes, version, scim_email, scim_email_key, sso_groups, source, last_sign_in_at, last_connection_id)
    SELECT account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, external_id, user_name, user_name_key, display_name, given_name, family_name, scim_attributes, version, scim_email, scim_email_key, sso_groups, source, last_sign_in_at, last_connection_id FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
CREATE UNIQUE INDEX memberships_account_scim_id ON memberships (account_id, scim_id);
CREATE UNIQUE INDEX memberships_email ON memberships (account_id, email_key, user_id);
CREATE INDEX memberships_external_id ON memberships (account_id, external_id);
CREATE INDEX memberships_last ON memberships (account_id, last_key);
CREATE INDEX memberships_never_signed_in ON memberships (account_id, email_key, user_id, name_key, last_key) WHERE last_sign_in_at IS NULL;
CREATE INDEX memberships_scim_email ON memberships (account_id, scim_email_key);
CREATE INDEX memberships_sort_created ON memberships (account_id, created_at, user_id);
CREATE INDEX memberships_sort_name ON memberships (account_id, name_key, user_id);
CREATE INDEX memberships_sort_sign_in ON memberships (account_id, last_sign_in_at, user_id) WHERE last_sign_in_at IS NOT NULL;
CREATE INDEX memberships_source ON memberships (account_id, source, email_key, user_id, name_key, last_key);
CREATE INDEX memberships_status ON memberships (account_id, status, email_key, user_id, name_key, last_key);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE UNIQUE INDEX memberships_user_name ON memberships (account_id, user_name_key);
COMMIT;
PRAGMA foreign_keys = ON;
