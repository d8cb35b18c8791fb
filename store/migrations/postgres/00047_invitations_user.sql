-- +goose Up
-- A person's invitations to an account, for their audit trail (the
-- invitation.* events target the invitation's id). Without it the lookup
-- reads every invitation of the account; the index also serves the
-- cascade when a user is deleted.
CREATE INDEX invitations_user ON invitations (user_id, account_id, created_at);

-- +goose Down
DROP INDEX invitations_user;
