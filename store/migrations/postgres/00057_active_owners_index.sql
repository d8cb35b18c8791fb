-- +goose NO TRANSACTION
-- +goose Up
-- The account's active owners, locked before any admin's change that could
-- take the last one away, and read by erasure: without an index on the
-- role, each such read went through every membership of the account
-- (25-35 ms in one of 100,000 members). Partial: it holds the owners only,
-- so it costs the writes of other members nothing. Built CONCURRENTLY so
-- that replicas still serving keep writing memberships meanwhile; a build
-- cut short leaves an invalid index, dropped before the next try.
DROP INDEX CONCURRENTLY IF EXISTS memberships_active_owners;
CREATE INDEX CONCURRENTLY memberships_active_owners ON memberships (account_id, user_id) WHERE role = 'owner' AND status = 'active';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS memberships_active_owners;
