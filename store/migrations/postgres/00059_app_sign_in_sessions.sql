-- +goose Up
-- Each admit session through which a person signed in to an app, by its
-- start (the auth_time of the app's ID tokens, whose sid is made of it):
-- a back-channel logout then names each session the app holds (OpenID
-- Back-Channel Logout 1.0, sid), not only the person, whose other sessions
-- an app that keys its sessions by sid (mod_auth_openidc) would keep.
-- app_sign_ins stays as it is, one row per app, account and person, which
-- the replicas of the previous version go on writing during an upgrade (a
-- new table, and a nullable column, which rewrites nothing).
CREATE TABLE app_sign_in_sessions (
    client_id  text NOT NULL REFERENCES apps (client_id) ON DELETE CASCADE,
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, account_id, user_id, auth_time)
);
CREATE INDEX app_sign_in_sessions_member ON app_sign_in_sessions (account_id, user_id);
CREATE INDEX app_sign_in_sessions_user ON app_sign_in_sessions (user_id);
CREATE INDEX app_sign_in_sessions_expiry ON app_sign_in_sessions (expires_at);

-- The session a queued logout names; NULL for the person alone (a sign-in
-- recorded before, or by a replica of the previous version).
ALTER TABLE app_logouts ADD COLUMN auth_time timestamptz;

-- +goose Down
ALTER TABLE app_logouts DROP COLUMN auth_time;
DROP TABLE app_sign_in_sessions;
