-- +goose Up
-- The SHA-256 fingerprints of the certificates a SAML identity provider
-- signs with, as its metadata lists them, and when a metadata refresh (or
-- a new file) last changed them: a new signing key is audited and shown in
-- admit sso list. Connections made before are given theirs by the first
-- refresh, from the metadata they hold.
ALTER TABLE connections ADD COLUMN signing_certificates jsonb NOT NULL DEFAULT '[]';
ALTER TABLE connections ADD COLUMN signing_certificates_changed_at timestamptz;

-- +goose Down
ALTER TABLE connections DROP COLUMN signing_certificates_changed_at;
ALTER TABLE connections DROP COLUMN signing_certificates;
