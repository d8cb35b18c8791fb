-- +goose Up
-- An account being deleted (admit account delete): from deleting_at on,
-- no lookup finds it, so no one signs in to it, while its rows are
-- deleted a chunk at a time; running the command again resumes.
ALTER TABLE accounts ADD COLUMN deleting_at TIMESTAMP;

-- Erasing a person rewrites the audit events that name them (as target or
-- actor) in every account: without these it read the whole audit trail
-- once per person.
CREATE INDEX audit_events_target ON audit_events (target_id);
CREATE INDEX audit_events_actor ON audit_events (actor_id);

-- +goose Down
DROP INDEX audit_events_actor;
DROP INDEX audit_events_target;
ALTER TABLE accounts DROP COLUMN deleting_at;
