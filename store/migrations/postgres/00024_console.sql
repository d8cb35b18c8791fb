-- +goose Up
-- Platform operators: people who create accounts and may enter any
-- account's console. Not a membership: they sign in as themselves through
-- an account they belong to. Who made them one is in the audit trail.
CREATE TABLE operators (
    user_id  text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    added_by text NOT NULL DEFAULT ''
);

-- The console's Users table sorts by name, by when the membership was made
-- and by last sign-in, each a keyset walk of its own index, either way.
-- Those who never signed in are listed after the rest (in email order,
-- by memberships_never_signed_in), so the sign-in index leaves them out.
CREATE INDEX memberships_sort_name ON memberships (account_id, name_key, user_id);
CREATE INDEX memberships_sort_created ON memberships (account_id, created_at, user_id);
CREATE INDEX memberships_sort_sign_in ON memberships (account_id, last_sign_in_at, user_id) WHERE last_sign_in_at IS NOT NULL;
-- A search with a filter walks the filter's index (migration 00020) and
-- tests the search on the way: with the search keys in the index, that
-- walk reads no table rows, even when nothing matches both.
DROP INDEX memberships_status;
DROP INDEX memberships_source;
DROP INDEX memberships_never_signed_in;
CREATE INDEX memberships_status ON memberships (account_id, status, email_key, user_id, name_key, last_key);
CREATE INDEX memberships_source ON memberships (account_id, source, email_key, user_id, name_key, last_key);
CREATE INDEX memberships_never_signed_in ON memberships (account_id, email_key, user_id, name_key, last_key) WHERE last_sign_in_at IS NULL;

-- +goose Down
DROP INDEX memberships_never_signed_in;
DROP INDEX memberships_source;
DROP INDEX memberships_status;
CREATE INDEX memberships_status ON memberships (account_id, status, email_key, user_id);
CREATE INDEX memberships_source ON memberships (account_id, source, email_key, user_id);
CREATE INDEX memberships_never_signed_in ON memberships (account_id, email_key, user_id) WHERE last_sign_in_at IS NULL;
DROP INDEX memberships_sort_sign_in;
DROP INDEX memberships_sort_created;
DROP INDEX memberships_sort_name;
DROP TABLE operators;
