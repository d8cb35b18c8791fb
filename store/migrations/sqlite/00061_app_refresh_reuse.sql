-- +goose Up
-- How long a rotated refresh token of the app may be presented again
-- (directory.App.RefreshReuseInterval), in seconds: 10 for every app, the
-- ones registered before included, and for those a replica of the
-- previous version registers during an upgrade.
ALTER TABLE apps ADD COLUMN refresh_reuse_seconds INTEGER NOT NULL DEFAULT 10
    CHECK (refresh_reuse_seconds BETWEEN 0 AND 60);

-- +goose Down
ALTER TABLE apps DROP COLUMN refresh_reuse_seconds;
