-- +goose Up
-- A reset link works only while the person's password is the one it was
-- when the link was made. password_stamp is the SHA-256 of the user's
-- password hash at that moment: every way of setting a password writes a
-- new hash (with a new salt), so any of them ends the link, whatever the
-- clocks of the replicas say. Links made before this column existed have
-- an empty stamp, which matches no password: they end, and a new link is
-- one request away. The reset mail throttle counts these rows, so it
-- writes none of its own.
ALTER TABLE password_resets ADD COLUMN password_stamp text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE password_resets DROP COLUMN password_stamp;
