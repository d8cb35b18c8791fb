-- +goose Up
-- How far each account's events have been swept (the highest number of
-- its events deleted as older than the retention): a reader of the
-- account's feed whose cursor is below it missed events, and is told so.
-- Kept per account, so that sweeping one account's events never tells a
-- reader of another's, who missed nothing, to read everything again.
CREATE TABLE event_sweeps (
    account_id    text PRIMARY KEY,
    swept_through bigint NOT NULL
);

-- +goose Down
DROP TABLE event_sweeps;
