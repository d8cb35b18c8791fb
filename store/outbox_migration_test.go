package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
)

// TestOutboxWrittenOrderMigration: 00043 numbers events for the feed in
// the order they were written, and events written after it follow those
// written before. On PostgreSQL, those not yet published when it runs
// keep the order they had (by time: nothing else tells); SQLite's rowid
// tells the order they were written in.
func TestOutboxWrittenOrderMigration(t *testing.T) {
	eachSchemaAt(t, 42, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		db := s.DB()
		base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		insert := func(id string, at time.Time, published bool) {
			t.Helper()
			var delivered any
			if published {
				delivered = at
			}
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO outbox_messages (id, account_id, topic, payload, created_at, available_at, delivered_at, subject)
				VALUES (?, 'acc', 'user.updated', '{}', ?, ?, ?, 'u')`), id, at, at, delivered); err != nil {
				t.Fatal(err)
			}
		}
		// Inserted out of their order in time, as two replicas could.
		insert("c", base.Add(3*time.Second), false)
		insert("a", base.Add(1*time.Second), false)
		insert("old", base, true)
		insert("b", base.Add(2*time.Second), false)
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		insert("d", base, false) // written after, though stamped earlier
		n := 0
		if _, _, err := s.PublishEvents(ctx, base.Add(time.Minute), 10, func() string { n++; return fmt.Sprint("id", n) }, nil); err != nil {
			t.Fatal(err)
		}
		var order []string
		if err := db.SelectContext(ctx, &order, `SELECT id FROM outbox_messages WHERE seq IS NOT NULL ORDER BY seq`); err != nil {
			t.Fatal(err)
		}
		want := "[a b c d]"
		if s.Dialect() != "postgres" {
			want = "[c a b d]"
		}
		if fmt.Sprint(order) != want {
			t.Errorf("published in the order %v; want %s", order, want)
		}
	})
}
