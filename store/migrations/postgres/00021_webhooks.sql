-- +goose Up
-- Until now every audit event also wrote an outbox message, in a shape no
-- one read; from here the outbox holds events (directory.Event) only. The
-- old messages were never delivered and the audit trail keeps what they
-- said, so they go rather than reach the feed in the wrong shape.
DELETE FROM outbox_messages;

-- Events leave the outbox in the order of seq, given when a worker
-- publishes them (fans them out to the webhooks) under the lock of the one
-- event_sequence row: a number is committed only after every smaller one,
-- so a reader resuming after a cursor never skips an event. subject is who
-- an event is about; deliveries about one subject keep its order.
ALTER TABLE outbox_messages ADD COLUMN subject text NOT NULL DEFAULT '';
ALTER TABLE outbox_messages ADD COLUMN seq bigint;
CREATE UNIQUE INDEX outbox_messages_seq ON outbox_messages (seq);
CREATE INDEX outbox_messages_account_seq ON outbox_messages (account_id, seq);
CREATE INDEX outbox_messages_created ON outbox_messages (created_at);

CREATE TABLE event_sequence (
    id   integer PRIMARY KEY CHECK (id = 1),
    last bigint NOT NULL
);
INSERT INTO event_sequence (id, last) VALUES (1, 0);

-- A webhook endpoint: an account's (account_id set) or the platform's
-- (account_id NULL: every account's events). Secrets are sealed with the
-- server key; during a rotation the previous one signs too until
-- previous_until.
CREATE TABLE webhooks (
    id              text PRIMARY KEY,
    account_id      text REFERENCES accounts (id) ON DELETE CASCADE,
    url             text NOT NULL,
    event_types     text NOT NULL DEFAULT '',
    secret          text NOT NULL,
    previous_secret text NOT NULL DEFAULT '',
    previous_until  timestamptz,
    disabled_at     timestamptz,
    disabled_reason text NOT NULL DEFAULT '',
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id);

-- One event for one webhook. The event's id is its webhook-id: every
-- attempt of a delivery sends the same.
CREATE TABLE webhook_deliveries (
    id              text PRIMARY KEY,
    webhook_id      text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        text NOT NULL,
    seq             bigint NOT NULL,
    subject         text NOT NULL,
    -- ready: the first pending delivery of its webhook about its subject,
    -- the only one that may be claimed (a person's events go in order).
    ready           boolean NOT NULL DEFAULT FALSE,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    last_status     integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
-- Claims walk the ready deliveries in the order of the feed.
CREATE INDEX webhook_deliveries_ready ON webhook_deliveries (seq) WHERE status = 'pending' AND ready;
-- Finding the next of a subject's pending deliveries to make ready.
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, subject, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

-- Every attempt, for the operator to read.
CREATE TABLE webhook_attempts (
    id          text PRIMARY KEY,
    delivery_id text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    status      integer NOT NULL,
    error       text NOT NULL DEFAULT '',
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE event_sequence;
DROP INDEX outbox_messages_created;
DROP INDEX outbox_messages_account_seq;
DROP INDEX outbox_messages_seq;
ALTER TABLE outbox_messages DROP COLUMN seq;
ALTER TABLE outbox_messages DROP COLUMN subject;
