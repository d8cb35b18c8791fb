-- +goose Up
-- A sign-in in progress is kept by the browser now, sealed into a cookie:
-- starting one writes no row, so anonymous requests cannot fill a table.
-- Its single use is recorded in sso_replays once the answer is verified.
DROP TABLE sso_requests;

-- The login log keeps answers admit verified (signed in, or refused by a
-- rule after the signature or ID token checked out) apart from those it
-- could not verify (garbage, unsigned, another connection's), each class
-- capped on its own: junk posted by anyone cannot push real attempts out.
-- Of the rows already there, only sign-ins are known to be verified.
ALTER TABLE sso_attempts ADD COLUMN verified boolean NOT NULL DEFAULT false;
UPDATE sso_attempts SET verified = true WHERE outcome = 'signed in';
DROP INDEX sso_attempts_connection;
CREATE INDEX sso_attempts_connection ON sso_attempts (connection_id, verified, created_at DESC);

-- +goose Down
DROP INDEX sso_attempts_connection;
CREATE INDEX sso_attempts_connection ON sso_attempts (connection_id, created_at DESC);
ALTER TABLE sso_attempts DROP COLUMN verified;

CREATE TABLE sso_requests (
    id            text COLLATE "C" PRIMARY KEY,
    connection_id text NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    browser_hash  text COLLATE "C" NOT NULL,
    return_to     text NOT NULL,
    data          text NOT NULL DEFAULT '',
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);
