package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestRotationKeepsOlderSecrets: a rotation during another's overlap
// keeps the older secrets signing until their own time, never longer than
// the new overlap, at most MaxOlderSecrets of them, newest first; one
// with no overlap stops them all. What is kept reads back the same.
func TestRotationKeepsOlderSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		n := 0
		seal := func(string) string { n++; return fmt.Sprint("sealed-", n) }
		w, err := svc.AddWebhook(ctx, directory.Actor{Source: directory.SourceCLI, Name: "op"}, directory.NewWebhook{URL: "https://hooks.example/a"}, seal)
		if err != nil {
			t.Fatal(err)
		}
		rotate := func(overlap time.Duration) directory.Webhook {
			t.Helper()
			if _, err := svc.RotateWebhookSecret(ctx, directory.Actor{Source: directory.SourceCLI, Name: "op"}, w.ID, overlap, seal); err != nil {
				t.Fatal(err)
			}
			got, err := svc.Webhook(ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		older := func(w directory.Webhook) string {
			out := ""
			for _, o := range w.Older {
				out += fmt.Sprintf("%s until +%s; ", o.Sealed, o.Until.Sub(clk.Now()).Round(time.Second))
			}
			return out
		}
		got := rotate(time.Hour) // sealed-1 signs an hour more
		if want := "sealed-1 until +1h0m0s; "; older(got) != want || got.Secret != "sealed-2" {
			t.Errorf("first rotation: %s (current %s); want %s", older(got), got.Secret, want)
		}
		clk.Add(10 * time.Minute)
		got = rotate(24 * time.Hour) // sealed-1 keeps its hour
		if want := "sealed-2 until +24h0m0s; sealed-1 until +50m0s; "; older(got) != want {
			t.Errorf("second: %s; want %s", older(got), want)
		}
		clk.Add(10 * time.Minute)
		got = rotate(30 * time.Minute) // none signs past the new overlap
		if want := "sealed-3 until +30m0s; sealed-2 until +30m0s; sealed-1 until +30m0s; "; older(got) != want {
			t.Errorf("third: %s; want %s", older(got), want)
		}
		got = rotate(30 * time.Minute) // the oldest beyond the bound stops
		if want := "sealed-4 until +30m0s; sealed-3 until +30m0s; sealed-2 until +30m0s; "; older(got) != want {
			t.Errorf("fourth: %s; want %s", older(got), want)
		}
		if until := got.OlderSecretsUntil(clk.Now()); until == nil || until.Sub(clk.Now().Add(30*time.Minute)).Abs() > time.Millisecond {
			t.Errorf("older secrets sign until %v; want in 30 minutes", until)
		}
		got = rotate(0) // a leaked secret: every older one stops now
		if len(got.Older) != 0 || got.OlderSecretsUntil(clk.Now()) != nil || got.Secret != "sealed-6" {
			t.Errorf("with no overlap: %s (current %s); want none but the new one", older(got), got.Secret)
		}
	})
}

// TestRotationByAnEarlierRelease: a release before older secrets were
// kept, rotating beside this one in a rolling upgrade, writes only the
// last secret rotated out and leaves the older ones as they were; they
// sign no longer than that last secret, and not at all when what is kept
// of them is unreadable.
func TestRotationByAnEarlierRelease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		op := directory.Actor{Source: directory.SourceCLI, Name: "op"}
		n := 0
		seal := func(string) string { n++; return fmt.Sprint("sealed-", n) }
		w, err := svc.AddWebhook(ctx, op, directory.NewWebhook{URL: "https://hooks.example/a"}, seal)
		if err != nil {
			t.Fatal(err)
		}
		for _, overlap := range []time.Duration{time.Hour, 24 * time.Hour} {
			if _, err := svc.RotateWebhookSecret(ctx, op, w.ID, overlap, seal); err != nil {
				t.Fatal(err)
			}
		}
		// What the earlier release wrote: the current secret rotated out
		// for its overlap, the older ones untouched.
		earlier := func(secret string, overlap time.Duration) {
			t.Helper()
			db := s.DB()
			if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE webhooks SET secret = ?, previous_secret = (SELECT secret FROM webhooks WHERE id = ?), previous_until = ? WHERE id = ?`),
				secret, w.ID, clk.Now().Add(overlap), w.ID); err != nil {
				t.Fatal(err)
			}
		}
		older := func() string {
			t.Helper()
			got, err := svc.Webhook(ctx, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			out := ""
			for _, o := range got.Older {
				if o.Until.After(clk.Now()) {
					out += fmt.Sprintf("%s until +%s; ", o.Sealed, o.Until.Sub(clk.Now()).Round(time.Second))
				}
			}
			return out
		}
		earlier("sealed-earlier-1", 10*time.Minute) // sealed-2 stops; sealed-1 had an hour
		if want := "sealed-3 until +10m0s; sealed-1 until +10m0s; "; older() != want {
			t.Errorf("after the earlier release's rotation: %s; want %s", older(), want)
		}
		earlier("sealed-earlier-2", 0) // a leaked secret: all stop
		clk.Add(time.Second)
		if got := older(); got != "" {
			t.Errorf("after the earlier release's rotation with no overlap: %s; want none", got)
		}
		earlier("sealed-earlier-3", time.Hour)
		db := s.DB()
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE webhooks SET older_secrets = ? WHERE id = ?`), `[{"Sealed":"sealed-1"`, w.ID); err != nil {
			t.Fatal(err)
		}
		if want := "sealed-earlier-2 until +1h0m0s; "; older() != want {
			t.Errorf("with the older secrets unreadable: %s; want %s", older(), want)
		}
	})
}
