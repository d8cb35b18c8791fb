-- +goose Up
-- The groups an app is told about (directory.GroupFilter): '' for all, as
-- every app registered before was.
ALTER TABLE apps ADD COLUMN group_filter TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE apps DROP COLUMN group_filter;
