-- +goose Up
-- A delivery sent again keeps the time it was made, which its sweep goes
-- by (the retention bounds it and its attempts, however often it is sent
-- again); its new round of retries runs from when it was sent again.
ALTER TABLE webhook_deliveries ADD COLUMN redelivered_at timestamptz;
-- Its attempts then: its retries back off afresh from there.
ALTER TABLE webhook_deliveries ADD COLUMN redelivered_after INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN redelivered_after;
ALTER TABLE webhook_deliveries DROP COLUMN redelivered_at;
