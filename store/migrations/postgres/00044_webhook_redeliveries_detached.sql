-- +goose Up
-- A redelivery (an operator's resend of a delivered or given-up event) is
-- sent on its own: it neither waits for the person's deliveries in order
-- nor holds them up. Before, it joined them, ready beside the person's
-- current one: the person's later events waited for it (for the 3 days it
-- was retried, if the endpoint refused the old event), and two workers
-- recording it and the current one at once each saw the other's as still
-- pending, so neither made the next one ready. A recovery puts deliveries
-- back in order (detached false).
ALTER TABLE webhook_deliveries ADD COLUMN detached boolean NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE webhook_deliveries DROP COLUMN detached;
