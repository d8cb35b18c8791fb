-- +goose Up
-- An invitation's link token is never stored: token_hash finds the
-- invitation from a link, and token_nonce, with the server key, lets the
-- mail worker rebuild the link it must send. A database copy alone opens
-- no invitation.
CREATE TABLE invitations (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL,
    inviter_id    TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    token_nonce   TEXT NOT NULL,
    sends         INTEGER NOT NULL DEFAULT 1,
    bounce_reason TEXT NOT NULL DEFAULT '',
    expires_at    TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
-- At most one open invitation per person and account.
CREATE UNIQUE INDEX invitations_open ON invitations (account_id, user_id) WHERE status IN ('pending', 'undeliverable');
CREATE INDEX invitations_account ON invitations (account_id, created_at);

-- The mail outbox: written in the transaction of the change that sends the
-- mail, delivered by the mail workers of any replica. What the message
-- says is rendered at delivery from kind and data.
CREATE TABLE mail_messages (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    data            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_messages_account ON mail_messages (account_id, created_at);

-- +goose Down
DROP TABLE mail_messages;
DROP TABLE invitations;
