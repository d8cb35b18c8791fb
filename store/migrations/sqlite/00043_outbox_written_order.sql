-- +goose Up
-- Events are numbered for the feed in the order they were written, which
-- on PostgreSQL takes a column of its own (see its 00043). SQLite's rowid
-- is that order already: one writer at a time, each new row numbered after
-- every row left (events are only deleted once published).
SELECT 1;

-- +goose Down
SELECT 1;
