-- +goose Up
-- A webhook's secrets rotated out before the last one, each still
-- signing until its own time (JSON, newest first: sealed secret and
-- until): a rotation during another's overlap no longer stops the secret
-- receivers may still use at once. The last rotated-out secret stays in
-- previous_secret and previous_until, as before.
ALTER TABLE webhooks ADD COLUMN older_secrets text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhooks DROP COLUMN older_secrets;
