-- +goose Up
-- A redelivery is sent on its own, outside its person's order; see the
-- PostgreSQL migration of the same number.
ALTER TABLE webhook_deliveries ADD COLUMN detached INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN detached;
