-- +goose Up
-- Who the account's identity provider deleted through SCIM: a single
-- sign-on login must not bring them back (DESIGN rule 3), while a new
-- membership made on purpose (SCIM create, an admin's add or invitation)
-- clears the record.
CREATE TABLE scim_deletions (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deleted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, user_id)
);

-- +goose Down
DROP TABLE scim_deletions;
