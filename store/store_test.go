package store_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestOpenRefusesUnknownURLs(t *testing.T) {
	for _, url := range []string{"", "mysql://x", "sqlite:", "file.db"} {
		if s, err := store.Open(context.Background(), url, slog.New(slog.DiscardHandler)); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded; want an error", url)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		applied, err := s.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Errorf("second Migrate applied %v; want nothing", applied)
		}
		if v, err := s.SchemaVersion(ctx); err != nil || v != newestMigration(t, s.Dialect()) {
			t.Errorf("SchemaVersion = %d, %v; want %d, the newest migration", v, err, newestMigration(t, s.Dialect()))
		}
	})
}

func TestSQLiteSettings(t *testing.T) {
	s := storetest.SQLite(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.DB().Get(&got, "PRAGMA "+pragma); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

func TestSQLiteCreatesItsFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "admit.db")
	s, err := store.Open(context.Background(), "sqlite:"+path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestEmailsAreUniqueCaseInsensitively(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		first, created, err := s.FindOrCreateUser(ctx, directory.User{ID: "u1", Email: "Ada@Example.com", FirstName: "Ada", LastName: "L", CreatedAt: now, UpdatedAt: now})
		if err != nil || !created {
			t.Fatalf("first create: %v, created %v", err, created)
		}
		second, created, err := s.FindOrCreateUser(ctx, directory.User{ID: "u2", Email: "ADA@example.COM", FirstName: "Other", LastName: "X", CreatedAt: now, UpdatedAt: now})
		if err != nil || created || second.ID != first.ID || second.FirstName != "Ada" {
			t.Errorf("second create = %+v, created %v, %v; want the first user back, unchanged", second, created, err)
		}
		if _, err := s.FindUserByEmail(ctx, "ada@EXAMPLE.com"); err != nil {
			t.Errorf("find by other case: %v", err)
		}
		if _, err := s.FindUserByEmail(ctx, "nobody@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("find missing: %v; want NotFound", err)
		}
	})
}

func TestAccountScopedLookupsStayInTheirAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		for _, id := range []string{"a", "b"} {
			if err := s.CreateAccount(ctx, directory.Account{ID: id, Slug: "acct-" + id, Name: id, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		u, _, err := s.FindOrCreateUser(ctx, directory.User{ID: "u1", Email: "x@example.com", FirstName: "X", LastName: "Y", CreatedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateMembership(ctx, u, directory.Membership{AccountID: "a", Role: directory.RoleMember, Status: directory.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindMembership(ctx, "b", u.ID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("account b sees account a's membership: %v", err)
		}
		members, err := s.FindMembers(ctx, "b", directory.MemberQuery{Limit: 10, Search: "x"})
		if err != nil || len(members) != 0 {
			t.Errorf("account b lists %d members, %v; want none", len(members), err)
		}
		if err := s.CreateMembership(ctx, u, directory.Membership{AccountID: "a", Role: directory.RoleMember, Status: directory.StatusActive, CreatedAt: now, UpdatedAt: now}); directory.KindOf(err) != directory.Conflict {
			t.Errorf("duplicate membership: %v; want Conflict", err)
		}
	})
}

func TestMemberListingUsesIndexes(t *testing.T) {
	s := storetest.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := s.CreateAccount(ctx, directory.Account{ID: "a", Slug: "acct", Name: "A", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	storetest.SeedMembers(t, s, "a", "user", 2000)
	var plan []struct {
		ID, Parent, NotUsed int
		Detail              string
	}
	err := s.DB().Select(&plan, `EXPLAIN QUERY PLAN SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE m.account_id = ? AND (m.email_key, m.user_id) > (?, ?) ORDER BY m.email_key, m.user_id LIMIT 50`, "a", "user001000", "")
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, p := range plan {
		details = append(details, p.Detail)
	}
	got := strings.Join(details, "; ")
	if !strings.Contains(got, "memberships_email") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("listing plan %q; want a range scan of memberships_email with no sort", got)
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admit.db")
	s, err := store.Open(context.Background(), "sqlite:"+path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode = %v; want 0600 (it holds password hashes)", filepath.Base(f), perm)
		}
	}
}

// TestDenseSearchPages covers the search path taken when many members match
// (walking the email index) against the count taken the other way.
func TestDenseSearchPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		if err := s.CreateAccount(ctx, directory.Account{ID: "a", Slug: "acct", Name: "A", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		storetest.SeedMembers(t, s, "a", "user", 1500)
		// user000000 … user000999 match "user000"; every seeded Ada matches "ada".
		for _, tc := range []struct {
			search string
			want   int
		}{{"user000", 1000}, {"ada", 150}, {"user0014", 100}} {
			var got []string
			q := directory.MemberQuery{Search: tc.search, Limit: 70}
			for {
				page, err := s.FindMembers(ctx, "a", q)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range page {
					got = append(got, directory.EmailKey(m.User.Email))
				}
				if len(page) < q.Limit {
					break
				}
				last := page[len(page)-1]
				q.AfterEmailKey, q.AfterUserID = directory.EmailKey(last.User.Email), last.User.ID
			}
			n, err := s.CountMembers(ctx, "a", directory.MemberQuery{Search: tc.search})
			if err != nil || n != tc.want || len(got) != tc.want {
				t.Errorf("search %q: listed %d, counted %d (%v); want %d", tc.search, len(got), n, err, tc.want)
			}
			if !slices.IsSorted(got) {
				t.Errorf("search %q: results are not in email order", tc.search)
			}
		}
	})
}

// TestSCIMMigrationUpgradesExistingMembers: memberships made before the
// SCIM columns existed get a SCIM id, and their email as userName and as
// the email SCIM filters match.
func TestSCIMMigrationUpgradesExistingMembers(t *testing.T) {
	eachSchemaAt(t, 5, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		for _, q := range []string{
			`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`,
			`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u1', 'Ada@x.example', 'ada@x.example', 'A', 'L', ?, ?)`,
			`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u2', 'bob@x.example', 'bob@x.example', 'B', 'M', ?, ?)`,
			`INSERT INTO memberships (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at) VALUES ('a', 'u1', 'member', 'active', 'ada@x.example', 'a l', 'l', ?, ?)`,
			`INSERT INTO memberships (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at) VALUES ('a', 'u2', 'member', 'active', 'bob@x.example', 'b m', 'm', ?, ?)`,
		} {
			if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q), now, now); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		page, err := s.FindSCIMUsers(ctx, "a", nil, directory.Position{}, 10)
		if err != nil || len(page) != 2 {
			t.Fatalf("after the upgrade: %d users, %v", len(page), err)
		}
		for _, u := range page {
			if u.Membership.ID == "" || u.Profile.UserName != u.Email {
				t.Errorf("upgraded member %+v; want a SCIM id and the email as userName", u)
			}
		}
		if page[0].Membership.ID == page[1].Membership.ID {
			t.Error("two members got the same SCIM id")
		}
		// 00008: their email is also the one SCIM emails filters match.
		byEmail := &directory.Filter{Op: directory.OpEq, Field: directory.FieldEmail, Value: "ADA@x.example"}
		if n, err := s.CountSCIMUsers(ctx, "a", byEmail); err != nil || n != 1 {
			t.Errorf("emails.value eq after the upgrade: %d, %v; want 1", n, err)
		}
	})
}

// newestMigration is the highest version among the dialect's migration files.
func newestMigration(t testing.TB, dialect string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", dialect, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations for %s: %v", dialect, err)
	}
	var newest int64
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		newest = max(newest, v)
	}
	return newest
}

// TestSigningCertificatesMigrationKeepsConnections: connections made
// before 00013 read afterwards with no fingerprints yet (the first refresh
// takes them from the metadata they hold) and no change recorded.
func TestSigningCertificatesMigrationKeepsConnections(t *testing.T) {
	eachSchemaAt(t, 10, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		for _, q := range []string{
			`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`,
			`INSERT INTO connections (id, account_id, protocol, name, domains, jit_mode, settings, metadata, metadata_url, created_at, updated_at)
					VALUES ('c', 'a', 'saml', 'okta', '[]', 'create', '{}', '<md/>', 'https://idp.example.com/md', ?, ?)`,
		} {
			if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q), now, now); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		c, err := s.FindConnection(ctx, "a", "c")
		if err != nil || c.Metadata != "<md/>" || len(c.SigningCertificates) != 0 || c.SigningCertificatesChangedAt != nil {
			t.Fatalf("after the upgrade: %+v, %v", c, err)
		}
		at := now.Add(time.Minute).Truncate(time.Second)
		c.SigningCertificates, c.SigningCertificatesChangedAt, c.UpdatedAt = []string{strings.Repeat("a", 64)}, &at, at
		if err := s.UpdateConnectionMetadata(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindConnection(ctx, "a", "c")
		if err != nil || len(got.SigningCertificates) != 1 || got.SigningCertificatesChangedAt == nil || !got.SigningCertificatesChangedAt.Equal(at) {
			t.Errorf("saved and read back: %+v, %v", got, err)
		}
	})
}

// TestCredentialsMigrationReadsTheAuditTrail: migration 00012 decides who
// vouches for an existing password from the audit trail. An invitation an
// SSO login marked accepted proves nothing; one the person answered on its
// page, or a completed reset, does; an admin-set password is attributed to
// the account that created the person with it, whatever memberships remain.
func TestCredentialsMigrationReadsTheAuditTrail(t *testing.T) {
	eachSchemaAt(t, 11, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		exec := func(q string, args ...any) { t.Helper(); mustExec(t, s.DB(), q, args...) }
		for _, id := range []string{"evil", "bee"} {
			exec(`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES (?, ?, ?, '{}', '{}', ?, ?)`, id, id, id, now, now)
		}
		for _, u := range []string{"planted", "jit", "invited", "reset"} {
			exec(`INSERT INTO users (id, email, email_key, first_name, last_name, password_hash, created_at, updated_at) VALUES (?, ?, ?, '', '', 'hash', ?, ?)`,
				u, u+"@b.example", u+"@b.example", now, now)
		}
		event := func(account, actor, action, target, data string) {
			exec(`INSERT INTO audit_events (id, account_id, actor_source, actor_id, action, target_type, target_id, data, created_at) VALUES (?, ?, 'cli', ?, ?, 'user', ?, ?, ?)`,
				account+action+target, account, actor, action, target, data, now)
		}
		event("evil", "", "user.created", "planted", `{"password_set": true}`)
		event("bee", "", "membership.activated", "jit", `{}`) // an SSO login answered bee's invitation
		event("bee", "invited", "invitation.accepted", "inv1", `{"new_password": true}`)
		event("bee", "reset", "user.password_reset", "reset", `{}`)
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			id     string
			proven bool
			setBy  string
		}{{"planted", false, "evil"}, {"jit", false, ""}, {"invited", true, ""}, {"reset", true, ""}} {
			u, err := s.FindUser(ctx, want.id)
			if err != nil || u.PasswordProven != want.proven || u.PasswordSetBy != want.setBy {
				t.Errorf("%s: proven %v, set by %q, %v; want %v, %q", want.id, u.PasswordProven, u.PasswordSetBy, err, want.proven, want.setBy)
			}
		}
	})
}

// eachSchemaAt runs fn on a fresh SQLite and PostgreSQL database migrated
// to version only: upgrade tests put old rows in, then migrate the rest.
func eachSchemaAt(t *testing.T, version int64, fn func(t *testing.T, s *store.Store)) {
	for _, tc := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", storetest.SQLiteURL}, {"postgres", storetest.EmptyPostgresURL}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := store.Open(ctx, tc.url(t), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.MigrateTo(ctx, version); err != nil {
				t.Fatal(err)
			}
			fn(t, s)
		})
	}
}

// TestSSOStateMigration: 00014 drops the pending requests (browsers keep
// them now) and splits the login log into verified and unverified
// attempts, the sign-ins already there counting as verified; its Down
// brings the old shape back.
func TestSSOStateMigration(t *testing.T) {
	eachSchemaAt(t, 10, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		for _, q := range []string{
			`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`,
			`INSERT INTO connections (id, account_id, protocol, name, domains, jit_mode, settings, created_at, updated_at) VALUES ('c', 'a', 'saml', 'okta', '[]', 'create', '{}', ?, ?)`,
			`INSERT INTO sso_requests (id, connection_id, browser_hash, return_to, expires_at) VALUES ('r', 'c', 'h', '/', ?) -- ?`,
			`INSERT INTO sso_attempts (id, connection_id, created_at, outcome, reason, reference, email, detail) VALUES ('in', 'c', ?, 'signed in', '', '', '', '{}') -- ?`,
			`INSERT INTO sso_attempts (id, connection_id, created_at, outcome, reason, reference, email, detail) VALUES ('out', 'c', ?, 'refused', '', '', '', '{}') -- ?`,
		} {
			q, args := q, []any{now, now}
			if strings.HasSuffix(q, "-- ?") {
				q, args = strings.TrimSuffix(q, " -- ?"), args[:1]
			}
			if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		all, err := s.FindLoginAttempts(ctx, "c", 10)
		if err != nil || len(all) != 2 {
			t.Fatalf("after the upgrade: %v, %v", all, err)
		}
		for _, a := range all {
			if a.Verified != (a.ID == "in") {
				t.Errorf("attempt %s: verified %v", a.ID, a.Verified)
			}
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT 1 FROM sso_requests`); err == nil {
			t.Error("sso_requests is still there")
		}

		migrateDown(t, s, 13)
		if _, err := s.DB().ExecContext(ctx, `SELECT id, browser_hash, return_to, data, expires_at FROM sso_requests`); err != nil {
			t.Errorf("down did not bring sso_requests back: %v", err)
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT verified FROM sso_attempts`); err == nil {
			t.Error("down kept sso_attempts.verified")
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}

// migrateDown takes s's schema down to version with the migrations in
// this folder (admit itself only goes up).
func migrateDown(t *testing.T, s *store.Store, version int64) {
	t.Helper()
	p, err := goose.NewProvider(gooseDialect(s), s.DB().DB, os.DirFS("migrations/"+s.Dialect()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(context.Background(), version); err != nil {
		t.Fatalf("down to %d: %v", version, err)
	}
}

// mustExec runs one statement written with ? placeholders, or fails the
// test.
func mustExec(t *testing.T, db *sqlx.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), db.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func gooseDialect(s *store.Store) goose.Dialect {
	if s.Dialect() == "sqlite" {
		return goose.DialectSQLite3
	}
	return goose.DialectPostgres
}

// TestActiveOwnersUseTheirIndex: the reads of an account's active owners
// (LockOwners, HasOtherOwner, whose condition this is) search
// memberships_active_owners, not every membership of the account.
func TestActiveOwnersUseTheirIndex(t *testing.T) {
	s := storetest.SQLite(t)
	for _, q := range []string{
		`SELECT user_id FROM memberships m WHERE account_id = ? AND role = 'owner' AND status = 'active' ORDER BY user_id`,
		`SELECT user_id FROM memberships m WHERE account_id = ? AND role = 'owner' AND status = 'active' AND user_id <> ? LIMIT 1`,
	} {
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		if err := s.DB().Select(&plan, `EXPLAIN QUERY PLAN `+q, "a", "u"); err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, p := range plan {
			details = append(details, p.Detail)
		}
		if got := strings.Join(details, "; "); !strings.Contains(got, "memberships_active_owners") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: plan %q; want a search of memberships_active_owners with no sort", q, got)
		}
	}
}
