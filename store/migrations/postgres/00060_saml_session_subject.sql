-- +goose Up
-- What the identity provider's assertion said of a session opened by a
-- SAML sign-in: its NameID (value, Format, NameQualifier, SPNameQualifier)
-- and the SessionIndex of its AuthnStatement. The provider's
-- LogoutRequest names the sessions to end by them (saml-core 3.7.3.2), and
-- admit's own LogoutRequest must repeat them as the assertion had them:
-- ADFS and others refuse one whose NameID differs in Format or qualifiers.
-- '' for every other session, and for those a replica of the previous
-- version opens during an upgrade (which single logout then does not find:
-- they end as they always did).
ALTER TABLE sessions ADD COLUMN saml_name_id text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN saml_name_id_format text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN saml_name_qualifier text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN saml_sp_name_qualifier text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN saml_session_index text NOT NULL DEFAULT '';
-- A LogoutRequest finds the connection's sessions of one NameID.
CREATE INDEX sessions_saml_name_id ON sessions (connection_id, saml_name_id) WHERE saml_name_id <> '';

-- +goose Down
DROP INDEX sessions_saml_name_id;
ALTER TABLE sessions DROP COLUMN saml_session_index;
ALTER TABLE sessions DROP COLUMN saml_sp_name_qualifier;
ALTER TABLE sessions DROP COLUMN saml_name_qualifier;
ALTER TABLE sessions DROP COLUMN saml_name_id_format;
ALTER TABLE sessions DROP COLUMN saml_name_id;
