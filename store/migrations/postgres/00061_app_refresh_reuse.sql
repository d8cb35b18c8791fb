-- +goose NO TRANSACTION
-- +goose Up
-- How long a rotated refresh token of the app may be presented again
-- (directory.App.RefreshReuseInterval), in seconds: 10 for every app, the
-- ones registered before included, and for those a replica of the
-- previous version registers during an upgrade. A column with a constant
-- default rewrites nothing, so the replicas still serving go on meanwhile.
ALTER TABLE apps ADD COLUMN IF NOT EXISTS refresh_reuse_seconds integer NOT NULL DEFAULT 10
    CHECK (refresh_reuse_seconds BETWEEN 0 AND 60);

-- +goose Down
ALTER TABLE apps DROP COLUMN refresh_reuse_seconds;
