package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/admit-dev/admit/store"
)

// SeedMembers adds n people to the account in bulk, with multi-row inserts
// instead of the Service (whose per-person transaction and audit trail would
// make 100,000 members take minutes). Emails are PREFIX000000@seed.example…;
// names cycle through a small set so that searches have realistic matches.
func SeedMembers(tb testing.TB, s *store.Store, accountID, prefix string, n int) {
	tb.Helper()
	ctx := context.Background()
	first := []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus"}
	last := []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Wirth"}
	now := time.Now().UTC()
	const batch = 500
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		var users, members []string
		var uargs, margs []any
		for i := start; i < end; i++ {
			id := uuid.Must(uuid.NewV7()).String()
			email := fmt.Sprintf("%s%06d@seed.example", prefix, i)
			f, l := first[i%len(first)], last[(i/len(first))%len(last)]
			users = append(users, "(?, ?, ?, ?, ?, '', ?, ?, ?)")
			uargs = append(uargs, id, email, email, f, l, false, now, now)
			members = append(members, "(?, ?, ?, 'member', 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			margs = append(margs, uuid.Must(uuid.NewV7()).String(), accountID, id, email, strings.ToLower(f+" "+l), strings.ToLower(l), email, email, email, email, now, now)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO users (id, email, email_key, first_name, last_name, password_hash, password_must_change, created_at, updated_at) VALUES `+strings.Join(users, ", ")), uargs...); err != nil {
			tb.Fatalf("seed users: %v", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO memberships (scim_id, account_id, user_id, role, status, email_key, name_key, last_key, user_name, user_name_key, scim_email, scim_email_key, created_at, updated_at) VALUES `+strings.Join(members, ", ")), margs...); err != nil {
			tb.Fatalf("seed memberships: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	// Fresh statistics, as autovacuum (PostgreSQL) or the optimize pragma
	// (SQLite) would have them in production.
	if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}

// SeedGroupMembers puts n of the account's members (in SCIM id order)
// into the group in one statement.
func SeedGroupMembers(tb testing.TB, s *store.Store, accountID, groupID string, n int) {
	tb.Helper()
	ctx := context.Background()
	_, err := s.DB().ExecContext(ctx, s.DB().Rebind(`INSERT INTO group_members (group_id, user_id, created_at)
		SELECT ?, user_id, ? FROM memberships WHERE account_id = ? ORDER BY scim_id LIMIT ?`), groupID, time.Now().UTC(), accountID, n)
	if err != nil {
		tb.Fatalf("seed group members: %v", err)
	}
	if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}
