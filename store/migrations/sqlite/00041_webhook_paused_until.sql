-- +goose Up
-- Until when an endpoint asked to be left alone: it answered 429 (too
-- many requests) or 503 (unavailable) with Retry-After. No delivery to it
-- is claimed or leased before then; other endpoints' go on.
ALTER TABLE webhooks ADD COLUMN paused_until TIMESTAMP;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN paused_until;
