-- +goose Up
-- A person's audit trail (the person page, audit list --person, the API's
-- ?person=): the events about them and the events they made. Without
-- these, the lookup walked every event of the account, newest first: 0.26 s
-- on PostgreSQL and 1.9 s on SQLite at 500,000 events in the account
-- (BenchmarkAuditPersonTrail). Each costs one more index entry an event.
-- Ids are unique across accounts, so the account need not lead.
CREATE INDEX audit_events_target ON audit_events (target_id, created_at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, created_at);

-- +goose Down
DROP INDEX audit_events_actor;
DROP INDEX audit_events_target;
