-- +goose Up
-- Facts about the whole installation that every process must agree on,
-- whatever environment it was started with: the public base URL the
-- server last started with (the CLI prints links from it) and a
-- fingerprint of the secret key that sealed this database's secrets (a
-- process with another key refuses to run instead of making links and
-- secrets the server cannot open). One row per name.
CREATE TABLE instance_settings (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE instance_settings;
