-- +goose Up
-- Who the account's identity provider deleted through SCIM: a single
-- sign-on login must not bring them back (DESIGN rule 3), while a new
-- membership made on purpose (SCIM create, an admin's add or invitation)
-- clears the record.
CREATE TABLE scim_deletions (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deleted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, user_id)
);

-- The email the account's identity provider gives a member, which SCIM
-- emails.value filters match (the person's own email serves every account
-- and is not the provider's to change).
ALTER TABLE memberships ADD COLUMN scim_email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN scim_email_key TEXT NOT NULL DEFAULT '';
UPDATE memberships SET scim_email = (SELECT email FROM users WHERE users.id = memberships.user_id), scim_email_key = email_key;
CREATE INDEX memberships_scim_email ON memberships (account_id, scim_email_key);

-- +goose Down
DROP INDEX memberships_scim_email;
ALTER TABLE memberships DROP COLUMN scim_email_key;
ALTER TABLE memberships DROP COLUMN scim_email;
DROP TABLE scim_deletions;
