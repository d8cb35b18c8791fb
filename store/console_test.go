package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestMemberFilters pages through the members a console filter selects,
// alone and with a search, and counts them, on both databases: each filter
// takes its own index path (see FindMembers).
func TestMemberFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := s.CreateAccount(ctx, directory.Account{ID: "a", Slug: "acct", Name: "A", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccount(ctx, directory.Account{ID: "b", Slug: "bcct", Name: "B", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// 30 people: statuses cycle active, invited, deactivated; sources
		// cycle admin, scim, sso, invitation, import; every fourth signed in.
		statuses := directory.Statuses()
		sources := directory.MembershipSources()
		for i := range 30 {
			u := directory.User{ID: fmt.Sprintf("u%02d", i), Email: fmt.Sprintf("p%02d@x.example", i), FirstName: "Pat", LastName: fmt.Sprintf("Q%d", i%2), CreatedAt: now, UpdatedAt: now}
			if _, _, err := s.FindOrCreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			for _, acct := range []string{"a", "b"} {
				m := directory.Membership{ID: acct + u.ID, AccountID: acct, UserID: u.ID, Role: directory.RoleMember,
					Status: statuses[i%3], Source: sources[i%5], CreatedAt: now, UpdatedAt: now}
				if acct == "b" {
					m.Status, m.Source = directory.StatusActive, directory.SourceOfAdmin
				}
				if err := s.CreateMembership(ctx, u, m); err != nil {
					t.Fatal(err)
				}
			}
			if i%4 == 0 {
				if err := s.RecordSignIn(ctx, "a", u.ID, "c1", now); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The invited (i%3 == 1): the odd ones' invitation bounced, the
		// even ones' waits. p02 was deactivated before accepting, with
		// an invitation that bounced (not one the filter lists), and p04's
		// invitation to account b bounced (not a's).
		invite := func(acct string, i int, status directory.InvitationStatus) {
			t.Helper()
			id := fmt.Sprintf("%s-inv%02d", acct, i)
			if err := s.CreateInvitation(ctx, directory.Invitation{ID: id, AccountID: acct, UserID: fmt.Sprintf("u%02d", i), Email: fmt.Sprintf("p%02d@x.example", i),
				Role: directory.RoleMember, Status: status, TokenHash: id, TokenNonce: id, Sends: 1, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i < 30; i += 3 {
			status := directory.InvitationPending
			if i%2 == 1 {
				status = directory.InvitationUndeliverable
			}
			invite("a", i, status)
		}
		invite("a", 2, directory.InvitationUndeliverable)
		invite("b", 4, directory.InvitationUndeliverable)
		bounced := func(i int) bool { return i%3 == 1 && i%2 == 1 }
		want := func(keep func(i int) bool) []string {
			var out []string
			for i := range 30 {
				if keep(i) {
					out = append(out, fmt.Sprintf("p%02d@x.example", i))
				}
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    directory.MemberQuery
			want []string
		}{
			{"all", directory.MemberQuery{}, want(func(int) bool { return true })},
			{"invited", directory.MemberQuery{Status: directory.StatusInvited}, want(func(i int) bool { return i%3 == 1 })},
			{"deactivated", directory.MemberQuery{Status: directory.StatusDeactivated}, want(func(i int) bool { return i%3 == 2 })},
			{"from scim", directory.MemberQuery{Source: directory.SourceOfSCIM}, want(func(i int) bool { return i%5 == 2 })},
			{"never signed in", directory.MemberQuery{NeverSignedIn: true}, want(func(i int) bool { return i%4 != 0 })},
			{"invited, never signed in", directory.MemberQuery{Status: directory.StatusInvited, NeverSignedIn: true}, want(func(i int) bool { return i%3 == 1 && i%4 != 0 })},
			{"active from sso", directory.MemberQuery{Status: directory.StatusActive, Source: directory.SourceOfSSO}, want(func(i int) bool { return i%3 == 0 && i%5 == 3 })},
			{"search p1, active", directory.MemberQuery{Search: "p1", Status: directory.StatusActive}, want(func(i int) bool { return i/10 == 1 && i%3 == 0 })},
			{"search q1, never signed in", directory.MemberQuery{Search: "q1", NeverSignedIn: true}, want(func(i int) bool { return i%2 == 1 && i%4 != 0 })},
			{"bounced", directory.MemberQuery{Bounced: true}, want(bounced)},
			{"bounced, from import", directory.MemberQuery{Bounced: true, Source: directory.SourceOfImport}, want(func(i int) bool { return bounced(i) && i%5 == 4 })},
			{"bounced, active", directory.MemberQuery{Bounced: true, Status: directory.StatusActive}, nil},
			{"search p1, bounced", directory.MemberQuery{Search: "p1", Bounced: true}, want(func(i int) bool { return i/10 == 1 && bounced(i) })},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []string
				q := tc.q
				q.Limit = 4
				for {
					page, err := s.FindMembers(ctx, "a", q)
					if err != nil {
						t.Fatal(err)
					}
					for _, m := range page {
						got = append(got, m.User.Email)
						if m.Membership.AccountID != "a" {
							t.Errorf("%s: a member of account %s", m.User.Email, m.Membership.AccountID)
						}
					}
					if len(page) < q.Limit {
						break
					}
					last := page[len(page)-1]
					q.AfterEmailKey, q.AfterUserID = directory.EmailKey(last.User.Email), last.User.ID
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("listed %v; want %v", got, tc.want)
				}
				n, err := s.CountMembers(ctx, "a", tc.q)
				if err != nil || n != len(tc.want) {
					t.Errorf("counted %d (%v); want %d", n, err, len(tc.want))
				}
			})
		}
		// The bounced in the other orders (one page: their cursors are
		// TestMemberSorts's). They share a name, a creation time and no
		// sign-in, so the user id, which follows the address, orders them.
		for _, by := range directory.MemberSorts() {
			page, err := s.FindMembers(ctx, "a", directory.MemberQuery{Bounced: true, Sort: by, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range page {
				got = append(got, m.User.Email)
			}
			if w := want(bounced); !slices.Equal(got, w) {
				t.Errorf("bounced by %s: %v; want %v", by, got, w)
			}
		}
		m, err := s.FindMember(ctx, "a", "au04")
		if err != nil {
			t.Fatal(err)
		}
		if m.User.Email != "p04@x.example" || m.Membership.LastSignInAt == nil || !m.Membership.LastSignInAt.Equal(now) ||
			m.Membership.LastConnectionID != "c1" || m.Membership.Source != directory.SourceOfImport {
			t.Errorf("FindMember: %+v", m)
		}
		if _, err := s.FindMember(ctx, "b", "au04"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("another account's membership id: %v; want NotFound", err)
		}
		if _, err := s.SetMembershipRole(ctx, "a", "u04", directory.RoleAdmin, now); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.FindMembership(ctx, "b", "u04"); m.Role != directory.RoleMember {
			t.Errorf("the role changed in the other account too: %s", m.Role)
		}
	})
}

// TestSignInMigration: 00020 reads each member's last sign-in from the
// audit trail.
func TestSignInMigration(t *testing.T) {
	eachSchemaAt(t, 16, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		early := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		late := early.Add(48 * time.Hour)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`, []any{early, early}},
			{`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u1', 'ada@x.example', 'ada@x.example', 'A', 'L', ?, ?)`, []any{early, early}},
			{`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u2', 'bob@x.example', 'bob@x.example', 'B', 'M', ?, ?)`, []any{early, early}},
			{`INSERT INTO memberships (scim_id, account_id, user_id, role, status, email_key, name_key, last_key, user_name, user_name_key, created_at, updated_at) VALUES ('m1', 'a', 'u1', 'member', 'active', 'ada@x.example', 'a l', 'l', 'ada@x.example', 'ada@x.example', ?, ?)`, []any{early, early}},
			{`INSERT INTO memberships (scim_id, account_id, user_id, role, status, email_key, name_key, last_key, user_name, user_name_key, created_at, updated_at) VALUES ('m2', 'a', 'u2', 'member', 'active', 'bob@x.example', 'b m', 'm', 'bob@x.example', 'bob@x.example', ?, ?)`, []any{early, early}},
			{`INSERT INTO audit_events (id, account_id, actor_source, action, target_type, target_id, data, created_at) VALUES ('e1', 'a', 'user', 'user.signed_in', 'user', 'u1', '{}', ?)`, []any{early}},
			{`INSERT INTO audit_events (id, account_id, actor_source, action, target_type, target_id, data, created_at) VALUES ('e2', 'a', 'user', 'user.signed_in', 'user', 'u1', '{}', ?)`, []any{late}},
			{`INSERT INTO audit_events (id, account_id, actor_source, action, target_type, target_id, data, created_at) VALUES ('e3', 'b', 'user', 'user.signed_in', 'user', 'u2', '{}', ?)`, []any{late}},
		} {
			if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q.sql), q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		ada, err := s.FindMembership(ctx, "a", "u1")
		if err != nil {
			t.Fatal(err)
		}
		if ada.LastSignInAt == nil || !ada.LastSignInAt.Equal(late) {
			t.Errorf("Ada's last sign-in: %v; want %v", ada.LastSignInAt, late)
		}
		// Bob signed in to another account only.
		if bob, err := s.FindMembership(ctx, "a", "u2"); err != nil || bob.LastSignInAt != nil {
			t.Errorf("Bob's last sign-in: %v, %v; want never", bob.LastSignInAt, err)
		}
	})
}
