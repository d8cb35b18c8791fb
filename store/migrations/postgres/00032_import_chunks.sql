-- +goose Up
-- An import's rows are kept in chunks of up to a thousand, one database
-- row each, instead of a row per spreadsheet row: a chunk is the unit of
-- work (one transaction adds its people and saves it done, with every
-- row's outcome), so a job writes one row per thousand people for its own
-- bookkeeping instead of inserting and then updating a row per person,
-- which was a third of an import's time. row_data is a JSON array of
-- {line, email, first_name, last_name, role, outcome, reason} in line
-- order; a row without an outcome is pending. A runner killed mid-way
-- leaves its chunk not done, and the next runner does it whole.
CREATE TABLE import_chunks (
    import_id  text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    first_line integer NOT NULL,
    last_line  integer NOT NULL,
    done       boolean NOT NULL DEFAULT FALSE,
    row_data   text NOT NULL,
    PRIMARY KEY (import_id, first_line)
);
CREATE INDEX import_chunks_pending ON import_chunks (import_id, first_line) WHERE NOT done;

-- The rows of jobs made before, a thousand to a chunk; a chunk whose rows
-- all have an outcome is done. The lock first waits for any batch an older
-- replica still has under way, so that no row is copied pending and then
-- done by it in the table about to go.
LOCK TABLE import_rows IN ACCESS EXCLUSIVE MODE;
INSERT INTO import_chunks (import_id, first_line, last_line, done, row_data)
SELECT import_id, min(line), max(line), bool_and(outcome <> ''), json_agg(json_build_object('line', line, 'email', email, 'first_name', first_name, 'last_name', last_name, 'role', role, 'outcome', outcome, 'reason', reason) ORDER BY line)::text
FROM (SELECT r.*, (row_number() OVER (PARTITION BY import_id ORDER BY line) - 1) / 1000 AS chunk FROM import_rows r) numbered
GROUP BY import_id, chunk;

DROP TABLE import_rows;

-- +goose Down
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
INSERT INTO import_rows (import_id, line, email, first_name, last_name, role, outcome, reason)
SELECT c.import_id, r.line, r.email, r.first_name, r.last_name, r.role, r.outcome, r.reason
FROM import_chunks c, json_to_recordset(c.row_data::json) AS r(line integer, email text, first_name text, last_name text, role text, outcome text, reason text);
DROP TABLE import_chunks;
