-- +goose Up
-- The account's active owners, read (and on PostgreSQL locked) before any
-- admin's change that could take the last one away, and by erasure: without
-- an index on the role, each such read went through every membership of the
-- account (100-150 ms in one of 100,000 members, under the installation's
-- one write lock). Partial: it holds the owners only, so it costs the
-- writes of other members nothing. The queries name the role and status as
-- literals, which a partial index needs on SQLite.
CREATE INDEX memberships_active_owners ON memberships (account_id, user_id) WHERE role = 'owner' AND status = 'active';

-- +goose Down
DROP INDEX memberships_active_owners;
