package store

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// FindGroupSummaries counts the members of the account's SCIM groups and
// of the groups its members' SSO logins sent.
func (s *Store) FindGroupSummaries(ctx context.Context, accountID string) ([]directory.GroupSummary, error) {
	var scim []struct {
		ID          string `db:"id"`
		DisplayName string `db:"display_name"`
		ExternalID  string `db:"external_id"`
		Members     int    `db:"members"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &scim, s.rebind(`SELECT g.id, g.display_name, g.external_id,
		(SELECT COUNT(*) FROM group_members gm WHERE gm.group_id = g.id) AS members
		FROM groups g WHERE g.account_id = ? ORDER BY g.display_name, g.id`), accountID); err != nil {
		return nil, s.dialect.wrap(err, "find groups")
	}
	var sso []struct {
		Key     string `db:"group_key"`
		Members int    `db:"members"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &sso, s.rebind(`SELECT group_key, COUNT(*) AS members
		FROM sso_group_members WHERE account_id = ? GROUP BY group_key ORDER BY group_key`), accountID); err != nil {
		return nil, s.dialect.wrap(err, "find sso groups")
	}
	out := make([]directory.GroupSummary, 0, len(scim)+len(sso))
	for _, g := range scim {
		out = append(out, directory.GroupSummary{Source: directory.GroupFromSCIM, ID: g.ID, DisplayName: g.DisplayName, ExternalID: g.ExternalID, Members: g.Members})
	}
	for _, g := range sso {
		out = append(out, directory.GroupSummary{Source: directory.GroupFromSSO, DisplayName: g.Key, Members: g.Members})
	}
	return out, nil
}
