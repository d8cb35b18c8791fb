-- +goose NO TRANSACTION
-- +goose Up
-- A SAML connection may link its logins by an attribute (Entra ID's
-- object id, or one the connection names) instead of the NameID:
-- subject_attribute says which ('' for the NameID or OIDC sub, as every
-- earlier link). A link is found only under the attribute it was made
-- with, so that a NameID can never equal an attribute's value, nor one
-- attribute's value another's.
-- Adding a column with a constant default rewrites nothing; the new key's
-- index is built CONCURRENTLY, so that the replicas still serving keep
-- signing people in while admit migrate builds it (a build cut short
-- leaves an invalid index behind, dropped before the next try), and then
-- becomes the primary key in place of the old one.
ALTER TABLE sso_links ADD COLUMN IF NOT EXISTS subject_attribute text COLLATE "C" NOT NULL DEFAULT '';
DROP INDEX CONCURRENTLY IF EXISTS sso_links_key;
CREATE UNIQUE INDEX CONCURRENTLY sso_links_key ON sso_links (connection_id, subject_attribute, subject);
ALTER TABLE sso_links DROP CONSTRAINT sso_links_pkey, ADD CONSTRAINT sso_links_pkey PRIMARY KEY USING INDEX sso_links_key;

-- +goose Down
-- Links made by an attribute go: the NameID's are what the old key holds.
DELETE FROM sso_links WHERE subject_attribute <> '';
ALTER TABLE sso_links DROP CONSTRAINT sso_links_pkey, ADD CONSTRAINT sso_links_pkey PRIMARY KEY (connection_id, subject);
ALTER TABLE sso_links DROP COLUMN subject_attribute;
