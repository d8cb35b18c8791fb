-- +goose Up
-- The newest test events sent to each webhook, and how each went: a
-- webhook's page shows them (a reload of it sends nothing), and another
-- owner sees what was tried. Written before the test is sent and finished
-- when its answer comes; one left unfinished was cut off by a stop.
CREATE TABLE webhook_tests (
    event_id    TEXT PRIMARY KEY,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    sent_at     TIMESTAMP NOT NULL,
    sent_by     TEXT NOT NULL,
    finished    BOOLEAN NOT NULL DEFAULT FALSE,
    status      INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_tests_webhook ON webhook_tests (webhook_id, sent_at);

-- +goose Down
DROP TABLE webhook_tests;
