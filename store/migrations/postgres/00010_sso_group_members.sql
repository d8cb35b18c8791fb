-- +goose Up
-- The groups each member's last single sign-on sent, a row each, by key
-- (lowercased, trimmed): group-to-role mappings find the people of a group
-- through the primary key instead of reading every membership's list.
CREATE TABLE sso_group_members (
    account_id text NOT NULL,
    group_key  text NOT NULL,
    user_id    text NOT NULL,
    PRIMARY KEY (account_id, group_key, user_id),
    FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE
);
CREATE INDEX sso_group_members_member ON sso_group_members (account_id, user_id);
INSERT INTO sso_group_members (account_id, group_key, user_id)
    SELECT DISTINCT m.account_id, LOWER(TRIM(g)), m.user_id
    FROM memberships m, jsonb_array_elements_text(m.sso_groups) AS g
    WHERE TRIM(g) <> '';

-- +goose Down
DROP TABLE sso_group_members;
