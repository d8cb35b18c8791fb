-- +goose Up
-- An account's uploaded logo, served by admit at /branding/{slug}/logo/{sha256}.
-- content_type was sniffed from the bytes when it was uploaded; the
-- account's branding names the current logo by sha256.
CREATE TABLE logos (
    account_id    text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    sha256        text COLLATE "C" NOT NULL,
    content_type  text NOT NULL,
    data          bytea NOT NULL,
    width         integer NOT NULL,
    height        integer NOT NULL,
    created_at    timestamptz NOT NULL
);

-- +goose Down
DROP TABLE logos;
