-- +goose Up
-- Which person a connection's subject signed in as last; see the
-- PostgreSQL migration of the same number.
CREATE TABLE sso_links (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    linked_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
CREATE UNIQUE INDEX sso_links_user ON sso_links (connection_id, user_id);
CREATE INDEX sso_links_user_id ON sso_links (user_id);

-- +goose Down
DROP TABLE sso_links;
