package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
)

// TestHandoffSessionsWithoutHostMigration: 00035 ends the hand-off
// sessions 00031 gave no host (forward-auth would take them for any app's
// host), and keeps every other session.
func TestHandoffSessionsWithoutHostMigration(t *testing.T) {
	eachSchemaAt(t, 34, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		db := s.DB()
		for _, q := range []string{
			`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`,
			`INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at) VALUES ('u', 'ada@acme.example', 'ada@acme.example', 'Ada', 'L', ?, ?)`,
		} {
			if _, err := db.ExecContext(ctx, db.Rebind(q), now, now); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for _, r := range []struct{ id, family, host string }{{"own", "", ""}, {"old", "own", ""}, {"new", "own", "wiki.example"}} {
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO sessions (id_hash, user_id, account_id, family_hash, host, method, created_at, last_seen_at, expires_at) VALUES (?, 'u', 'a', ?, ?, 'password', ?, ?, ?)`),
				r.id, r.family, r.host, now, now, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var left []string
		if err := db.SelectContext(ctx, &left, `SELECT id_hash FROM sessions ORDER BY id_hash`); err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || left[0] != "new" || left[1] != "own" {
			t.Errorf("sessions after the upgrade: %v; want new and own", left)
		}
	})
}
