-- +goose Up
-- Two indexes of memberships that others already serve, each a write on
-- every membership made (an import of 100,000 people makes 100,000):
-- memberships_name is the first two columns of memberships_sort_name,
-- and a membership's SCIM id is only ever looked up within its account,
-- so one unique index on (account_id, scim_id) does the work of the
-- global unique memberships_scim_id and of memberships_account_scim_id.
DROP INDEX memberships_name;
DROP INDEX memberships_scim_id;
DROP INDEX memberships_account_scim_id;
CREATE UNIQUE INDEX memberships_account_scim_id ON memberships (account_id, scim_id);

-- +goose Down
DROP INDEX memberships_account_scim_id;
CREATE INDEX memberships_account_scim_id ON memberships (account_id, scim_id);
CREATE UNIQUE INDEX memberships_scim_id ON memberships (scim_id);
CREATE INDEX memberships_name ON memberships (account_id, name_key);
