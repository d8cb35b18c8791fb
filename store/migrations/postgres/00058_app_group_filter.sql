-- +goose NO TRANSACTION
-- +goose Up
-- The groups an app is told about (directory.GroupFilter): '' for all, as
-- every app registered before was. A column with a constant default
-- rewrites nothing, so the replicas still serving go on meanwhile.
ALTER TABLE apps ADD COLUMN IF NOT EXISTS group_filter text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE apps DROP COLUMN group_filter;
