-- +goose Up
-- SQLite's memberships had their foreign keys made deferred (see its
-- 00036): a bulk upload's many-row INSERTs no longer keep a statement
-- journal. PostgreSQL's import copies rows in (COPY) and needs no such
-- change; this keeps the two schemas' versions in step.
SELECT 1;

-- +goose Down
SELECT 1;
