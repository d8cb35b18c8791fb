package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type scimUserRow struct {
	membershipRow
	Email       string `db:"email"`
	FirstName   string `db:"first_name"`
	LastName    string `db:"last_name"`
	UserName    string `db:"user_name"`
	ExternalID  string `db:"external_id"`
	DisplayName string `db:"display_name"`
	GivenName   string `db:"given_name"`
	FamilyName  string `db:"family_name"`
	SCIMEmail   string `db:"scim_email"`
	Attributes  []byte `db:"scim_attributes"`
	Version     int    `db:"version"`
}

const scimUserSelect = `SELECT m.scim_id, m.account_id, m.user_id, m.role, m.status, m.created_at, m.updated_at,
	u.email, u.first_name, u.last_name, m.user_name, m.external_id, m.display_name, m.given_name, m.family_name, m.scim_email, m.scim_attributes, m.version
	FROM memberships m JOIN users u ON u.id = m.user_id`

func (r scimUserRow) user() directory.SCIMUser {
	return directory.SCIMUser{
		Membership: r.membership(), Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, Version: r.Version,
		Profile: directory.SCIMProfile{UserName: r.UserName, ExternalID: r.ExternalID, DisplayName: r.DisplayName,
			GivenName: r.GivenName, FamilyName: r.FamilyName, Email: r.SCIMEmail, Attributes: append([]byte(nil), r.Attributes...)},
	}
}

// FindSCIMUser returns the account's member with that SCIM id.
func (s *Store) FindSCIMUser(ctx context.Context, accountID, id string) (directory.SCIMUser, error) {
	return s.findSCIMUser(ctx, accountID, id, "")
}

// LockSCIMUser is FindSCIMUser holding the membership's row until the
// transaction ends, so that a change computed from what it read is not
// lost to a concurrent one (see LockSCIMGroup).
func (s *Store) LockSCIMUser(ctx context.Context, accountID, id string) (directory.SCIMUser, error) {
	return s.findSCIMUser(ctx, accountID, id, s.dialect.lockRows("m"))
}

func (s *Store) findSCIMUser(ctx context.Context, accountID, id, lock string) (directory.SCIMUser, error) {
	var r scimUserRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(scimUserSelect+` WHERE m.account_id = ? AND m.scim_id = ?`+lock), accountID, id)
	if err != nil {
		err = s.dialect.wrap(err, "find SCIM user")
		if directory.KindOf(err) == directory.NotFound {
			return directory.SCIMUser{}, directory.NotFoundError(fmt.Sprintf("no user %s", id))
		}
		return directory.SCIMUser{}, err
	}
	return r.user(), nil
}

// UpdateSCIMProfile saves the SCIM profile, and the name keys the member
// listing searches, so the account's own names for its people are found.
// It returns the new version.
func (s *Store) UpdateSCIMProfile(ctx context.Context, accountID, id string, p directory.SCIMProfile, at time.Time) (int, error) {
	query := `UPDATE memberships SET user_name = ?, user_name_key = ?, external_id = ?, display_name = ?, given_name = ?,
		family_name = ?, scim_email = ?, scim_email_key = ?, scim_email_type_key = ?, scim_email_primary = ?, scim_email_display_key = ?,
		scim_attributes = ?, version = version + 1, updated_at = ?`
	args := []any{p.UserName, strings.ToLower(p.UserName), p.ExternalID, p.DisplayName, p.GivenName, p.FamilyName,
		p.Email, strings.ToLower(p.Email), strings.ToLower(p.EmailType), p.EmailPrimary, strings.ToLower(p.EmailDisplay), string(p.Attributes), at}
	if p.GivenName != "" || p.FamilyName != "" {
		query += `, name_key = ?, last_key = ?`
		args = append(args, strings.ToLower(p.GivenName+" "+p.FamilyName), strings.ToLower(p.FamilyName))
	}
	query += ` WHERE account_id = ? AND scim_id = ? RETURNING version`
	args = append(args, accountID, id)
	var v int
	if err := sqlx.GetContext(ctx, s.q, &v, s.rebind(query), args...); err != nil {
		err = s.dialect.wrap(err, "update SCIM profile")
		if directory.KindOf(err) == directory.NotFound {
			return 0, directory.NotFoundError(fmt.Sprintf("no user %s", id))
		}
		return 0, err
	}
	return v, nil
}

// FindSCIMUsers returns a page of the account's members matching f, in SCIM id order.
func (s *Store) FindSCIMUsers(ctx context.Context, accountID string, f *directory.Filter, pos directory.Position, limit int) ([]directory.SCIMUser, error) {
	where, args, err := s.filterSQL(f)
	if err != nil {
		return nil, err
	}
	page, pageArgs := pageSQL("m.scim_id", pos, limit)
	args = append(append([]any{accountID}, args...), pageArgs...)
	var rows []scimUserRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(scimUserSelect+` WHERE m.account_id = ? AND `+where+page), args...); err != nil {
		return nil, s.dialect.wrap(err, "find SCIM users")
	}
	out := make([]directory.SCIMUser, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// CountSCIMUsers counts the account's members matching f.
func (s *Store) CountSCIMUsers(ctx context.Context, accountID string, f *directory.Filter) (int, error) {
	where, args, err := s.filterSQL(f)
	if err != nil {
		return 0, err
	}
	// Only a filter on emails.value needs the users table; counting
	// without the join is an index-only count of the account's rows.
	from := `memberships m`
	if strings.Contains(where, "u.") {
		from += ` JOIN users u ON u.id = m.user_id`
	}
	var n int
	err = sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM `+from+` WHERE m.account_id = ? AND `+where), append([]any{accountID}, args...)...)
	if err != nil {
		return 0, s.dialect.wrap(err, "count SCIM users")
	}
	return n, nil
}

// DeleteMembership removes a membership with its sessions and the user's
// memberships of the account's groups.
func (s *Store) DeleteMembership(ctx context.Context, accountID, userID string) error {
	return s.within(ctx, func(s *Store) error {
		for _, q := range []string{
			`DELETE FROM sessions WHERE account_id = ? AND user_id = ?`,
			`DELETE FROM group_members WHERE group_id IN (SELECT id FROM groups WHERE account_id = ?) AND user_id = ?`,
		} {
			if _, err := s.q.ExecContext(ctx, s.rebind(q), accountID, userID); err != nil {
				return s.dialect.wrap(err, "delete membership")
			}
		}
		// Not found when a deletion that committed since the caller read
		// the membership (a DELETE the identity provider retried, a
		// double click on Remove) took it: the deletion, its audit event
		// and its membership.deleted are that one's, not told twice.
		res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM memberships WHERE account_id = ? AND user_id = ?`), accountID, userID)
		if err != nil {
			return s.dialect.wrap(err, "delete membership")
		}
		return expectOne(res, "membership")
	})
}
