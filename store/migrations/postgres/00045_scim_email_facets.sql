-- +goose Up
-- What the identity provider says of the email a member's SCIM filters
-- match (scim_email: the primary one, else the work one, else the first):
-- its type and display, lowercased, and whether it is primary, so that
-- emails[type eq "home"] asks the database rather than holding for every
-- user. A member no identity provider sent emails for is shown with a work,
-- primary email: the defaults. A member whose emails were sent but hold
-- no value of that address (cleared, or only a userName that is one) has
-- none of the three.
ALTER TABLE memberships
    ADD COLUMN scim_email_type_key text NOT NULL DEFAULT 'work',
    ADD COLUMN scim_email_primary boolean NOT NULL DEFAULT TRUE,
    ADD COLUMN scim_email_display_key text NOT NULL DEFAULT '';
UPDATE memberships m SET
    scim_email_type_key = COALESCE(k.type_key, ''),
    scim_email_primary = COALESCE(k.is_primary, FALSE),
    scim_email_display_key = COALESCE(k.display_key, '')
    FROM memberships m2 LEFT JOIN LATERAL (
        SELECT LOWER(COALESCE(e->>'type', '')) AS type_key, COALESCE(e->'primary' = 'true'::jsonb, FALSE) AS is_primary,
            LOWER(COALESCE(e->>'display', '')) AS display_key
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(m2.scim_attributes->'emails') = 'array' THEN m2.scim_attributes->'emails' ELSE '[]'::jsonb END)
            WITH ORDINALITY AS x(e, i)
        WHERE jsonb_typeof(e) = 'object' AND LOWER(TRIM(COALESCE(e->>'value', ''))) = m2.scim_email_key
        ORDER BY COALESCE(e->'primary' = 'true'::jsonb, FALSE) DESC, LOWER(COALESCE(e->>'type', '')) = 'work' DESC, i
        LIMIT 1) k ON TRUE
    WHERE m2.account_id = m.account_id AND m2.user_id = m.user_id AND m.scim_attributes->'emails' IS NOT NULL;

-- +goose Down
ALTER TABLE memberships DROP COLUMN scim_email_display_key, DROP COLUMN scim_email_primary, DROP COLUMN scim_email_type_key;
