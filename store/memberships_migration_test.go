package store_test

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestMembershipsDeferredKeysMigration: 00036 rebuilds SQLite's
// memberships with foreign keys checked at commit, keeping every row,
// every index and the SSO group rows that refer to memberships; a
// membership of a missing user still fails (at commit), deleting a user
// still deletes its memberships at once; and the migration goes down and
// up again. On PostgreSQL it changes nothing.
func TestMembershipsDeferredKeysMigration(t *testing.T) {
	eachSchemaAt(t, 35, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		db := s.DB()
		exec := func(q string, args ...any) { t.Helper(); mustExec(t, s.DB(), q, args...) }
		exec(`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`, now, now)
		for _, u := range []string{"ada", "bob", "cy"} {
			exec(`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES (?, ?, ?, 'F', 'L', ?, ?)`,
				u, u+"@acme.example", u+"@acme.example", now, now)
		}
		exec(`INSERT INTO memberships (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, user_name, user_name_key, sso_groups, source, last_sign_in_at, last_connection_id)
			VALUES ('a', 'ada', 'admin', 'active', 'ada@acme.example', 'f l', 'l', ?, ?, 's1', 'ada', 'ada', '["eng"]', 'sso', ?, 'c')`, now, now, now)
		exec(`INSERT INTO memberships (account_id, user_id, role, status, email_key, name_key, last_key, created_at, updated_at, scim_id, user_name, user_name_key)
			VALUES ('a', 'bob', 'member', 'invited', 'bob@acme.example', 'f l', 'l', ?, ?, 's2', 'bob', 'bob')`, now, now)
		exec(`INSERT INTO sso_group_members (account_id, group_key, user_id) VALUES ('a', 'eng', 'ada')`)

		snapshot := func() (rows []map[string]any, indexes []string, groupRows int) {
			t.Helper()
			r, err := db.QueryxContext(ctx, `SELECT * FROM memberships ORDER BY user_id`)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for r.Next() {
				m := map[string]any{}
				if err := r.MapScan(m); err != nil {
					t.Fatal(err)
				}
				rows = append(rows, m)
			}
			indexes = membershipIndexes(t, db, s.Dialect())
			if err := db.GetContext(ctx, &groupRows, `SELECT COUNT(*) FROM sso_group_members`); err != nil {
				t.Fatal(err)
			}
			return rows, indexes, groupRows
		}
		wantRows, wantIndexes, _ := snapshot()
		check := func(when string, deferred bool) {
			t.Helper()
			rows, indexes, groupRows := snapshot()
			if !reflect.DeepEqual(rows, wantRows) {
				t.Errorf("%s: memberships %v; want %v", when, rows, wantRows)
			}
			if !reflect.DeepEqual(indexes, wantIndexes) {
				t.Errorf("%s: indexes %v; want %v", when, indexes, wantIndexes)
			}
			if groupRows != 1 {
				t.Errorf("%s: %d SSO group rows; want 1", when, groupRows)
			}
			if s.Dialect() != "sqlite" {
				return
			}
			var def string
			if err := db.GetContext(ctx, &def, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'memberships'`); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(def, "DEFERRABLE INITIALLY DEFERRED"); deferred && n != 2 || !deferred && n != 0 {
				t.Errorf("%s: memberships is %s", when, def)
			}
			// The migration turned foreign keys off on its own for the
			// rebuild.
			checkForeignKeysOn(t, db, when)
			var broken int
			if err := db.GetContext(ctx, &broken, `SELECT COUNT(*) FROM pragma_foreign_key_check`); err != nil || broken != 0 {
				t.Errorf("%s: %d broken foreign keys, %v", when, broken, err)
			}
		}

		if _, err := s.MigrateTo(ctx, 36); err != nil {
			t.Fatal(err)
		}
		check("after the upgrade", true)

		// A membership of nobody still fails, its transaction with it, and
		// the refused COMMIT leaves no connection of the pool inside it.
		nobody := directory.Member{
			User:       directory.User{ID: "nobody", Email: "n@acme.example", CreatedAt: now},
			Membership: directory.Membership{ID: "s3", AccountID: "a", UserID: "nobody", Role: "member", Status: directory.StatusActive, CreatedAt: now, UpdatedAt: now},
		}
		err := s.Tx(ctx, func(tx directory.Store) error { return tx.CreateMemberships(ctx, []directory.Member{nobody}) })
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "foreign key") {
			t.Errorf("membership of a missing user: %v; want a foreign key error", err)
		}
		// (A read that schema 36 has: FindAccount reads a later column.)
		for i := range 8 {
			if err := s.Tx(ctx, func(tx directory.Store) error { _, err := tx.FindRoles(ctx, "a"); return err }); err != nil {
				t.Fatalf("transaction %d after the refused one: %v", i, err)
			}
		}
		rows, _, _ := snapshot()
		if len(rows) != 2 {
			t.Errorf("%d memberships after the refused one; want 2", len(rows))
		}

		migrateDown(t, s, 35)
		check("after down", false)
		if _, err := s.MigrateTo(ctx, 36); err != nil {
			t.Fatalf("up again: %v", err)
		}
		check("up again", true)

		// Deleting a user deletes its membership and SSO group rows at once,
		// before the transaction commits.
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = 'ada'`); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := tx.GetContext(ctx, &left, `SELECT (SELECT COUNT(*) FROM memberships WHERE user_id = 'ada') + (SELECT COUNT(*) FROM sso_group_members)`); err != nil || left != 0 {
			t.Errorf("rows of a deleted user inside its transaction: %d, %v; want 0", left, err)
		}
	})
}

// membershipIndexes lists memberships' indexes with their definitions.
func membershipIndexes(t *testing.T, db *sqlx.DB, dialect string) []string {
	t.Helper()
	q := `SELECT name || ': ' || COALESCE(sql, '') FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'memberships' ORDER BY name`
	if dialect != "sqlite" {
		q = `SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE tablename = 'memberships' ORDER BY indexname`
	}
	var out []string
	if err := db.Select(&out, q); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFailedSQLiteMigrationLeavesNoConnectionBehind: 00036 runs its own
// transaction with foreign keys off; when it fails half-way (here: the
// table it builds is in the way), no connection of the pool is left
// inside that transaction or without foreign keys, and once the obstacle
// is gone the migration goes through.
func TestFailedSQLiteMigrationLeavesNoConnectionBehind(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.SQLiteURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MigrateTo(ctx, 35); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s.DB(), `CREATE TABLE memberships_new (x TEXT)`)
	if _, err := s.Migrate(ctx); err == nil {
		t.Fatal("the migration went through with its table in the way")
	}
	db := s.DB()
	checkForeignKeysOn(t, db, "after the failed migration")
	// A write goes ahead at once: nothing holds SQLite's write lock.
	writeCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := db.ExecContext(writeCtx, `DROP TABLE memberships_new`); err != nil {
		t.Fatalf("a write after the failed migration: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("the migration once its way is clear: %v", err)
	}
}

// checkForeignKeysOn checks that every connection of the pool, held at
// once (so that none is left out), enforces foreign keys.
func checkForeignKeysOn(t *testing.T, db *sqlx.DB, when string) {
	t.Helper()
	ctx := context.Background()
	var held []*sqlx.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range db.Stats().MaxOpenConnections {
		conn, err := db.Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		var on int
		if err := conn.GetContext(ctx, &on, `PRAGMA foreign_keys`); err != nil || on != 1 {
			t.Errorf("%s: foreign_keys %d, %v", when, on, err)
		}
	}
}
