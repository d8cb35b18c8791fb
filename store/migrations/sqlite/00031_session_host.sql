-- +goose Up
-- A session a hand-off opened on an app's host works for that host only:
-- forward-auth refuses it for any other app, so an app that sees the
-- cookie cannot use it as the person at another app. '' for a session
-- opened on admit's own host.
ALTER TABLE sessions ADD COLUMN host TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN host;
