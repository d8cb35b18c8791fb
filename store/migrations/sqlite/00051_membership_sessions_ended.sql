-- +goose Up
-- When an admin last ended the person's sessions in the account: a session
-- signed in before then does not enter the account again (a switch from
-- another account, a hand-off, an app's authorization), nor stay in it.
ALTER TABLE memberships ADD COLUMN sessions_ended_at TIMESTAMP;

-- +goose Down
ALTER TABLE memberships DROP COLUMN sessions_ended_at;
