-- +goose Up
-- An import (bulk upload) job and its rows. The rows are stored with the
-- job, before any is added, so that a runner killed mid-way leaves exactly
-- the rows it had not committed without an outcome, and the next runner
-- resumes there. password_hash is the upload's one initial password,
-- hashed once, and is emptied when the job ends.
CREATE TABLE imports (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    mode           TEXT NOT NULL,
    role           TEXT NOT NULL,
    file_name      TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    total          INTEGER NOT NULL,
    created        INTEGER NOT NULL DEFAULT 0,
    joined         INTEGER NOT NULL DEFAULT 0,
    already_member INTEGER NOT NULL DEFAULT 0,
    duplicate      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    actor_source   TEXT NOT NULL,
    actor_id       TEXT NOT NULL DEFAULT '',
    actor_name     TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL DEFAULT '',
    locked_until   TIMESTAMP,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP
);
-- One open job per account, settled by the database.
CREATE UNIQUE INDEX imports_one_open ON imports (account_id) WHERE status IN ('queued', 'running');
CREATE INDEX imports_account ON imports (account_id, created_at DESC);
CREATE INDEX imports_open ON imports (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE import_rows (
    import_id  TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line       INTEGER NOT NULL,
    email      TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name  TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (import_id, line)
);
CREATE INDEX import_rows_pending ON import_rows (import_id, line) WHERE outcome = '';

-- The file an admin uploaded in the console, kept between the preview
-- (where they confirm the column mapping) and the start of the import,
-- because a browser cannot send a file again by itself. One per account:
-- a new upload replaces the last; starting the import deletes it.
CREATE TABLE import_uploads (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    data       BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE import_uploads;
DROP TABLE import_rows;
DROP TABLE imports;
