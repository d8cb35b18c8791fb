-- +goose Up
-- Who vouches for a password (DESIGN rule 10). A password is proven once
-- its holder showed they own the address (an emailed link: invitation or
-- reset). Until then it opens only the account whose admin set it
-- (password_set_by), and it ends when the account that verified the
-- address's domain takes the person in.
ALTER TABLE users ADD COLUMN password_proven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_set_by TEXT NOT NULL DEFAULT '';
-- Proof is read from the audit trail, which is kept for good (used reset
-- links are swept after a day): an accepted invitation that the person
-- answered on its page (not one that an SSO login marked accepted, which
-- proves nothing about a password), or a completed password reset.
UPDATE users SET password_proven = 1
WHERE password_hash <> '' AND (
    EXISTS (SELECT 1 FROM audit_events e WHERE e.action = 'invitation.accepted' AND e.actor_id = users.id)
    OR EXISTS (SELECT 1 FROM audit_events e WHERE e.action = 'user.password_reset' AND e.target_id = users.id));
-- Any other password was set by an admin when the person was created: the
-- account that created them with it. Without that record the password
-- opens nothing until the person resets it, which is the safe side.
UPDATE users SET password_set_by = COALESCE((SELECT e.account_id FROM audit_events e
    WHERE e.action = 'user.created' AND e.target_id = users.id AND json_extract(e.data, '$.password_set') = 1
    ORDER BY e.created_at LIMIT 1), '')
WHERE password_hash <> '' AND NOT password_proven;

-- How each membership came to be: admin, invitation, scim, sso (and import).
ALTER TABLE memberships ADD COLUMN source TEXT NOT NULL DEFAULT 'admin';
UPDATE memberships SET source = 'invitation'
WHERE EXISTS (SELECT 1 FROM invitations i WHERE i.account_id = memberships.account_id AND i.user_id = memberships.user_id);
UPDATE memberships SET source = COALESCE((SELECT e.actor_source FROM audit_events e
    WHERE e.account_id = memberships.account_id AND e.action = 'membership.created'
      AND e.target_id IN (memberships.user_id, memberships.scim_id) AND e.actor_source IN ('scim', 'sso')
    ORDER BY e.created_at LIMIT 1), source);

-- An account's sign-in policy (SSO required, owners' break-glass password).
ALTER TABLE accounts ADD COLUMN sign_in_policy TEXT NOT NULL DEFAULT '{}';

-- How a browser signed in: with a password, or through a connection.
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN connection_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN connection_id;
ALTER TABLE sessions DROP COLUMN method;
ALTER TABLE accounts DROP COLUMN sign_in_policy;
ALTER TABLE memberships DROP COLUMN source;
ALTER TABLE users DROP COLUMN password_set_by;
ALTER TABLE users DROP COLUMN password_proven;
