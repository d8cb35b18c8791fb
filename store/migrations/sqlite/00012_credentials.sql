-- +goose Up
-- Who vouches for a password (DESIGN rule 10). A password is proven once
-- its holder showed they own the address (an emailed link: invitation or
-- reset). Until then it opens only the account whose admin set it
-- (password_set_by), and it ends when the account that verified the
-- address's domain takes the person in.
ALTER TABLE users ADD COLUMN password_proven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_set_by TEXT NOT NULL DEFAULT '';
UPDATE users SET password_proven = 1
WHERE password_hash <> '' AND (
    EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = users.id AND i.status = 'accepted')
    OR EXISTS (SELECT 1 FROM password_resets r WHERE r.user_id = users.id AND r.used_at IS NOT NULL));
-- Any other password was set by an admin, when the person was first added:
-- the account of their oldest membership.
UPDATE users SET password_set_by = COALESCE((SELECT m.account_id FROM memberships m WHERE m.user_id = users.id
    ORDER BY m.created_at, m.account_id LIMIT 1), '')
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
