-- +goose Up
-- Platform operators: people who create accounts and may enter any
-- account's console. Not a membership: they sign in as themselves through
-- an account they belong to. Who made them one is in the audit trail.
CREATE TABLE operators (
    user_id  text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL,
    added_by text NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE operators;
