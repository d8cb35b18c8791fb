package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type groupRow struct {
	ID          string    `db:"id"`
	AccountID   string    `db:"account_id"`
	DisplayName string    `db:"display_name"`
	ExternalID  string    `db:"external_id"`
	Version     int       `db:"version"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
}

const groupSelect = `SELECT g.id, g.account_id, g.display_name, g.external_id, g.version, g.created_at, g.updated_at FROM groups g`

func (r groupRow) group() directory.SCIMGroup {
	return directory.SCIMGroup{Version: r.Version, Group: directory.Group{ID: r.ID, AccountID: r.AccountID, DisplayName: r.DisplayName,
		ExternalID: r.ExternalID, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}}
}

// CreateGroup stores a group.
func (s *Store) CreateGroup(ctx context.Context, g directory.Group) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO groups (id, account_id, display_name, display_key, external_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		g.ID, g.AccountID, g.DisplayName, strings.ToLower(g.DisplayName), g.ExternalID, g.CreatedAt, g.UpdatedAt)
	return s.dialect.wrap(err, "insert group")
}

// UpdateGroup saves a group's name and external id.
func (s *Store) UpdateGroup(ctx context.Context, g directory.Group) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE groups SET display_name = ?, display_key = ?, external_id = ?, updated_at = ?, version = version + 1
		WHERE account_id = ? AND id = ?`), g.DisplayName, strings.ToLower(g.DisplayName), g.ExternalID, g.UpdatedAt, g.AccountID, g.ID)
	if err != nil {
		return s.dialect.wrap(err, "update group")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return directory.NotFoundError(fmt.Sprintf("no group %s", g.ID))
	}
	return nil
}

// DeleteGroup deletes a group and its member list.
func (s *Store) DeleteGroup(ctx context.Context, accountID, id string) error {
	return s.within(ctx, func(s *Store) error {
		if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM group_members WHERE group_id = (SELECT id FROM groups WHERE account_id = ? AND id = ?)`), accountID, id); err != nil {
			return s.dialect.wrap(err, "delete group members")
		}
		// Not found when a deletion that committed since the caller read
		// the group (a retried DELETE) took it: told once, by that one.
		res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM groups WHERE account_id = ? AND id = ?`), accountID, id)
		if err != nil {
			return s.dialect.wrap(err, "delete group")
		}
		return expectOne(res, "group")
	})
}

// FindSCIMGroup returns a group, with its members when asked for.
func (s *Store) FindSCIMGroup(ctx context.Context, accountID, id string, members bool) (directory.SCIMGroup, error) {
	g, err := s.findSCIMGroup(ctx, accountID, id, "")
	if err != nil || !members {
		return g, err
	}
	if g.Members, err = s.FindGroupMembers(ctx, accountID, g.Group.ID, 0); err != nil {
		return directory.SCIMGroup{}, err
	}
	return g, nil
}

// LockSCIMGroup returns a group without its members and holds its row
// until the transaction ends, so that a change computed from it is not
// lost to a concurrent one. SQLite's transactions hold the write lock from
// BEGIN IMMEDIATE; PostgreSQL's read committed needs FOR UPDATE.
func (s *Store) LockSCIMGroup(ctx context.Context, accountID, id string) (directory.SCIMGroup, error) {
	return s.findSCIMGroup(ctx, accountID, id, s.dialect.lockRows("g"))
}

func (s *Store) findSCIMGroup(ctx context.Context, accountID, id, lock string) (directory.SCIMGroup, error) {
	var r groupRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(groupSelect+` WHERE g.account_id = ? AND g.id = ?`+lock), accountID, id); err != nil {
		err = s.dialect.wrap(err, "find group")
		if directory.KindOf(err) == directory.NotFound {
			return directory.SCIMGroup{}, directory.NotFoundError(fmt.Sprintf("no group %s", id))
		}
		return directory.SCIMGroup{}, err
	}
	return r.group(), nil
}

// FindGroupMembers returns up to limit (all when 0) of a group's members,
// in SCIM id order.
func (s *Store) FindGroupMembers(ctx context.Context, accountID, groupID string, limit int) ([]directory.GroupMember, error) {
	query := `SELECT m.scim_id, m.user_id, m.user_name FROM group_members gm
		JOIN groups g ON g.id = gm.group_id
		JOIN memberships m ON m.account_id = g.account_id AND m.user_id = gm.user_id
		WHERE gm.group_id = ? AND g.account_id = ? ORDER BY m.scim_id`
	args := []any{groupID, accountID}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	var rows []struct {
		ID     string `db:"scim_id"`
		UserID string `db:"user_id"`
		Name   string `db:"user_name"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(query), args...); err != nil {
		return nil, s.dialect.wrap(err, "find group members")
	}
	out := make([]directory.GroupMember, len(rows))
	for i, r := range rows {
		out[i] = directory.GroupMember{ID: r.ID, UserID: r.UserID, Display: r.Name}
	}
	return out, nil
}

// FindSCIMGroups returns a page of the account's groups matching f,
// without their members.
func (s *Store) FindSCIMGroups(ctx context.Context, accountID string, f *directory.Filter, pos directory.Position, limit int) ([]directory.SCIMGroup, error) {
	where, args, err := s.filterSQLOn(f, groupFilterColumn)
	if err != nil {
		return nil, err
	}
	page, pageArgs := pageSQL("g.id", pos, limit)
	var rows []groupRow
	err = sqlx.SelectContext(ctx, s.q, &rows, s.rebind(groupSelect+` WHERE g.account_id = ? AND `+where+page),
		append(append([]any{accountID}, args...), pageArgs...)...)
	if err != nil {
		return nil, s.dialect.wrap(err, "find groups")
	}
	out := make([]directory.SCIMGroup, len(rows))
	for i, r := range rows {
		out[i] = r.group()
	}
	return out, nil
}

// CountSCIMGroups counts the account's groups matching f.
func (s *Store) CountSCIMGroups(ctx context.Context, accountID string, f *directory.Filter) (int, error) {
	where, args, err := s.filterSQLOn(f, groupFilterColumn)
	if err != nil {
		return 0, err
	}
	var n int
	err = sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM groups g WHERE g.account_id = ? AND `+where), append([]any{accountID}, args...)...)
	return n, s.dialect.wrap(err, "count groups")
}

// AddGroupMembers adds members many rows a statement: a group created
// with 10,000 members costs a few dozen statements, not 20,000.
func (s *Store) AddGroupMembers(ctx context.Context, accountID, groupID string, members []string, at time.Time) ([]string, error) {
	users, err := s.memberUsers(ctx, accountID, members)
	if err != nil {
		return nil, err
	}
	added := make(map[string]bool, len(users))
	for chunk := range slices.Chunk(users, maxRowsPerStatement(3)) {
		args := make([]any, 0, 3*len(chunk))
		for _, u := range chunk {
			args = append(args, groupID, u, at)
		}
		var ids []string
		// DO NOTHING takes a member named twice, and one already in, as
		// no change; RETURNING names only the rows inserted.
		err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`INSERT INTO group_members (group_id, user_id, created_at) VALUES `+
			rowsOf(len(chunk), 3)+` ON CONFLICT (group_id, user_id) DO NOTHING RETURNING user_id`), args...)
		if err != nil {
			return nil, s.dialect.wrap(err, "add group members")
		}
		for _, id := range ids {
			added[id] = true
		}
	}
	userIDs := make([]string, 0, len(added))
	for _, u := range users {
		if added[u] {
			userIDs = append(userIDs, u)
			delete(added, u)
		}
	}
	return userIDs, nil
}

// memberUsers finds the users behind members' SCIM ids, in the account
// only, in the order given; the first id that is no user of the account
// is Invalid.
func (s *Store) memberUsers(ctx context.Context, accountID string, members []string) ([]string, error) {
	byID := make(map[string]string, len(members))
	for chunk := range slices.Chunk(members, maxParams-1) {
		var rows []struct {
			SCIMID string `db:"scim_id"`
			UserID string `db:"user_id"`
		}
		args := make([]any, 0, len(chunk)+1)
		args = append(args, accountID)
		for _, m := range chunk {
			args = append(args, m)
		}
		err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT scim_id, user_id FROM memberships WHERE account_id = ? AND scim_id IN (`+listOf(len(chunk))+`)`), args...)
		if err != nil {
			return nil, s.dialect.wrap(err, "find members")
		}
		for _, r := range rows {
			byID[r.SCIMID] = r.UserID
		}
	}
	users := make([]string, len(members))
	for i, m := range members {
		u, ok := byID[m]
		if !ok {
			return nil, directory.InvalidError(fmt.Sprintf("no user %s in this account", m))
		}
		users[i] = u
	}
	return users, nil
}

// RemoveGroupMembers removes members one primary-key delete each; an
// unknown or absent member is no error (RFC 7644 §3.5.2.2: removing what
// is not there changes nothing).
func (s *Store) RemoveGroupMembers(ctx context.Context, accountID, groupID string, members []string) ([]string, error) {
	var userIDs []string
	for _, m := range members {
		var userID string
		err := sqlx.GetContext(ctx, s.q, &userID, s.rebind(`SELECT user_id FROM memberships WHERE account_id = ? AND scim_id = ?`), accountID, m)
		if directory.KindOf(s.dialect.wrap(err, "")) == directory.NotFound {
			continue
		}
		if err != nil {
			return nil, s.dialect.wrap(err, "find member")
		}
		res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM group_members WHERE group_id = ? AND user_id = ?`), groupID, userID)
		if err != nil {
			return nil, s.dialect.wrap(err, "remove group member")
		}
		if n, _ := res.RowsAffected(); n > 0 {
			userIDs = append(userIDs, userID)
		}
	}
	return userIDs, nil
}

// RemoveAllGroupMembers empties a group and returns the user ids it held.
func (s *Store) RemoveAllGroupMembers(ctx context.Context, groupID string) ([]string, error) {
	var userIDs []string
	err := sqlx.SelectContext(ctx, s.q, &userIDs, s.rebind(`DELETE FROM group_members WHERE group_id = ? RETURNING user_id`), groupID)
	return userIDs, s.dialect.wrap(err, "remove all group members")
}
