-- +goose Up
-- Apps behind forward-auth and the reverse proxy: a request for
-- forward_auth_host (under path_prefix, when set) is the app's. One app per
-- host and prefix: which app, and so which account, a request belongs to
-- is never a guess. The index also finds the apps of a host.
ALTER TABLE apps ADD COLUMN forward_auth_host TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN path_prefix TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX apps_forward_auth ON apps (forward_auth_host, path_prefix) WHERE forward_auth_host <> '';

-- +goose Down
DROP INDEX apps_forward_auth;
ALTER TABLE apps DROP COLUMN path_prefix;
ALTER TABLE apps DROP COLUMN forward_auth_host;
