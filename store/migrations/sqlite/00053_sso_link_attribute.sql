-- +goose Up
-- Which attribute a link's subject was read from ('' for the NameID or
-- OIDC sub); see the PostgreSQL migration of the same number. SQLite
-- cannot change a primary key: the table is made again.
CREATE TABLE sso_links_new (
    connection_id     TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    subject_attribute TEXT NOT NULL DEFAULT '',
    subject           TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    linked_at         TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, subject_attribute, subject)
);
INSERT INTO sso_links_new (connection_id, subject, user_id, linked_at)
    SELECT connection_id, subject, user_id, linked_at FROM sso_links;
DROP TABLE sso_links;
ALTER TABLE sso_links_new RENAME TO sso_links;
CREATE UNIQUE INDEX sso_links_user ON sso_links (connection_id, user_id);
CREATE INDEX sso_links_user_id ON sso_links (user_id);

-- +goose Down
CREATE TABLE sso_links_old (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    linked_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
INSERT INTO sso_links_old (connection_id, subject, user_id, linked_at)
    SELECT connection_id, subject, user_id, linked_at FROM sso_links WHERE subject_attribute = '';
DROP TABLE sso_links;
ALTER TABLE sso_links_old RENAME TO sso_links;
CREATE UNIQUE INDEX sso_links_user ON sso_links (connection_id, user_id);
CREATE INDEX sso_links_user_id ON sso_links (user_id);
