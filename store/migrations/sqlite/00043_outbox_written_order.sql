-- +goose Up
-- Events are numbered for the feed in the order they were written, which
-- on PostgreSQL takes a column of its own (see its 00043). SQLite's rowid
-- is that order already: one writer at a time, each new row numbered after
-- every row left (events are only deleted once published). An index's
-- entries of one key are in rowid order, so this one, whose key is the
-- same for every entry, walks the unpublished in the order written.
CREATE INDEX outbox_messages_unpublished ON outbox_messages (delivered_at) WHERE delivered_at IS NULL;

-- +goose Down
DROP INDEX outbox_messages_unpublished;
