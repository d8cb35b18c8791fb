-- +goose Up
-- When the person last signed out everywhere: device tokens issued before
-- then (the cookies that spare a browser the lockout strangers cause) are
-- no longer honoured, as the sessions of those browsers are not.
ALTER TABLE users ADD COLUMN devices_ended_at TIMESTAMP;

-- +goose Down
ALTER TABLE users DROP COLUMN devices_ended_at;
