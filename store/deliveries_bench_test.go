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

// BenchmarkRecoverWebhook measures recovering a webhook's given-up
// deliveries (directory.Service.RecoverWebhook's two steps): a quarter of
// 100,000 given up, of 5,000 people. It reports the longest a publisher
// waited for the event sequence meanwhile, as publishers must go on.
func BenchmarkRecoverWebhook(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		db := s.DB()
		now := time.Now().UTC().Truncate(time.Millisecond)
		if err := s.CreateWebhook(ctx, directory.Webhook{ID: "recovered", URL: "https://hooks.example/recovered", Secret: "s", CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		const n = 100_000
		seedDeliveries(b, s, "recovered", 0, n, now)
		// Their events are kept (a recovery sends none whose event was swept).
		if _, err := db.ExecContext(ctx, `INSERT INTO outbox_messages (id, account_id, topic, payload, created_at, available_at, delivered_at, seq, subject)
			SELECT event_id, 'acc', 'user.updated', '{}', created_at, created_at, created_at, seq, subject FROM webhook_deliveries`); err != nil {
			b.Fatal(err)
		}
		giveUp := db.Rebind(`UPDATE webhook_deliveries SET status = 'failed', ready = FALSE, finished_at = ? WHERE seq % 4 = 0`)
		var worst time.Duration
		for b.Loop() {
			b.StopTimer()
			if _, err := db.ExecContext(ctx, giveUp, now); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			stop, waited := make(chan struct{}), make(chan time.Duration)
			go func() { waited <- publisherWaits(ctx, s, stop) }()
			b.StartTimer()
			subjects, err := s.RecoverWebhookDeliveries(ctx, "recovered", time.Time{}, now)
			if err != nil || len(subjects) != n/4 {
				b.Fatalf("%d recovered, %v", len(subjects), err)
			}
			if err := s.MakeDeliveriesReady(ctx, "recovered", slices.Compact(slices.Sorted(slices.Values(subjects)))); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			close(stop)
			worst = max(worst, <-waited)
			b.StartTimer()
		}
		b.ReportMetric(float64(worst.Microseconds())/1000, "worst-publisher-wait-ms")
	})
}

// publisherWaits takes the event sequence's lock as a publisher does,
// every 5 ms until stop, and returns the longest it waited.
func publisherWaits(ctx context.Context, s *store.Store, stop <-chan struct{}) time.Duration {
	var worst time.Duration
	for {
		select {
		case <-stop:
			return worst
		case <-time.After(5 * time.Millisecond):
		}
		start := time.Now()
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			continue
		}
		_, _ = tx.ExecContext(ctx, `UPDATE event_sequence SET last = last WHERE id = 1`)
		_ = tx.Rollback()
		worst = max(worst, time.Since(start))
	}
}

// BenchmarkFindStrandedSubjects measures the worker's hourly look for
// deliveries that wait for nothing, with none to find, as its pending
// deliveries grow: a receiver down for days behind a busy account, each
// of 5,000 people's first delivery ready and the rest waiting for it.
func BenchmarkFindStrandedSubjects(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		if err := s.CreateWebhook(ctx, directory.Webhook{ID: "down", URL: "https://hooks.example/down", Secret: "s", CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		seeded := 0
		for _, n := range []int{10_000, 200_000} {
			seedDeliveries(b, s, "down", seeded, n, now)
			seeded = n
			if _, err := s.DB().ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', finished_at = NULL, ready = (seq <= 5000)`); err != nil {
				b.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprint(n), func(b *testing.B) {
				for b.Loop() {
					stranded, err := s.FindStrandedSubjects(ctx)
					if err != nil || len(stranded) != 0 {
						b.Fatalf("%d webhooks with stranded deliveries, %v", len(stranded), err)
					}
				}
			})
		}
	})
}

// BenchmarkRecordAfterBurst measures recording 200 deliveries (each the
// first of its person's, whose next is then made ready) just after a
// burst of 100,000 pending deliveries of 5,000 people to the webhook, on
// a table whose statistics were read before the burst ("stale", as until
// PostgreSQL's autovacuum analyzes it again, which on a large table can
// take hours) and after it. Its cost should not grow with the burst.
func BenchmarkRecordAfterBurst(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		db := s.DB()
		now := time.Now().UTC().Truncate(time.Millisecond)
		for _, id := range []string{"history", "burst"} {
			if err := s.CreateWebhook(ctx, directory.Webhook{ID: id, URL: "https://hooks.example/" + id, Secret: "s", CreatedAt: now, UpdatedAt: now}); err != nil {
				b.Fatal(err)
			}
		}
		seedDeliveries(b, s, "history", 0, 200_000, now)
		for _, stats := range []string{"stale", "analyzed"} {
			if _, err := db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = 'burst'`); err != nil {
				b.Fatal(err)
			}
			if stats == "stale" {
				if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			// Each person's first delivery is ready, the rest wait for it.
			seedDeliveries(b, s, "burst", 200_000, 300_000, now)
			if _, err := db.ExecContext(ctx, `UPDATE webhook_deliveries SET status = 'pending', finished_at = NULL, ready = (seq <= 205000) WHERE webhook_id = 'burst'`); err != nil {
				b.Fatal(err)
			}
			if stats == "analyzed" {
				if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(stats, func(b *testing.B) {
				next := int64(200_000) // the seq of the last delivery recorded
				for b.Loop() {
					b.StopTimer()
					var ds []directory.WebhookDelivery
					var rows []struct {
						ID      string `db:"id"`
						Subject string `db:"subject"`
					}
					if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT id, subject FROM webhook_deliveries
						WHERE webhook_id = 'burst' AND ready AND status = 'pending' AND seq > ? ORDER BY seq LIMIT 200`), next); err != nil || len(rows) != 200 {
						b.Fatalf("%d ready deliveries, %v", len(rows), err)
					}
					for _, r := range rows {
						ds = append(ds, directory.WebhookDelivery{ID: r.ID, WebhookID: "burst", Subject: r.Subject,
							Status: directory.DeliveryDelivered, LastStatus: 204, FinishedAt: &now})
					}
					next += 200
					b.StartTimer()
					if _, err := s.FinishWebhookDeliveries(ctx, ds, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}
