-- +goose Up
-- Erasing a person deletes every mail to their address, in every account
-- (one that invited them, or removed them, before): mail is kept until
-- then, and without this index that read every mail ever sent.
CREATE INDEX mail_messages_recipient ON mail_messages (lower(recipient));

-- +goose Down
DROP INDEX mail_messages_recipient;
