package events_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/store/storetest"
)

// countingDirectory counts the worker's claims that took something and
// its records, the transactions delivery costs the database, and the
// deliveries claimed rather than leased as they became ready.
type countingDirectory struct {
	events.Directory
	claims, records, claimed atomic.Int64
}

func (c *countingDirectory) ClaimWebhookDeliveries(ctx context.Context, limit int, lease directory.DeliveryLease) ([]directory.WebhookDelivery, error) {
	ds, err := c.Directory.ClaimWebhookDeliveries(ctx, limit, lease)
	if len(ds) > 0 {
		c.claims.Add(1)
		c.claimed.Add(int64(len(ds)))
	}
	return ds, err
}

func (c *countingDirectory) RecordWebhookResults(ctx context.Context, rs []directory.WebhookResult, lease directory.DeliveryLease) ([]directory.WebhookDelivery, error) {
	c.records.Add(1)
	return c.Directory.RecordWebhookResults(ctx, rs, lease)
}

// TestKeepingUpGathersDeliveries: a worker keeping up with a trickle of
// events (a SCIM client creating people one after another) records about
// once a Pace, many deliveries at a time, rather than once or twice a
// delivery, and leases what it sends as it publishes and records, with
// no claim: those transactions took turns on the database and the cores
// from the SCIM requests themselves.
func TestKeepingUpGathersDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		r.webhook(t, rc.URL, a.ID)
		_, tok, err := r.svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
		check(t, err)
		dir := &countingDirectory{Directory: r.svc}
		const pace = 50 * time.Millisecond
		r.start(t, func(c *events.Config) { c.Directory, c.Pace = dir, pace })

		const people = 100
		start := time.Now()
		for i := range people {
			email := fmt.Sprintf("p%d@acme.example", i)
			if _, err := r.svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Email: email, Active: true,
				Profile: directory.SCIMProfile{UserName: email, GivenName: "P", FamilyName: fmt.Sprint(i)}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		waitFor(t, "every event delivered", 30*time.Second, func() bool { return rc.acceptedCount() >= 2*people })
		// About one round a Pace, and a few more for a burst.
		rounds := int64(time.Since(start)/pace) + 4
		t.Logf("%d claims and %d records for %d deliveries in %d paces", dir.claims.Load(), dir.records.Load(), 2*people, rounds-4)
		if n := dir.claims.Load(); n > rounds {
			t.Errorf("%d claims for %d deliveries in %d paces; want at most %d", n, 2*people, rounds-4, rounds)
		}
		if n := dir.records.Load(); n > rounds {
			t.Errorf("%d records for %d deliveries in %d paces; want at most %d", n, 2*people, rounds-4, rounds)
		}
		// Each delivery was leased as its event was published, or as the
		// person's event before it was recorded: none waited for a claim.
		if n := dir.claimed.Load(); n > 0 {
			t.Errorf("%d of %d deliveries claimed; want every one leased as it became ready", n, 2*people)
		}
	})
}
