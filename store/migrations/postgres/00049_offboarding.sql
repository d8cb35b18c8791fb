-- +goose Up
-- An account being deleted (admit account delete): from deleting_at on,
-- no lookup finds it, so no one signs in to it, while its rows are
-- deleted a chunk at a time; running the command again resumes.
ALTER TABLE accounts ADD COLUMN deleting_at timestamptz;

-- Erasing a person rewrites the audit events that name them (as target or
-- actor) in every account, along the indexes of 00050 (a person's trail).

-- Deleting a user cascades to these, which had no index leading with the
-- user: each erasure read all of them (an account's deletion, once per
-- member). And an account's deletion takes its app tokens a chunk at a
-- time, by account.
CREATE INDEX scim_deletions_user ON scim_deletions (user_id);
CREATE INDEX app_sign_ins_user ON app_sign_ins (user_id);
CREATE INDEX app_tokens_account ON app_tokens (account_id, user_id);

-- +goose Down
DROP INDEX app_tokens_account;
DROP INDEX app_sign_ins_user;
DROP INDEX scim_deletions_user;
ALTER TABLE accounts DROP COLUMN deleting_at;
