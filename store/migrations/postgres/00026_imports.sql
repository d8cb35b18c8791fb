-- +goose Up
-- An import (bulk upload) job and its rows. The rows are stored with the
-- job, before any is added, so that a runner killed mid-way leaves exactly
-- the rows it had not committed without an outcome, and the next runner
-- resumes there. password_hash is the upload's one initial password,
-- hashed once, and is emptied when the job ends.
CREATE TABLE imports (
    id             text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    mode           text NOT NULL,
    role           text NOT NULL,
    file_name      text NOT NULL DEFAULT '',
    status         text NOT NULL,
    total          integer NOT NULL,
    created        integer NOT NULL DEFAULT 0,
    joined         integer NOT NULL DEFAULT 0,
    already_member integer NOT NULL DEFAULT 0,
    duplicate      integer NOT NULL DEFAULT 0,
    failed         integer NOT NULL DEFAULT 0,
    actor_source   text NOT NULL,
    actor_id       text NOT NULL DEFAULT '',
    actor_name     text NOT NULL DEFAULT '',
    password_hash  text NOT NULL DEFAULT '',
    locked_until   timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    finished_at    timestamptz
);
-- One open job per account, settled by the database.
CREATE UNIQUE INDEX imports_one_open ON imports (account_id) WHERE status IN ('queued', 'running');
CREATE INDEX imports_account ON imports (account_id, created_at DESC);
CREATE INDEX imports_open ON imports (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE import_rows (
    import_id  text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line       integer NOT NULL,
    email      text NOT NULL,
    first_name text NOT NULL DEFAULT '',
    last_name  text NOT NULL DEFAULT '',
    role       text NOT NULL DEFAULT '',
    outcome    text NOT NULL DEFAULT '',
    reason     text NOT NULL DEFAULT '',
    PRIMARY KEY (import_id, line)
);
CREATE INDEX import_rows_pending ON import_rows (import_id, line) WHERE outcome = '';

-- The file an admin uploaded in the console, kept between the preview
-- (where they confirm the column mapping) and the start of the import,
-- because a browser cannot send a file again by itself. One per account:
-- a new upload replaces the last; starting the import deletes it.
CREATE TABLE import_uploads (
    account_id text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    id         text NOT NULL,
    file_name  text NOT NULL,
    data       bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE import_uploads;
DROP TABLE import_rows;
DROP TABLE imports;
