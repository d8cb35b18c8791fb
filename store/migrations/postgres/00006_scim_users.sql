-- +goose Up
-- A SCIM User is an account's membership of a person: these columns hold
-- what the account's identity provider says of the person, so that nothing
-- one account pushes changes what another sees. scim_id is the id SCIM
-- clients see (not the user's id, which would tell two accounts' clients
-- that they see the same person).
ALTER TABLE memberships ADD COLUMN scim_id text NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN external_id text NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN user_name text NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN user_name_key text COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN display_name text NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN given_name text NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN family_name text NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN scim_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE memberships ADD COLUMN version integer NOT NULL DEFAULT 1;
UPDATE memberships SET scim_id = gen_random_uuid()::text,
    user_name = (SELECT email FROM users WHERE users.id = memberships.user_id),
    user_name_key = email_key;
CREATE UNIQUE INDEX memberships_scim_id ON memberships (scim_id);
-- SCIM listings page in scim_id order within one account.
CREATE INDEX memberships_account_scim_id ON memberships (account_id, scim_id);
CREATE UNIQUE INDEX memberships_user_name ON memberships (account_id, user_name_key);
CREATE INDEX memberships_external_id ON memberships (account_id, external_id);

-- +goose Down
DROP INDEX memberships_external_id;
DROP INDEX memberships_user_name;
DROP INDEX memberships_account_scim_id;
DROP INDEX memberships_scim_id;
ALTER TABLE memberships DROP COLUMN version;
ALTER TABLE memberships DROP COLUMN scim_attributes;
ALTER TABLE memberships DROP COLUMN family_name;
ALTER TABLE memberships DROP COLUMN given_name;
ALTER TABLE memberships DROP COLUMN display_name;
ALTER TABLE memberships DROP COLUMN user_name_key;
ALTER TABLE memberships DROP COLUMN user_name;
ALTER TABLE memberships DROP COLUMN external_id;
ALTER TABLE memberships DROP COLUMN scim_id;
