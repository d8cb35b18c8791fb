package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkWebhookDeliveriesPage measures a page of a webhook's newest
// deliveries (the console's 50, with their event types) as the webhook's
// history grows: a month of a busy account's is hundreds of thousands.
// Another webhook has as many, which the listing must pass over. The cost
// should not grow with the history.
func BenchmarkWebhookDeliveriesPage(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		seeded := 0
		for _, n := range []int{10_000, 200_000} {
			for _, id := range []string{"listed", "other"} {
				if seeded == 0 {
					if err := s.CreateWebhook(ctx, directory.Webhook{ID: id, URL: "https://hooks.example/" + id, Secret: "s", CreatedAt: now, UpdatedAt: now}); err != nil {
						b.Fatal(err)
					}
				}
				seedDeliveries(b, s, id, seeded, n, now)
			}
			seeded = n
			if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprint(n), func(b *testing.B) {
				for b.Loop() {
					ds, err := s.FindWebhookDeliveries(ctx, "listed", 50)
					if err != nil || len(ds) != 50 {
						b.Fatalf("%d deliveries, %v", len(ds), err)
					}
				}
			})
		}
	})
}

// seedDeliveries gives the webhook deliveries from+1 to to, delivered,
// with event ids in the order of seq as real ones (UUIDv7) are.
func seedDeliveries(b *testing.B, s *store.Store, webhookID string, from, to int, at time.Time) {
	b.Helper()
	id := `'e' || lpad(x::text, 12, '0')`
	if s.Dialect() != "postgres" {
		id = `'e' || printf('%012d', x)`
	}
	q := `WITH RECURSIVE g(x) AS (SELECT ? + 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?)
		INSERT INTO webhook_deliveries (id, webhook_id, event_id, seq, subject, status, next_attempt_at, created_at, finished_at)
		SELECT ? || '-' || x, ?, ` + id + `, x, 's' || (x % 5000), 'delivered', ?, ?, ? FROM g`
	if _, err := s.DB().ExecContext(context.Background(), s.DB().Rebind(q), from, to, webhookID, webhookID, at, at, at); err != nil {
		b.Fatal(err)
	}
}
