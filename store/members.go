package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type membershipRow struct {
	ID        string    `db:"scim_id"`
	AccountID string    `db:"account_id"`
	UserID    string    `db:"user_id"`
	Role      string    `db:"role"`
	Status    string    `db:"status"`
	Source    string    `db:"source"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
	// Read only, written by RecordSignIn.
	LastSignInAt     sql.NullTime `db:"last_sign_in_at"`
	LastConnectionID string       `db:"last_connection_id"`
	// Read only, written by EndMembershipSessions.
	SessionsEndedAt sql.NullTime `db:"sessions_ended_at"`
}

func (r membershipRow) membership() directory.Membership {
	return directory.Membership{
		ID: r.ID, AccountID: r.AccountID, UserID: r.UserID, Role: directory.Role(r.Role), Status: directory.Status(r.Status),
		Source: directory.MembershipSource(r.Source), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		LastSignInAt: optionalTime(r.LastSignInAt), LastConnectionID: r.LastConnectionID, SessionsEndedAt: optionalTime(r.SessionsEndedAt),
	}
}

const membershipColumns = `scim_id, account_id, user_id, role, status, source, created_at, updated_at`

// membershipReadColumns adds what only reads need.
const membershipReadColumns = membershipColumns + `, last_sign_in_at, last_connection_id, sessions_ended_at`

// searchKeys are the person's lowercased email, full name and last name as
// the memberships table keeps them for listing and search. They are computed
// here rather than with SQL's LOWER, which lowercases non-ASCII letters
// differently in PostgreSQL and SQLite.
func searchKeys(u directory.User) (email, name, last string) {
	return directory.EmailKey(u.Email), strings.ToLower(u.FirstName + " " + u.LastName), strings.ToLower(u.LastName)
}

// CreateMembership adds the user u to the account of m.
func (s *Store) CreateMembership(ctx context.Context, u directory.User, m directory.Membership) error {
	emailKey, nameKey, lastKey := searchKeys(u)
	// Until an identity provider says otherwise, the SCIM userName of a
	// member is their email.
	// A membership made on purpose overrides an earlier SCIM deletion.
	clear, clearArgs := `DELETE FROM scim_deletions WHERE account_id = ? AND user_id = ?`, []any{m.AccountID, u.ID}
	insert := `INSERT INTO memberships (` + membershipColumns + `, email_key, name_key, last_key, user_name, user_name_key, scim_email, scim_email_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{m.ID, m.AccountID, u.ID, string(m.Role), string(m.Status), sourceOrAdmin(m.Source), m.CreatedAt, m.UpdatedAt, emailKey, nameKey, lastKey, u.Email, emailKey, u.Email, emailKey}
	if s.dialect.insertInWith {
		_, err := s.q.ExecContext(ctx, s.rebind(`WITH cleared AS (`+clear+`) `+insert), append(clearArgs, args...)...)
		return s.dialect.wrap(err, "insert membership")
	}
	if _, err := s.q.ExecContext(ctx, s.rebind(insert), args...); err != nil {
		return s.dialect.wrap(err, "insert membership")
	}
	_, err := s.q.ExecContext(ctx, s.rebind(clear), clearArgs...)
	return s.dialect.wrap(err, "clear SCIM deletion")
}

// sourceOrAdmin stores a membership made without a named source as an
// admin's, the column's default.
func sourceOrAdmin(s directory.MembershipSource) string {
	if s == "" {
		return string(directory.SourceOfAdmin)
	}
	return string(s)
}

// RecordSCIMDeletion notes that SCIM deleted the user from the account.
func (s *Store) RecordSCIMDeletion(ctx context.Context, accountID, userID string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO scim_deletions (account_id, user_id, deleted_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id, user_id) DO UPDATE SET deleted_at = excluded.deleted_at`), accountID, userID, at)
	return s.dialect.wrap(err, "record SCIM deletion")
}

// SCIMDeleted reports whether SCIM deleted the user from the account and
// nothing has added them since.
func (s *Store) SCIMDeleted(ctx context.Context, accountID, userID string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM scim_deletions WHERE account_id = ? AND user_id = ?`), accountID, userID)
	return n > 0, s.dialect.wrap(err, "find SCIM deletion")
}

// FindMembership returns the user's membership of the account.
func (s *Store) FindMembership(ctx context.Context, accountID, userID string) (directory.Membership, error) {
	var row membershipRow
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+membershipReadColumns+` FROM memberships WHERE account_id = ? AND user_id = ?`), accountID, userID)
	if err != nil {
		return directory.Membership{}, s.dialect.wrap(err, "find membership")
	}
	return row.membership(), nil
}

// LockMembership is FindMembership, the row held until the transaction
// ends (PostgreSQL; SQLite's transactions hold the write lock already).
func (s *Store) LockMembership(ctx context.Context, accountID, userID string) (directory.Membership, error) {
	var row membershipRow
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+membershipReadColumns+` FROM memberships m WHERE account_id = ? AND user_id = ?`+s.dialect.lockRows("m")), accountID, userID)
	if err != nil {
		return directory.Membership{}, s.dialect.wrap(err, "lock membership")
	}
	return row.membership(), nil
}

// activeOwner is the condition of the memberships_active_owners index
// (migration 00057), written as it is there: SQLite uses a partial index
// only for a query that names its condition's values, not parameters.
const activeOwner = "role = '" + string(directory.RoleOwner) + "' AND status = '" + string(directory.StatusActive) + "'"

// LockOwners returns the user ids of the account's active owners, in user
// id order, and on PostgreSQL locks their memberships in that order (the
// rows are locked as the sort hands them out), so that two transactions
// locking the same owners take turns instead of deadlocking. A row another
// transaction changed meanwhile is read again once it commits, and left
// out when it is no longer an active owner's.
func (s *Store) LockOwners(ctx context.Context, accountID string) ([]string, error) {
	ids := []string{}
	err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`SELECT user_id FROM memberships m WHERE account_id = ? AND `+activeOwner+` ORDER BY user_id`+s.dialect.lockRows("m")), accountID)
	if err != nil {
		return nil, s.dialect.wrap(err, "lock owners")
	}
	return ids, nil
}

// CountOwners counts the active owners of every account that has one. It
// reads the memberships_active_owners index only (its condition written
// as the index's, activeOwner): the cost grows with the installation's
// owners, not its members. On PostgreSQL with 200,000 memberships (one
// account of 100,000) it is an index-only scan of 9 pages, 0.3-0.5 ms; a
// scan of the memberships took 350 ms. SQLite scans the same index.
func (s *Store) CountOwners(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		AccountID string `db:"account_id"`
		N         int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT account_id, COUNT(*) AS n FROM memberships WHERE `+activeOwner+` GROUP BY account_id`); err != nil {
		return nil, s.dialect.wrap(err, "count owners")
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.AccountID] = r.N
	}
	return out, nil
}

// FindMembershipsOfUser returns every membership of the user, but those
// of an account being deleted: for everyone else that account is gone
// already (FindAccount does not find it).
func (s *Store) FindMembershipsOfUser(ctx context.Context, userID string) ([]directory.Membership, error) {
	return s.findMembershipsOfUser(ctx, userID, ` AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = memberships.account_id AND a.deleting_at IS NOT NULL)`)
}

// FindEveryMembershipOfUser is FindMembershipsOfUser with the
// memberships of accounts being deleted.
func (s *Store) FindEveryMembershipOfUser(ctx context.Context, userID string) ([]directory.Membership, error) {
	return s.findMembershipsOfUser(ctx, userID, "")
}

func (s *Store) findMembershipsOfUser(ctx context.Context, userID, and string) ([]directory.Membership, error) {
	var rows []membershipRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+membershipReadColumns+` FROM memberships WHERE user_id = ?`+and+` ORDER BY account_id`), userID); err != nil {
		return nil, s.dialect.wrap(err, "find memberships of user")
	}
	out := make([]directory.Membership, len(rows))
	for i, r := range rows {
		out[i] = r.membership()
	}
	return out, nil
}

type memberRow struct {
	userRow
	Role             string       `db:"role"`
	Status           string       `db:"status"`
	Source           string       `db:"source"`
	MemberSince      time.Time    `db:"member_created_at"`
	MemberAt         time.Time    `db:"member_updated_at"`
	AccountID        string       `db:"account_id"`
	MemberID         string       `db:"scim_id"`
	LastSignInAt     sql.NullTime `db:"last_sign_in_at"`
	LastConnectionID string       `db:"last_connection_id"`
}

func (r memberRow) member() directory.Member {
	return directory.Member{
		User: r.user(),
		Membership: directory.Membership{
			ID: r.MemberID, AccountID: r.AccountID, UserID: r.ID, Role: directory.Role(r.Role), Status: directory.Status(r.Status),
			Source: directory.MembershipSource(r.Source), CreatedAt: r.MemberSince.UTC(), UpdatedAt: r.MemberAt.UTC(),
			LastSignInAt: optionalTime(r.LastSignInAt), LastConnectionID: r.LastConnectionID,
		},
	}
}

// memberSelect reads a member: the person and their membership.
const memberSelect = `SELECT u.id, u.email, u.first_name, u.last_name, u.password_hash, u.password_must_change,
			u.password_changed_at, u.password_proven, u.password_set_by, u.created_at, u.updated_at,
			m.scim_id, m.account_id, m.role, m.status, m.source, m.created_at AS member_created_at, m.updated_at AS member_updated_at,
			m.last_sign_in_at, m.last_connection_id
		FROM memberships m`

// maxKey sorts after every valid UTF-8 string that starts with a given
// prefix: appended to the prefix it closes a prefix range.
const maxKey = "\U0010FFFF"

// FindMembers returns one page of the account's members in q's order
// (email key by default), continuing after q's cursor. Without a search,
// the page is a range scan of the order's index. With one, each of the
// three keys contributes a prefix range scan of its own index, so the cost
// follows the number of matches, not the size of the account.
//
// By sign-in, the people who signed in come first (their sign-in index,
// newest or oldest first), then those who never did, in email order: two
// index walks, each as cheap as one, where one order over a column with
// NULLs would need an index neither database can walk both ways alike.
func (s *Store) FindMembers(ctx context.Context, accountID string, q directory.MemberQuery) ([]directory.Member, error) {
	if q.Sort != directory.SortSignIn {
		return s.findMembers(ctx, accountID, q, memberOrders[q.Sort], nil)
	}
	var out []directory.Member
	if !q.AfterNever {
		signedIn := q
		signedIn.NeverSignedIn = false
		if q.NeverSignedIn {
			// Nobody who never signed in has a sign-in to sort by.
			signedIn.Limit = 0
		}
		if signedIn.Limit > 0 {
			var err error
			if out, err = s.findMembers(ctx, accountID, signedIn, signInOrder, []string{`m.last_sign_in_at IS NOT NULL`}); err != nil {
				return nil, err
			}
		}
		if len(out) == q.Limit {
			return out, nil
		}
		q.AfterKey, q.AfterUserID = "", ""
	}
	never := q
	never.NeverSignedIn, never.Desc, never.Limit = true, false, q.Limit-len(out)
	rest, err := s.findMembers(ctx, accountID, never, memberOrders[directory.SortEmail], nil)
	return append(out, rest...), err
}

// memberOrder is how one order of a member listing reads the table: the
// column, the index that holds it after account_id (for SQLite's planner,
// which must be told), and how a cursor's key becomes an argument.
type memberOrder struct {
	column, index string
	key           func(string) any
}

var memberOrders = map[directory.MemberSort]memberOrder{
	"":                   {"m.email_key", "memberships_email", textKey},
	directory.SortEmail:  {"m.email_key", "memberships_email", textKey},
	directory.SortName:   {"m.name_key", "memberships_sort_name", textKey},
	directory.SortJoined: {"m.created_at", "memberships_sort_created", timeKey},
	directory.SortSignIn: {"m.email_key", "memberships_never_signed_in", textKey},
}

var signInOrder = memberOrder{"m.last_sign_in_at", "memberships_sort_sign_in", timeKey}

func textKey(k string) any { return k }

// timeKey reads a time the directory checked (RFC 3339).
func timeKey(k string) any {
	t, _ := time.Parse(time.RFC3339Nano, k)
	return t.UTC()
}

func (s *Store) findMembers(ctx context.Context, accountID string, q directory.MemberQuery, order memberOrder, extra []string) ([]directory.Member, error) {
	where := append([]string{`m.account_id = ?`}, extra...)
	args := []any{accountID}
	hint := ""
	byEmail := order.column == "m.email_key"
	filtered := q.Status != "" || q.Source != "" || q.NeverSignedIn || q.Bounced
	if q.Search != "" {
		hi := q.Search + maxKey
		dense, err := s.manyMatches(ctx, accountID, q.Search)
		if err != nil {
			return nil, err
		}
		if dense {
			// Many match: walking an index in the listing's order and
			// keeping the matches fills a page after reading a few pages'
			// worth of rows. With a filter, the filter's own index: its
			// rows are all there is to read, however rare the match.
			switch {
			case byEmail && filtered:
				hint = s.dialect.walkFilterIndex(q)
			case byEmail:
				hint = s.dialect.walkEmailIndex
			case s.dialect.walkEmailIndex != "":
				hint = " INDEXED BY " + order.index
			}
			where = append(where, `(m.email_key >= ? AND m.email_key < ? OR m.name_key >= ? AND m.name_key < ? OR m.last_key >= ? AND m.last_key < ?)`)
			args = append(args, q.Search, hi, q.Search, hi, q.Search, hi)
		} else {
			// Few match: collect them from the three indexes, then order them.
			where = append(where, `m.user_id IN (`+matchingMembers+`)`)
			args = append(args, accountID, q.Search, hi, accountID, q.Search, hi, accountID, q.Search, hi)
		}
	} else if byEmail && filtered {
		// A filter alone walks its own index (migration 00020) in email
		// order: SQLite's planner would rather walk the email index and
		// test every member, which reads the whole account for a rare match.
		hint = s.dialect.walkFilterIndex(q)
	} else if !byEmail && s.dialect.walkEmailIndex != "" {
		// Another order walks its own index (migration 00024) and tests
		// the filters on the way.
		hint = " INDEXED BY " + order.index
	}
	if q.Bounced && !byEmail && s.dialect.walkEmailIndex != "" {
		// In another order too, the invited are read and sorted: walking
		// the order's index would test every member of the account.
		hint = s.dialect.walkFilterIndex(q)
	}
	w, a := memberFilterSQL(q)
	where, args = append(where, w...), append(args, a...)
	after := q.AfterKey
	if byEmail && after == "" {
		after = q.AfterEmailKey
	}
	cmp, dir := ">", ""
	if q.Desc {
		cmp, dir = "<", " DESC"
	}
	if q.AfterUserID != "" {
		where = append(where, `(`+order.column+`, m.user_id) `+cmp+` (?, ?)`)
		args = append(args, order.key(after), q.AfterUserID)
	}
	args = append(args, q.Limit)
	query := memberSelect + hint + ` JOIN users u ON u.id = m.user_id
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY ` + order.column + dir + `, m.user_id` + dir + ` LIMIT ?`
	var rows []memberRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(query), args...); err != nil {
		return nil, s.dialect.wrap(err, "find members")
	}
	out := make([]directory.Member, len(rows))
	for i, r := range rows {
		out[i] = r.member()
	}
	return out, nil
}

// memberFilterSQL is the condition of q's status, source, sign-in and
// bounce filters on memberships m; values are arguments, never SQL text.
func memberFilterSQL(q directory.MemberQuery) ([]string, []any) {
	var where []string
	var args []any
	if q.Status != "" {
		where, args = append(where, `m.status = ?`), append(args, string(q.Status))
	}
	if q.Source != "" {
		where, args = append(where, `m.source = ?`), append(args, string(q.Source))
	}
	if q.NeverSignedIn {
		where = append(where, `m.last_sign_in_at IS NULL`)
	}
	if q.Bounced {
		// The invited only, as the Users page's badge (Service.Bounced):
		// someone deactivated before accepting keeps an open invitation.
		// A listing walks the invited (memberships_status) and looks each
		// one's invitations up (invitations_user, invitations_open): the
		// cost follows the number of invited people, not the account's
		// size, where collecting the bounced first would read the
		// installation's invitations or its users.
		where = append(where, `m.status = 'invited'`, `EXISTS (SELECT 1 FROM invitations i
			WHERE i.account_id = m.account_id AND i.user_id = m.user_id AND i.status = 'undeliverable')`)
	}
	return where, args
}

// FindMember returns the account's member with that membership id.
func (s *Store) FindMember(ctx context.Context, accountID, membershipID string) (directory.Member, error) {
	var r memberRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(memberSelect+` JOIN users u ON u.id = m.user_id WHERE m.account_id = ? AND m.scim_id = ?`), accountID, membershipID)
	if err != nil {
		return directory.Member{}, s.dialect.wrap(err, "find member")
	}
	return r.member(), nil
}

// SetMembershipRole changes a membership's role.
func (s *Store) SetMembershipRole(ctx context.Context, accountID, userID string, role directory.Role, at time.Time) (directory.Membership, error) {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET role = ?, updated_at = ? WHERE account_id = ? AND user_id = ?`), string(role), at, accountID, userID)
	if err != nil {
		return directory.Membership{}, s.dialect.wrap(err, "set membership role")
	}
	if err := expectOne(res, "membership"); err != nil {
		return directory.Membership{}, err
	}
	return s.FindMembership(ctx, accountID, userID)
}

// RecordSignIn notes the person's sign-in to the account on the
// membership. It leaves updated_at alone: signing in changes nothing SCIM
// clients see (meta.lastModified).
func (s *Store) RecordSignIn(ctx context.Context, accountID, userID, connectionID string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET last_sign_in_at = ?, last_connection_id = ? WHERE account_id = ? AND user_id = ?`),
		at, connectionID, accountID, userID)
	return s.dialect.wrap(err, "record sign-in")
}

// matchingMembers selects the user IDs of an account's members whose email,
// full name or last name falls in a prefix range: three index range scans.
const matchingMembers = `SELECT user_id FROM memberships WHERE account_id = ? AND email_key >= ? AND email_key < ?
	UNION SELECT user_id FROM memberships WHERE account_id = ? AND name_key >= ? AND name_key < ?
	UNION SELECT user_id FROM memberships WHERE account_id = ? AND last_key >= ? AND last_key < ?`

// denseMatches is where a search switches from collecting and sorting its
// matches to walking the email index: past it, sorting costs more than the
// walk, which reads about pageSize/density rows.
const denseMatches = 1000

// manyMatches reports whether at least denseMatches members match search,
// reading no more than that many index entries to find out.
func (s *Store) manyMatches(ctx context.Context, accountID, search string) (bool, error) {
	hi := search + maxKey
	var n int
	// UNION ALL streams, so the LIMIT stops the scans early; a person
	// found by two keys counts twice, which an estimate can bear.
	err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM (`+strings.ReplaceAll(matchingMembers, "UNION", "UNION ALL")+` LIMIT ?) sample`),
		accountID, search, hi, accountID, search, hi, accountID, search, hi, denseMatches)
	if err != nil {
		return false, s.dialect.wrap(err, "estimate matches")
	}
	return n >= denseMatches, nil
}

// CountMembers counts the account's members that q selects (its search
// and filters; the cursor is ignored). With a limit it counts no further
// than that: the cost of the count then stays bounded however large the
// account.
func (s *Store) CountMembers(ctx context.Context, accountID string, q directory.MemberQuery) (int, error) {
	where := []string{`m.account_id = ?`}
	args := []any{accountID}
	w, a := memberFilterSQL(q)
	hint := ""
	if q.Search != "" {
		hi := q.Search + maxKey
		if len(w) == 0 && q.Limit > 0 {
			// A search alone counts its matches without reading the
			// memberships a second time.
			var n int
			err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM (`+matchingMembers+` LIMIT ?) matches`),
				accountID, q.Search, hi, accountID, q.Search, hi, accountID, q.Search, hi, q.Limit)
			return n, s.dialect.wrap(err, "count members")
		}
		dense, err := s.manyMatches(ctx, accountID, q.Search)
		if err != nil {
			return 0, err
		}
		if dense && len(w) > 0 {
			// As FindMembers: the filter's index is walked, since
			// collecting many matches costs more than the filter's rows.
			hint = s.dialect.walkFilterIndex(q)
			where = append(where, `(m.email_key >= ? AND m.email_key < ? OR m.name_key >= ? AND m.name_key < ? OR m.last_key >= ? AND m.last_key < ?)`)
			args = append(args, q.Search, hi, q.Search, hi, q.Search, hi)
		} else {
			where = append(where, `m.user_id IN (`+matchingMembers+`)`)
			args = append(args, accountID, q.Search, hi, accountID, q.Search, hi, accountID, q.Search, hi)
		}
	}
	where, args = append(where, w...), append(args, a...)
	query := `SELECT COUNT(*) FROM memberships m` + hint + ` WHERE ` + strings.Join(where, " AND ")
	if q.Limit > 0 {
		query = `SELECT COUNT(*) FROM (SELECT 1 FROM memberships m` + hint + ` WHERE ` + strings.Join(where, " AND ") + ` LIMIT ?) matches`
		args = append(args, q.Limit)
	}
	var n int
	if err := sqlx.GetContext(ctx, s.q, &n, s.rebind(query), args...); err != nil {
		return 0, s.dialect.wrap(err, "count members")
	}
	return n, nil
}
