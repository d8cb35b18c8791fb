package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
)

// TestWebhooksMigration: the outbox messages written before events had a
// shape no one read; the upgrade removes them rather than publish them,
// and the migration goes down and up again.
func TestWebhooksMigration(t *testing.T) {
	eachSchemaAt(t, 16, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(`INSERT INTO outbox_messages (id, account_id, topic, payload, created_at, available_at)
			VALUES ('old', 'a', 'user.signed_in', '{"event_id":"x","action":"user.signed_in"}', ?, ?)`), now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM outbox_messages`); err != nil || n != 0 {
			t.Errorf("outbox after the upgrade: %d rows, %v; want the old message gone", n, err)
		}
		if n, _, err := s.PublishEvents(ctx, now, 10, func() string { return "d" }, nil); err != nil || n != 0 {
			t.Errorf("publish after the upgrade: %d, %v", n, err)
		}
		migrateDown(t, s, 16)
		if _, err := s.DB().ExecContext(ctx, `SELECT 1 FROM webhooks`); err == nil {
			t.Error("down kept webhooks")
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}
