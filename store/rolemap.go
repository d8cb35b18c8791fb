package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// SaveRoleMapping adds or replaces the mapping of a group.
func (s *Store) SaveRoleMapping(ctx context.Context, m directory.RoleMapping, key string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO role_mappings (account_id, group_key, group_name, role, priority, created_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, group_key) DO UPDATE SET group_name = excluded.group_name, role = excluded.role, priority = excluded.priority`),
		m.AccountID, key, m.Group, m.Role, m.Priority, m.CreatedAt)
	return s.dialect.wrap(err, "save role mapping")
}

// DeleteRoleMapping deletes the mapping of a group.
func (s *Store) DeleteRoleMapping(ctx context.Context, accountID, key string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM role_mappings WHERE account_id = ? AND group_key = ?`), accountID, key)
	if err != nil {
		return s.dialect.wrap(err, "delete role mapping")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return directory.NotFoundError("no mapping for group " + key)
	}
	return nil
}

// FindRoleMappings lists an account's mappings, highest priority first.
func (s *Store) FindRoleMappings(ctx context.Context, accountID string) ([]directory.RoleMapping, error) {
	var rows []struct {
		AccountID string    `db:"account_id"`
		Group     string    `db:"group_name"`
		Role      string    `db:"role"`
		Priority  int       `db:"priority"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT account_id, group_name, role, priority, created_at FROM role_mappings
		WHERE account_id = ? ORDER BY priority DESC, role, group_key`), accountID)
	if err != nil {
		return nil, s.dialect.wrap(err, "find role mappings")
	}
	out := make([]directory.RoleMapping, len(rows))
	for i, r := range rows {
		out[i] = directory.RoleMapping{AccountID: r.AccountID, Group: r.Group, Role: directory.Role(r.Role), Priority: r.Priority, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// IsGroupMapped reports whether a mapping names a group by either key.
func (s *Store) IsGroupMapped(ctx context.Context, accountID, displayKey, externalKey string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM role_mappings WHERE account_id = ? AND group_key IN (?, ?)`),
		accountID, displayKey, externalKey)
	return n > 0, s.dialect.wrap(err, "find role mapping")
}

// mappedRole is the role a member's mapped groups give, best first: the
// groups SCIM put them in and the groups their last SSO login sent, both
// counting. The outer query supplies memberships.user_id and account_id,
// and one argument: a SCIM group to leave out (” for none).
const mappedRole = `COALESCE((SELECT r.role FROM role_mappings r
	WHERE r.account_id = memberships.account_id AND (
		EXISTS (SELECT 1 FROM group_members gm JOIN groups g ON g.id = gm.group_id
			WHERE gm.user_id = memberships.user_id AND g.account_id = memberships.account_id AND g.id <> ?
			AND (g.display_key = r.group_key OR LOWER(g.external_id) = r.group_key))
		OR EXISTS (SELECT 1 FROM sso_group_members sg
			WHERE sg.account_id = memberships.account_id AND sg.group_key = r.group_key AND sg.user_id = memberships.user_id))
	ORDER BY r.priority DESC, r.role LIMIT 1), 'member')`

// FindGroupKeysOfMember returns the keys (lowercased display name and
// externalId) of the SCIM groups the person is in, in the account.
func (s *Store) FindGroupKeysOfMember(ctx context.Context, accountID, userID string) ([]string, error) {
	var rows []struct {
		Display  string `db:"display_key"`
		External string `db:"external_key"`
	}
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT g.display_key, COALESCE(LOWER(g.external_id), '') AS external_key
		FROM group_members gm JOIN groups g ON g.id = gm.group_id WHERE g.account_id = ? AND gm.user_id = ?`), accountID, userID)
	if err != nil {
		return nil, s.dialect.wrap(err, "find groups of member")
	}
	var keys []string
	for _, r := range rows {
		for _, k := range []string{r.Display, r.External} {
			if k != "" {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// ApplyRoleMappings sets the roles of the non-owner members in scope to
// what their mapped groups give, in one statement whatever their number.
func (s *Store) ApplyRoleMappings(ctx context.Context, accountID string, scope directory.RoleScope) ([]directory.RoleChange, error) {
	// A long list of people goes in batches: both databases bound the
	// number of arguments of one statement.
	const batch = 500
	if len(scope.UserIDs) > batch {
		var all []directory.RoleChange
		for ids := range slices.Chunk(scope.UserIDs, batch) {
			changes, err := s.ApplyRoleMappings(ctx, accountID, directory.RoleScope{UserIDs: ids, Ignoring: scope.Ignoring})
			if err != nil {
				return nil, err
			}
			all = append(all, changes...)
		}
		return all, nil
	}
	var who string
	var whoArgs []any
	switch {
	case len(scope.UserIDs) > 0:
		who = `user_id IN (?` + strings.Repeat(`, ?`, len(scope.UserIDs)-1) + `)`
		for _, id := range scope.UserIDs {
			whoArgs = append(whoArgs, id)
		}
	case scope.GroupID != "":
		who = `user_id IN (SELECT user_id FROM group_members WHERE group_id = ?)`
		whoArgs = []any{scope.GroupID}
	case scope.Key != "":
		// Members of SCIM groups of that name, and members whose last SSO
		// login sent it: a mapping that appears or goes applies to both.
		who = `user_id IN (SELECT gm.user_id FROM group_members gm JOIN groups g ON g.id = gm.group_id
			WHERE g.account_id = ? AND (g.display_key = ? OR LOWER(g.external_id) = ?)
			UNION SELECT user_id FROM sso_group_members WHERE account_id = ? AND group_key = ?)`
		whoArgs = []any{accountID, scope.Key, scope.Key, accountID, scope.Key}
	default:
		return nil, nil
	}
	query := `UPDATE memberships SET role = ` + mappedRole + `
		WHERE account_id = ? AND role <> 'owner' AND ` + who + ` AND role <> ` + mappedRole + `
		RETURNING user_id, role`
	args := append(append([]any{scope.Ignoring, accountID}, whoArgs...), scope.Ignoring)
	var rows []struct {
		UserID string `db:"user_id"`
		Role   string `db:"role"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(query), args...); err != nil {
		return nil, s.dialect.wrap(err, "apply role mappings")
	}
	changes := make([]directory.RoleChange, len(rows))
	for i, r := range rows {
		changes[i] = directory.RoleChange{UserID: r.UserID, Role: directory.Role(r.Role)}
	}
	return changes, nil
}
