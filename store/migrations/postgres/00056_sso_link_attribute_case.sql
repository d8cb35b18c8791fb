-- +goose Up
-- A link's subject attribute is kept in lower case (ASCII letters only,
-- as the code folds it): attribute names are matched without regard to
-- case, so a connection whose attribute changes only in case
-- (employeeNumber to EmployeeNumber) keeps finding its people. Where links
-- of one subject differ only in that case, the one made last stays (one
-- sort of the table, not a search per link).
DELETE FROM sso_links WHERE (connection_id, subject_attribute, subject) IN (
	SELECT connection_id, subject_attribute, subject FROM (
		SELECT connection_id, subject_attribute, subject, row_number() OVER (
			PARTITION BY connection_id, translate(subject_attribute, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), subject
			ORDER BY linked_at DESC, subject_attribute) AS n
		FROM sso_links) ranked
	WHERE n > 1);
UPDATE sso_links SET subject_attribute = translate(subject_attribute, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') WHERE subject_attribute <> translate(subject_attribute, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');

-- +goose Down
-- The links stay in lower case: the older code looks a link up under the
-- attribute as the connection spells it, so the people of a connection
-- whose attribute has capitals are linked again at their next login.
SELECT 1;
