-- +goose Up
-- An account's uploaded logo, served by admit at /branding/{slug}/logo/{sha256}.
-- content_type was sniffed from the bytes when it was uploaded; the
-- account's branding names the current logo by sha256.
CREATE TABLE logos (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    sha256        TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    data          BLOB NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE logos;
