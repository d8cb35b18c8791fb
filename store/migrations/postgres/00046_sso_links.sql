-- +goose Up
-- Which person a connection's subject (an OIDC sub, a SAML NameID that is
-- not transient) signed in as last: when the identity provider renames the
-- person's address, its next login finds them by the subject and the
-- address follows, instead of making a second person at the new address.
-- One row a person and connection (a new subject replaces the old), so
-- logins never add rows beyond the people who sign in.
CREATE TABLE sso_links (
    connection_id text NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    subject       text COLLATE "C" NOT NULL,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    linked_at     timestamptz NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
CREATE UNIQUE INDEX sso_links_user ON sso_links (connection_id, user_id);
CREATE INDEX sso_links_user_id ON sso_links (user_id);

-- +goose Down
DROP TABLE sso_links;
