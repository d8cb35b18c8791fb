-- +goose Up
-- Events are numbered for the feed in the order they were written, which
-- each replica's clock (available_at) does not give: two changes about one
-- person made one after the other on two replicas whose clocks differ by
-- a few milliseconds were numbered, and delivered, the other way round.
-- written comes from one sequence as each event is inserted; the second
-- of two changes to the same rows inserts its event only after the first
-- committed (it waited for their locks), so it is numbered after it.
-- Events not yet published are given theirs in the order they had;
-- published ones need none.
CREATE SEQUENCE outbox_messages_written;
ALTER TABLE outbox_messages ADD COLUMN written bigint;
UPDATE outbox_messages SET written = w.n
    FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY available_at, id) AS n FROM outbox_messages WHERE delivered_at IS NULL) AS w
    WHERE outbox_messages.id = w.id;
SELECT setval('outbox_messages_written', COALESCE((SELECT MAX(written) FROM outbox_messages), 0) + 1, false);
ALTER TABLE outbox_messages ALTER COLUMN written SET DEFAULT nextval('outbox_messages_written');
ALTER SEQUENCE outbox_messages_written OWNED BY outbox_messages.written;
CREATE INDEX outbox_messages_unpublished ON outbox_messages (written) WHERE delivered_at IS NULL;

-- +goose Down
DROP INDEX outbox_messages_unpublished;
ALTER TABLE outbox_messages DROP COLUMN written;
