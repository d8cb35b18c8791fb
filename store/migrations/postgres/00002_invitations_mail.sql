-- +goose Up
-- An invitation's link token is never stored: token_hash finds the
-- invitation from a link, and token_nonce, with the server key, lets the
-- mail worker rebuild the link it must send. A database copy alone opens
-- no invitation.
CREATE TABLE invitations (
    id            text PRIMARY KEY,
    account_id    text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         text NOT NULL,
    role          text NOT NULL,
    inviter_id    text NOT NULL DEFAULT '',
    status        text NOT NULL,
    token_hash    text COLLATE "C" NOT NULL UNIQUE,
    token_nonce   text NOT NULL,
    sends         integer NOT NULL DEFAULT 1,
    bounce_reason text NOT NULL DEFAULT '',
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- At most one open invitation per person and account.
CREATE UNIQUE INDEX invitations_open ON invitations (account_id, user_id) WHERE status IN ('pending', 'undeliverable');
CREATE INDEX invitations_account ON invitations (account_id, created_at);

-- The mail outbox: written in the transaction of the change that sends the
-- mail, delivered by the mail workers of any replica. What the message
-- says is rendered at delivery from kind and data.
CREATE TABLE mail_messages (
    id              text PRIMARY KEY,
    account_id      text NOT NULL,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    data            jsonb NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz
);
CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX mail_messages_account ON mail_messages (account_id, created_at);

-- +goose Down
DROP TABLE mail_messages;
DROP TABLE invitations;
