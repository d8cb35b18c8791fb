package events_test

// Delivery order and stalls across replicas, sweeps, redeliveries and
// recoveries.

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// annViaSCIM has an identity provider create Ann Lee in a over SCIM
// (user.created, membership.created); rename gives her another family
// name the same way (user.updated).
func annViaSCIM(t *testing.T, svc *directory.Service, a directory.Account) (u directory.SCIMUser, rename func(last string)) {
	t.Helper()
	ctx := context.Background()
	_, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
	check(t, err)
	email := "ann@acme.example"
	in := func(last string) directory.SCIMUserInput {
		return directory.SCIMUserInput{Email: email, Active: true, Profile: directory.SCIMProfile{UserName: email, GivenName: "Ann", FamilyName: last}}
	}
	u = must[directory.SCIMUser](t)(svc.CreateSCIMUser(ctx, a.ID, tok, in("Lee")))
	return u, func(last string) {
		t.Helper()
		must[directory.SCIMUser](t)(svc.ReplaceSCIMUser(ctx, a.ID, tok, u.Membership.ID, in(last), directory.IfVersion{}))
	}
}

// giveUp makes every delivery of the webhook given up, as three days of
// refusals would: claimed and recorded as refused after the clock passed
// WebhookGiveUpAfter (each recorded one makes the person's next ready).
func giveUp(t *testing.T, r *rig, webhookID string) {
	t.Helper()
	ctx := context.Background()
	r.clk.Add(directory.WebhookGiveUpAfter + time.Hour)
	for range 20 {
		ds := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
		if len(ds) == 0 {
			break
		}
		var rs []directory.WebhookResult
		for _, d := range ds {
			rs = append(rs, directory.WebhookResult{Delivery: d, Status: 422, Err: errRefused})
		}
		must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, rs, directory.DeliveryLease{}))
	}
	for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, webhookID, 100)) {
		if d.Status != directory.DeliveryFailed {
			t.Fatalf("delivery %s is %s; want every one given up", d.ID, d.Status)
		}
	}
}

var errRefused = errorString("the endpoint answered 422")

type errorString string

func (e errorString) Error() string { return string(e) }

// interruptedBeforeReady is the store of an `admit webhook recover` whose
// operator pressed Ctrl-C (or a console request whose client left) just
// as the first step had committed.
type interruptedBeforeReady struct {
	*storeT
	cancel context.CancelFunc
}

func (s interruptedBeforeReady) MakeDeliveriesReady(ctx context.Context, webhookID string, subjects []string) error {
	s.cancel()
	return s.storeT.MakeDeliveriesReady(ctx, webhookID, subjects)
}

// TestRecoveryFinishesWhenItsCallerLeaves: a recovery whose caller left
// just as its first step (making the given-up deliveries pending, none
// ready) committed still makes them ready: cut short, it left the person's
// recovered events, and every later one queued behind them, waiting for
// nothing. (A review's finding.)
func TestRecoveryFinishesWhenItsCallerLeaves(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID)
		_, rename := annViaSCIM(t, r.svc, a)
		must[int](t)(r.svc.PublishEvents(ctx, 100))
		giveUp(t, r, w.ID)

		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		recovering := directory.NewService(directory.Config{Store: interruptedBeforeReady{s, cancel}, Hasher: fastHasher(), Now: clk.Now})
		if n, err := recovering.RecoverWebhook(rctx, operator, w.ID, time.Time{}); n != 2 || err != nil {
			t.Fatalf("recovered %d, %v; want the person's 2", n, err)
		}
		// The recovery made the first ready, before any worker's sweep.
		ready := 0
		for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 100)) {
			if d.Status == directory.DeliveryPending && d.Ready {
				ready++
			}
		}
		if ready != 1 {
			t.Fatalf("%d of the recovered deliveries ready; want the first", ready)
		}
		r.start(t)
		// A later change about the person.
		rename("Lee-Park")
		waitFor(t, "the recovered events and the later one", 10*time.Second, func() bool { return len(rc.distinct()) == 3 })
	})
}

// lockWebhookRow holds the webhook's row (as a rotation or an enable
// would, for longer) until the returned func is called; it is used to
// hold recorders after their makeReady and before their commit.
func lockWebhookRow(t *testing.T, s *storeT, id string) (release func()) {
	t.Helper()
	tx, err := s.DB().Beginx()
	check(t, err)
	if _, err := tx.Exec(`SELECT id FROM webhooks WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	return func() { check(t, tx.Commit()) }
}

// waitLocked waits until n sessions of the test's database wait for a lock.
func waitLocked(t *testing.T, s *storeT, n int) {
	t.Helper()
	waitFor(t, "sessions waiting for a lock", 10*time.Second, func() bool {
		var k int
		check(t, s.DB().Get(&k, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))
		return k >= n
	})
}

// TestRedeliveryRecordedBesideThePersonsCurrentOne: a redelivery is sent
// beside the person's current delivery, and two replicas record the two
// successes at the same time. The person's next delivery is made ready:
// when a redelivery joined the person's deliveries in order, each
// recorder read the other's as still pending and ready (uncommitted), and
// neither made the next one ready. PostgreSQL only (SQLite's writers take
// turns). The webhook row held here widens the window between the
// recorders' reads and commits. (A review's finding.)
func TestRedeliveryRecordedBesideThePersonsCurrentOne(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s1, s2 := openStore(t, url), openStore(t, url)
	clk := newClock()
	r1, r2 := newRig(t, s1, clk, 0), newRig(t, s2, clk, 0)
	a := mustAccount(t, r1.svc, "acme", "acme.example")
	w, _ := r1.webhook(t, "http://127.0.0.1:1/hook", a.ID)
	_, rename := annViaSCIM(t, r1.svc, a) // user.created, membership.created
	must[int](t)(r1.svc.PublishEvents(ctx, 100))
	first := must[[]directory.WebhookDelivery](t)(r1.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
	if len(first) != 1 {
		t.Fatalf("claimed %d; want the person's first", len(first))
	}
	must[[]directory.WebhookDelivery](t)(r1.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: first[0], Status: 200}}, directory.DeliveryLease{}))
	// A later change about them: queued behind the second, not ready.
	rename("Lee-Park")
	must[int](t)(r1.svc.PublishEvents(ctx, 100))
	// An operator sends the first again.
	must[directory.WebhookDelivery](t)(r1.svc.Redeliver(ctx, first[0].ID))
	// The endpoint had failed lately (so each recorder also clears that).
	must[time.Time](t)(s1.MarkWebhookFailing(ctx, w.ID, clk.Now()))
	both := must[[]directory.WebhookDelivery](t)(r1.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
	if len(both) != 2 {
		t.Fatalf("claimed %d; want the redelivery and the person's second event", len(both))
	}

	release := lockWebhookRow(t, s1, w.ID)
	errs := make(chan error, 2)
	for i, r := range []*rig{r1, r2} { // each replica records the one it sent
		go func() {
			_, err := r.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: both[i], Status: 200}}, directory.DeliveryLease{})
			errs <- err
		}()
	}
	waitLocked(t, s1, 2)
	release()
	check(t, <-errs)
	check(t, <-errs)

	var pending []directory.WebhookDelivery
	for _, d := range must[[]directory.WebhookDelivery](t)(r1.svc.WebhookDeliveries(ctx, w.ID, 100)) {
		if d.Status == directory.DeliveryPending {
			pending = append(pending, d)
		}
	}
	if len(pending) != 1 {
		t.Fatalf("%d pending; want the third event's", len(pending))
	}
	claimed := must[[]directory.WebhookDelivery](t)(r1.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
	if !pending[0].Ready || len(claimed) != 1 {
		t.Errorf("after both were delivered, the person's next delivery is ready=%v and a claim takes %d; want it ready and claimed", pending[0].Ready, len(claimed))
	}
}

// TestSweepBesidePublisher: an endpoint disabled for more than the
// retention keeps its deliveries queued, and the sweep deletes the
// oldest, among them a person's ready one. A publisher that has just read
// the person as having a pending delivery (the one being swept) queues
// their new delivery behind it, not ready. The sweep then finds that
// delivery waiting for nothing, and queues it: when it looked without the
// event sequence's lock, it could not see the publisher's uncommitted row,
// and the person's events never went. PostgreSQL only. The webhook row
// held here holds the publisher between its read of what is pending and
// its insert. (A review's finding.)
func TestSweepBesidePublisher(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	s := openStore(t, url)
	clk := newClock()
	r := newRig(t, s, clk, 0)
	a := mustAccount(t, r.svc, "acme", "acme.example")
	w, _ := r.webhook(t, "http://127.0.0.1:1/hook", a.ID)
	_, rename := annViaSCIM(t, r.svc, a)
	must[int](t)(r.svc.PublishEvents(ctx, 100))
	if _, err := s.DisableWebhook(ctx, w.ID, "failed for a day", clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Add(directory.EventRetention + time.Hour)
	rename("Lee-Park")

	release := lockWebhookRow(t, s, w.ID)
	published := make(chan error, 1)
	go func() { _, err := r.svc.PublishEvents(ctx, 100); published <- err }()
	waitLocked(t, s, 1) // the publisher read what is pending, and waits to insert
	swept := make(chan error, 1)
	go func() { _, err := r.svc.SweepEvents(ctx, 0); swept <- err }()
	// The sweep deleted the old delivery, and waits for the publisher
	// to look for those left waiting.
	waitLocked(t, s, 2)
	release()
	check(t, <-published)
	check(t, <-swept)

	must[directory.Webhook](t)(r.svc.EnableWebhook(ctx, operator, w.ID))
	ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 100))
	claimed := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
	if len(ds) != 1 || !ds[0].Ready || len(claimed) != 1 {
		t.Errorf("the person's new delivery after the sweep: %d kept, ready=%v, %d claimed; want it ready and claimed once the endpoint is enabled", len(ds), len(ds) == 1 && ds[0].Ready, len(claimed))
	}
}

// TestLaterEventsDoNotWaitForARedelivery: an operator's resend of an old
// event is sent on its own. When it joined the person's deliveries in
// order, an endpoint that now refused the old event (stale, to the
// receiver) held up every later event about the person for the 3 days it
// was retried. (A review's finding.)
func TestLaterEventsDoNotWaitForARedelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID)
		_, rename := annViaSCIM(t, r.svc, a)
		r.start(t)
		waitFor(t, "the person's two events", 10*time.Second, func() bool { return len(rc.accepted()) == 2 })
		ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 10))
		old := ds[len(ds)-1] // the oldest: user.created
		rc.setAnswer(func(got received) int {
			if got.ID == old.EventID {
				return 422 // stale now, to the receiver
			}
			return 204
		})
		must[directory.WebhookDelivery](t)(r.svc.Redeliver(ctx, old.ID))
		waitFor(t, "the redelivery refused", 10*time.Second, func() bool { return len(rc.all()) >= 3 })
		rename("Lee-Park") // user.updated
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && len(rc.accepted()) < 3 {
			r.retryNow(t, w.ID) // an hour of retries of the redelivery, in a few seconds
			clk.Add(5 * time.Minute)
			time.Sleep(30 * time.Millisecond)
		}
		if n := len(rc.accepted()); n < 3 {
			var state []string
			for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 10)) {
				state = append(state, string(d.Status)+map[bool]string{true: "/ready", false: ""}[d.Ready]+" "+d.Waiting(w, clk.Now()))
			}
			t.Errorf("the person's later event not delivered while their redelivered old event is refused: %v", state)
		}
	})
}
