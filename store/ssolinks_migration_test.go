package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
)

// TestSSOLinkAttributeMigration: 00053 keeps every link made before it as
// a link by the NameID or sub, and from then on a link is found only under
// the attribute it was made with: the same value read from a NameID and
// from an attribute are two subjects, of two people, and a person still
// holds one link a connection (a new one replaces the old, whatever its
// attribute).
func TestSSOLinkAttributeMigration(t *testing.T) {
	eachSchemaAt(t, 52, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		for _, q := range []string{
			`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`,
			`INSERT INTO connections (id, account_id, protocol, name, domains, jit_mode, settings, created_at, updated_at) VALUES ('c', 'a', 'saml', 'okta', '[]', 'create', '{}', ?, ?)`,
			`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u1', 'ann@example.com', 'ann@example.com', 'A', 'L', ?, ?)`,
			`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u2', 'bob@example.com', 'bob@example.com', 'B', 'M', ?, ?)`,
			`INSERT INTO sso_links (connection_id, subject, user_id, linked_at) VALUES ('c', 'pid', 'u1', ?)`,
		} {
			args := []any{now, now}
			if q[12:21] == "sso_links" {
				args = args[:1]
			}
			if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		find := func(attribute, subject string) string {
			t.Helper()
			u, err := s.FindSSOLink(ctx, "c", attribute, subject)
			if directory.KindOf(err) == directory.NotFound {
				return ""
			}
			if err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		if got := find("", "pid"); got != "u1" {
			t.Fatalf("the link made before: %q, want u1", got)
		}
		if got := find("employeeNumber", "pid"); got != "" {
			t.Errorf("an attribute's pid found %q; want no one", got)
		}
		if err := s.LinkSSOSubject(ctx, "c", "employeeNumber", "pid", "u2", now); err != nil {
			t.Fatal(err)
		}
		if a, b := find("", "pid"), find("employeeNumber", "pid"); a != "u1" || b != "u2" {
			t.Errorf("pid by NameID is %q, by attribute %q; want u1 and u2", a, b)
		}
		// u1's link by an attribute replaces the NameID's.
		if err := s.LinkSSOSubject(ctx, "c", "employeeNumber", "1001", "u1", now); err != nil {
			t.Fatal(err)
		}
		if a, b := find("", "pid"), find("employeeNumber", "1001"); a != "" || b != "u1" {
			t.Errorf("after u1's new link: by NameID %q, by attribute %q; want none and u1", a, b)
		}
	})
}

// TestSSOLinkAttributeCaseMigration: 00056 folds the attribute of every
// link to lower case, as the code now looks links up, so that nobody
// linked before it is lost; where a subject was linked under two spellings
// of one attribute, the link made last stays. Links by the NameID and
// Entra ID's (already lower-case) attribute are left as they were.
func TestSSOLinkAttributeCaseMigration(t *testing.T) {
	eachSchemaAt(t, 55, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`, now, now)
		exec(`INSERT INTO connections (id, account_id, protocol, name, domains, jit_mode, settings, created_at, updated_at) VALUES ('c', 'a', 'saml', 'okta', '[]', 'create', '{}', ?, ?)`, now, now)
		for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
			exec(`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES (?, ?, ?, 'A', 'L', ?, ?)`, u, u+"@example.com", u+"@example.com", now, now)
		}
		link := func(attribute, subject, user string, at time.Time) {
			exec(`INSERT INTO sso_links (connection_id, subject_attribute, subject, user_id, linked_at) VALUES ('c', ?, ?, ?, ?)`, attribute, subject, user, at)
		}
		link("employeeNumber", "1001", "u1", now)
		link("EmployeeNumber", "1002", "u2", now.Add(-time.Hour)) // older: goes
		link("employeenumber", "1002", "u3", now)
		link("", "pid-Ü", "u4", now)
		const entra = "http://schemas.microsoft.com/identity/claims/tenantid http://schemas.microsoft.com/identity/claims/objectidentifier"
		link(entra, "t/o", "u5", now)
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ attribute, subject, want string }{
			{"employeenumber", "1001", "u1"},
			{"employeenumber", "1002", "u3"},
			{"", "pid-Ü", "u4"},
			{entra, "t/o", "u5"},
		} {
			u, err := s.FindSSOLink(ctx, "c", tc.attribute, tc.subject)
			if err != nil || u.ID != tc.want {
				t.Errorf("%q %q: %q, %v; want %s", tc.attribute, tc.subject, u.ID, err, tc.want)
			}
		}
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM sso_links`); err != nil || n != 4 {
			t.Errorf("%d links, %v; want 4 (the older spelling of 1002's gone)", n, err)
		}
	})
}
