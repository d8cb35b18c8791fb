-- +goose NO TRANSACTION
-- +goose Up
-- Erasing a person deletes every mail to their address, in every account
-- (one that invited them, or removed them, before): mail is kept until
-- then, and without this index that read every mail ever sent.
-- Built CONCURRENTLY so that the replicas still serving keep queueing
-- mail while admit migrate builds it; a build cut short leaves an invalid
-- index behind, dropped before the next try.
DROP INDEX CONCURRENTLY IF EXISTS mail_messages_recipient;
CREATE INDEX CONCURRENTLY mail_messages_recipient ON mail_messages (lower(recipient));

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS mail_messages_recipient;
