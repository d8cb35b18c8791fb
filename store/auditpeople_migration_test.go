package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAuditPeopleMigrationLetsWritesGoOn: on PostgreSQL, 00050 builds its
// indexes of audit_events beside replicas that keep writing audit events
// (admit migrate runs while the old release serves). A plain CREATE INDEX
// waits for the transactions writing the table and makes every write
// after it wait in turn: each directory change of every replica stood
// still for as long as the build took.
func TestAuditPeopleMigrationLetsWritesGoOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.EmptyPostgresURL(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.MigrateTo(ctx, 49); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO audit_events (id, account_id, actor_source, actor_id, actor_name, action, target_type, target_id, data, created_at)
		VALUES ($1, 'a', 'scim', 'tok', 'okta', 'user.updated', 'user', 'u1', '{}', now())`
	// A replica's change in flight when the migration starts.
	inFlight, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inFlight.Rollback()
	if _, err := inFlight.ExecContext(ctx, insert, "e1"); err != nil {
		t.Fatal(err)
	}
	migrated := make(chan error, 1)
	go func() { _, err := s.Migrate(ctx); migrated <- err }()
	waiting := false
	for range 100 {
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX%audit_events%' AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if waiting = n > 0; waiting {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !waiting {
		t.Fatal("the migration's index build never waited for the change in flight")
	}
	// The next change of another replica goes through meanwhile.
	next, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := s.DB().ExecContext(next, insert, "e2"); err != nil {
		t.Fatalf("a write while the index is built: %v", err)
	}
	if err := inFlight.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	var valid int
	if err := s.DB().GetContext(ctx, &valid, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname IN ('audit_events_target', 'audit_events_actor') AND i.indisvalid`); err != nil || valid != 2 {
		t.Fatalf("%d valid indexes, %v; want 2", valid, err)
	}
}
