package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// TestRecoveryByAnOlderReplicaOfARedelivery: during a rolling upgrade
// (or with an `admit` command line of the release before 00044), an
// older replica recovers a webhook whose given-up deliveries include a
// redelivery (detached, given up after its 3 days). The older release's
// recovery knows nothing of detached: it makes the delivery pending, not
// ready, and leaves it detached. It counts as among the person's in
// order, and is sent after the person's current delivery: when every
// statement deciding readiness passed over detached deliveries, it was
// never sent. (A review's finding.)
func TestRecoveryByAnOlderReplicaOfARedelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, "http://127.0.0.1:1/hook", a.ID)
		_, rename := annViaSCIM(t, r.svc, a) // user.created, membership.created
		must[int](t)(r.svc.PublishEvents(ctx, 100))
		deliver := func() []directory.WebhookDelivery {
			ds := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
			var rs []directory.WebhookResult
			for _, d := range ds {
				rs = append(rs, directory.WebhookResult{Delivery: d, Status: 200})
			}
			must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, rs, directory.DeliveryLease{}))
			return ds
		}
		first := deliver() // user.created
		deliver()          // membership.created
		// An operator sends user.created again; the endpoint refuses it
		// for 3 days, and it is given up.
		must[directory.WebhookDelivery](t)(r.svc.Redeliver(ctx, first[0].ID))
		clk.Add(directory.WebhookGiveUpAfter + time.Hour)
		again := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
		if len(again) != 1 {
			t.Fatalf("claimed %d; want the redelivery", len(again))
		}
		must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: again[0], Status: 422, Err: errRefused}}, directory.DeliveryLease{}))

		// A later change about Ann, being sent.
		rename("Lee-Park")
		must[int](t)(r.svc.PublishEvents(ctx, 100))
		current := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
		if len(current) != 1 {
			t.Fatalf("claimed %d; want the user.updated", len(current))
		}

		// The older release's recovery (its store.RecoverWebhookDeliveries,
		// as of 9a26956); its second step finds Ann's current delivery
		// ready, and makes nothing ready.
		now := clk.Now().UTC().Truncate(time.Microsecond) // as the store writes times
		if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(`UPDATE webhook_deliveries
			SET status = 'pending', ready = FALSE, next_attempt_at = ?, redelivered_at = ?, redelivered_after = attempts, finished_at = NULL, locked_until = NULL
			WHERE webhook_id = ? AND status = 'failed' AND finished_at >= ?
			AND EXISTS (SELECT 1 FROM outbox_messages o WHERE o.id = webhook_deliveries.event_id)`), now, now, w.ID, time.Time{}); err != nil {
			t.Fatal(err)
		}

		// The newer replicas deliver Ann's current event, and sweep.
		must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: current[0], Status: 200}}, directory.DeliveryLease{}))
		for range 2 {
			must[int64](t)(r.svc.SweepEvents(ctx, 0))
		}
		claimed := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
		if len(claimed) != 1 || claimed[0].ID != first[0].ID {
			var state []string
			for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 10)) {
				state = append(state, string(d.Status)+map[bool]string{true: "/ready", false: ""}[d.Ready]+" "+d.Waiting(w, clk.Now()))
			}
			t.Errorf("after the person's current delivery and two sweeps, a claim takes %d; want the recovered redelivery (deliveries: %q)", len(claimed), state)
		}
	})
}

// TestTwoRedeliveriesRecordedTogetherLeaseTheNextOnce: a redelivery is
// sent beside the person's deliveries, so a person can have several in
// flight: here two redeliveries of Ann's old events, sent while her
// pending user.updated waits with none of hers ready (as a recovery cut
// short leaves it until the next look). Two replicas record the two
// redeliveries at the same moment (recorders take the event sequence FOR
// SHARE, side by side); each finds the user.updated first and not ready.
// It is leased once: when the second's update, after waiting for the
// first's row lock, checked only that it was still pending, both workers
// sent it at once. PostgreSQL only. (A review's finding.)
func TestTwoRedeliveriesRecordedTogetherLeaseTheNextOnce(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s1, s2 := openStore(t, url), openStore(t, url)
	clk := newClock()
	r1, r2 := newRig(t, s1, clk, 0), newRig(t, s2, clk, 0)
	a := mustAccount(t, r1.svc, "acme", "acme.example")
	w, _ := r1.webhook(t, "http://127.0.0.1:1/hook", a.ID)
	_, rename := annViaSCIM(t, r1.svc, a) // user.created, membership.created
	must[int](t)(r1.svc.PublishEvents(ctx, 100))
	var old []directory.WebhookDelivery
	for range 2 {
		ds := must[[]directory.WebhookDelivery](t)(r1.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
		must[[]directory.WebhookDelivery](t)(r1.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: ds[0], Status: 200}}, directory.DeliveryLease{}))
		old = append(old, ds[0])
	}
	// Ann's next event, left waiting with none of hers ready.
	rename("Lee-Park")
	must[int](t)(r1.svc.PublishEvents(ctx, 100))
	if _, err := s1.DB().Exec(`UPDATE webhook_deliveries SET ready = FALSE WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	// An operator sends both old events again.
	for _, d := range old {
		must[directory.WebhookDelivery](t)(r1.svc.Redeliver(ctx, d.ID))
	}
	must[time.Time](t)(s1.MarkWebhookFailing(ctx, w.ID, clk.Now())) // each recorder clears it, after its makeReady
	both := must[[]directory.WebhookDelivery](t)(r1.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
	if len(both) != 2 {
		t.Fatalf("claimed %d; want the two redeliveries", len(both))
	}

	release := lockWebhookRow(t, s1, w.ID)
	leased := make(chan []directory.WebhookDelivery, 2)
	for i, r := range []*rig{r1, r2} {
		go func() {
			ds, err := r.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: both[i], Status: 200}}, claimAll)
			check(t, err)
			leased <- ds
		}()
	}
	waitLocked(t, s1, 2)
	release()
	n := len(<-leased) + len(<-leased)
	if n != 1 {
		t.Errorf("Ann's user.updated leased to %d workers at once; want 1", n)
	}
}
