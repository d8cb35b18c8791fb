-- +goose Up
-- What the identity provider says of the email a member's SCIM filters
-- match (scim_email: the primary one, else the work one, else the first):
-- its type and display, lowercased, and whether it is primary, so that
-- emails[type eq "home"] asks the database rather than holding for every
-- user. A member no identity provider sent emails for is shown with a work,
-- primary email: the defaults. See the PostgreSQL migration of the same
-- number.
ALTER TABLE memberships ADD COLUMN scim_email_type_key TEXT NOT NULL DEFAULT 'work';
ALTER TABLE memberships ADD COLUMN scim_email_primary INTEGER NOT NULL DEFAULT 1;
ALTER TABLE memberships ADD COLUMN scim_email_display_key TEXT NOT NULL DEFAULT '';
UPDATE memberships SET
    scim_email_type_key = COALESCE((SELECT LOWER(COALESCE(json_extract(e.value, '$.type'), '')) FROM json_each(memberships.scim_attributes, '$.emails') e
        WHERE e.type = 'object' AND LOWER(TRIM(COALESCE(json_extract(e.value, '$.value'), ''))) = memberships.scim_email_key
        ORDER BY json_extract(e.value, '$.primary') IS 1 DESC, LOWER(COALESCE(json_extract(e.value, '$.type'), '')) = 'work' DESC, e.key LIMIT 1), ''),
    scim_email_primary = COALESCE((SELECT json_extract(e.value, '$.primary') IS 1 FROM json_each(memberships.scim_attributes, '$.emails') e
        WHERE e.type = 'object' AND LOWER(TRIM(COALESCE(json_extract(e.value, '$.value'), ''))) = memberships.scim_email_key
        ORDER BY json_extract(e.value, '$.primary') IS 1 DESC, LOWER(COALESCE(json_extract(e.value, '$.type'), '')) = 'work' DESC, e.key LIMIT 1), 0),
    scim_email_display_key = COALESCE((SELECT LOWER(COALESCE(json_extract(e.value, '$.display'), '')) FROM json_each(memberships.scim_attributes, '$.emails') e
        WHERE e.type = 'object' AND LOWER(TRIM(COALESCE(json_extract(e.value, '$.value'), ''))) = memberships.scim_email_key
        ORDER BY json_extract(e.value, '$.primary') IS 1 DESC, LOWER(COALESCE(json_extract(e.value, '$.type'), '')) = 'work' DESC, e.key LIMIT 1), '')
    WHERE json_type(scim_attributes, '$.emails') IS NOT NULL;

-- +goose Down
ALTER TABLE memberships DROP COLUMN scim_email_display_key;
ALTER TABLE memberships DROP COLUMN scim_email_primary;
ALTER TABLE memberships DROP COLUMN scim_email_type_key;
