-- +goose Up
-- Sessions a hand-off opened before 00031 recorded the app's host have
-- none, and forward-auth would take them for any app's host. They end;
-- the browser is handed off again at its next request, with its host.
DELETE FROM sessions WHERE family_hash <> '' AND host = '';

-- +goose Down
-- Nothing to bring back.
SELECT 1;
