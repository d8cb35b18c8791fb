-- +goose Up
-- SCIM Groups: a version for ETags, a lowercased name that is unique within
-- the account (so that a group-to-role mapping names one group), and the
-- lookups SCIM clients make (by id, by externalId).
ALTER TABLE groups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE groups ADD COLUMN display_key TEXT NOT NULL DEFAULT '';
UPDATE groups SET display_key = LOWER(display_name);
DROP INDEX groups_account;
CREATE UNIQUE INDEX groups_display_key ON groups (account_id, display_key);
CREATE INDEX groups_account_id ON groups (account_id, id);
CREATE INDEX groups_external_id ON groups (account_id, external_id);

-- Group-to-role mapping: a member of a group whose name or externalId is
-- group_key (lowercased) gets role; with several, the highest priority.
CREATE TABLE role_mappings (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    group_key  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    role       TEXT NOT NULL,
    priority   INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, group_key)
);

-- Where a SCIM listing's page ended, so that the next page continues from
-- there by key (cost independent of startIndex, and no user skipped when
-- earlier ones are deleted between pages). list_key hashes the resource
-- type and the filter.
CREATE TABLE scim_cursors (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    list_key    TEXT NOT NULL,
    start_index INTEGER NOT NULL,
    after_id    TEXT NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, list_key, start_index)
);
CREATE INDEX scim_cursors_expires ON scim_cursors (expires_at);

-- +goose Down
DROP TABLE scim_cursors;
DROP TABLE role_mappings;
DROP INDEX groups_external_id;
DROP INDEX groups_account_id;
DROP INDEX groups_display_key;
CREATE INDEX groups_account ON groups (account_id, display_name);
ALTER TABLE groups DROP COLUMN display_key;
ALTER TABLE groups DROP COLUMN version;
