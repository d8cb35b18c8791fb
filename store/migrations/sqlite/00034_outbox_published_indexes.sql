-- +goose Up
-- An outbox message gets its sequence number when it is published, after
-- the change that wrote it has committed. The indexes that only published
-- messages are looked up by (the events feed by seq, an account's feed,
-- the sweep of old published events) no longer hold the unpublished ones:
-- the transaction of every change (a SCIM request, each thousand rows of
-- an import) writes two index entries a message instead of five, and the
-- publisher adds the rest. Every query on them names seq with an operator
-- that implies it is not null, so both databases use them.
DROP INDEX outbox_messages_seq;
DROP INDEX outbox_messages_account_seq;
DROP INDEX outbox_messages_created;
CREATE UNIQUE INDEX outbox_messages_seq ON outbox_messages (seq) WHERE seq IS NOT NULL;
CREATE INDEX outbox_messages_account_seq ON outbox_messages (account_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX outbox_messages_created ON outbox_messages (created_at) WHERE seq IS NOT NULL;

-- +goose Down
DROP INDEX outbox_messages_created;
DROP INDEX outbox_messages_account_seq;
DROP INDEX outbox_messages_seq;
CREATE UNIQUE INDEX outbox_messages_seq ON outbox_messages (seq);
CREATE INDEX outbox_messages_account_seq ON outbox_messages (account_id, seq);
CREATE INDEX outbox_messages_created ON outbox_messages (created_at);
