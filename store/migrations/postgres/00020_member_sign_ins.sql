-- +goose Up
-- When each member last signed in to the account, and through which
-- connection (empty for a password): the console shows it, and finds the
-- people who never signed in. Sessions are swept, so the sign-in is kept
-- on the membership, written with the session.
ALTER TABLE memberships ADD COLUMN last_sign_in_at timestamptz;
ALTER TABLE memberships ADD COLUMN last_connection_id text NOT NULL DEFAULT '';
-- Earlier sign-ins are read from the audit trail, which keeps them for
-- good: one pass over it, grouped, rather than a lookup per member.
UPDATE memberships SET last_sign_in_at = s.at
FROM (SELECT account_id, target_id, MAX(created_at) AS at FROM audit_events
      WHERE action = 'user.signed_in' GROUP BY account_id, target_id) s
WHERE s.account_id = memberships.account_id AND s.target_id = memberships.user_id;
-- The console's filters page through an account's members in email order
-- within a status, a source, or those who never signed in: each an index
-- range scan however large the account and however rare the match.
CREATE INDEX memberships_status ON memberships (account_id, status, email_key, user_id);
CREATE INDEX memberships_source ON memberships (account_id, source, email_key, user_id);
CREATE INDEX memberships_never_signed_in ON memberships (account_id, email_key, user_id) WHERE last_sign_in_at IS NULL;

-- +goose Down
DROP INDEX memberships_never_signed_in;
DROP INDEX memberships_source;
DROP INDEX memberships_status;
ALTER TABLE memberships DROP COLUMN last_connection_id;
ALTER TABLE memberships DROP COLUMN last_sign_in_at;
