package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/directory/dnstest"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/store/storetest"
)

// TestTwoReplicasDeliverEachEventOnce: two workers, each with its own
// connection pool to one database, deliver every event to a healthy
// receiver exactly once.
func TestTwoReplicasDeliverEachEventOnce(t *testing.T) {
	eachURL(t, func(t *testing.T, url string) {
		clk := newClock()
		one, two := newRig(t, openStore(t, url), clk, 0), newRig(t, openStore(t, url), clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, one.svc, "acme", "acme.example")
		one.webhook(t, rc.URL, a.ID)
		one.start(t)
		two.start(t)
		const people = 150 // two events each: user.created, membership.created
		scimCreates(t, one.svc, a, "p", people)
		want := feed(t, one.svc, a.ID)
		waitFor(t, "every event delivered", 60*time.Second, func() bool { return len(rc.accepted()) >= 2*people })
		time.Sleep(200 * time.Millisecond) // a second copy would come now
		if len(want) < 2*people {
			want = feed(t, one.svc, a.ID)
		}
		count := map[string]int{}
		for _, r := range rc.all() {
			count[r.ID]++
		}
		for _, ev := range want {
			if count[ev.ID] != 1 {
				t.Errorf("event %s (%s) delivered %d times; want once", ev.ID, ev.Type, count[ev.ID])
			}
		}
		if len(count) != 2*people {
			t.Errorf("%d distinct events received; want %d", len(count), 2*people)
		}
		// Each person's user.created came before their membership.created,
		// though the replicas published and recorded at the same time.
		seen := map[string]string{}
		for _, r := range rc.accepted() {
			var ev struct {
				Type string
				Data struct {
					UserID string `json:"user_id"`
				}
			}
			if err := json.Unmarshal(r.Body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type == directory.EventMembershipCreated && seen[ev.Data.UserID] != directory.EventUserCreated {
				t.Errorf("person %s: membership.created before user.created", ev.Data.UserID)
			}
			seen[ev.Data.UserID] = ev.Type
		}
	})
}

// TestReceiverDownReceivesEverythingInPersonOrder: the receiver is down for
// an hour of simulated time while people are created and changed; when it
// comes back it gets every event, and each person's in the order they
// happened.
func TestReceiverDownReceivesEverythingInPersonOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		rc.setAnswer(func(received) int { return 503 })
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID)
		r.start(t)
		_, tok, err := r.svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
		check(t, err)
		for i := range 5 {
			email := fmt.Sprintf("p%d@acme.example", i)
			u := must[directory.SCIMUser](t)(r.svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Email: email, Active: true,
				Profile: directory.SCIMProfile{UserName: email, GivenName: "P", FamilyName: "One"}}))
			for j, active := range []bool{false, true, false} {
				must[directory.SCIMUser](t)(r.svc.ReplaceSCIMUser(ctx, a.ID, tok, u.Membership.ID, directory.SCIMUserInput{Active: active,
					Profile: directory.SCIMProfile{UserName: email, GivenName: "P", FamilyName: fmt.Sprint("Name", j)}}, directory.IfVersion{}))
			}
		}
		waitFor(t, "first attempts", 10*time.Second, func() bool { return len(rc.all()) >= 5 })
		// An hour passes, in steps, with the receiver down: retries back
		// off and fail.
		for range 12 {
			clk.Add(5 * time.Minute)
			time.Sleep(30 * time.Millisecond)
		}
		if n := len(rc.accepted()); n != 0 {
			t.Fatalf("%d accepted while down", n)
		}
		hook := must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID))
		if hook.DisabledAt != nil || hook.FailingSince == nil {
			t.Fatalf("after an hour down: disabled %v, failing since %v; want failing, not disabled", hook.DisabledAt, hook.FailingSince)
		}
		// Each person's first event is retried; the others say they wait
		// for it, not a time long past.
		tried := map[string]int{}
		for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 100)) {
			switch waiting := d.Waiting(hook, clk.Now()); waiting {
			case "":
				tried[d.Subject]++
			case "waits for an earlier event about the same person":
			default:
				t.Errorf("delivery %s: %q", d.ID, waiting)
			}
		}
		if len(tried) != 5 || slices.ContainsFunc(slices.Collect(maps.Values(tried)), func(n int) bool { return n != 1 }) {
			t.Errorf("deliveries not waiting, by person: %v; want one for each of the 5", tried)
		}
		rc.setAnswer(nil)
		// Every event published first (under load the worker may still
		// be at it), or the feed read here lacks the newest.
		waitFor(t, "every event published", 10*time.Second, func() bool {
			return must[*time.Time](t)(r.svc.OldestUnpublishedEvent(ctx)) == nil
		})
		want := feed(t, r.svc, a.ID)
		// The clock jumps past the leases of attempts in flight too, so
		// an event may come twice (at least once); each counts once.
		waitFor(t, "every event after the receiver is back", 30*time.Second, func() bool {
			r.retryNow(t, w.ID)
			return len(rc.distinct()) >= len(want)
		})
		// Per person, the order of the feed.
		order := func(evs []string) map[string][]string {
			out := map[string][]string{}
			for _, b := range evs {
				var ev struct {
					ID   string
					Data struct {
						UserID string `json:"user_id"`
					}
				}
				if err := json.Unmarshal([]byte(b), &ev); err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(out[ev.Data.UserID], ev.ID) {
					out[ev.Data.UserID] = append(out[ev.Data.UserID], ev.ID)
				}
			}
			return out
		}
		var wantBodies, gotBodies []string
		for _, ev := range want {
			b, _ := json.Marshal(ev)
			wantBodies = append(wantBodies, string(b))
		}
		for _, r := range rc.accepted() {
			gotBodies = append(gotBodies, string(r.Body))
		}
		wantOrder, gotOrder := order(wantBodies), order(gotBodies)
		if len(wantOrder) != 5 {
			t.Fatalf("%d people in the feed; want 5", len(wantOrder))
		}
		for person, ids := range wantOrder {
			if !slices.Equal(gotOrder[person], ids) {
				t.Errorf("person %s: received %v; want %v", person, gotOrder[person], ids)
			}
		}
		hook = must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID))
		if hook.FailingSince != nil {
			t.Errorf("failing since %v after deliveries succeeded; want cleared", hook.FailingSince)
		}
	})
}

// TestSlowReceiverDoesNotStallOthers: an endpoint that does not answer
// holds a few deliveries; another endpoint receives everything meanwhile.
func TestSlowReceiverDoesNotStallOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		clk := newClock()
		r := newRig(t, s, clk, time.Minute)
		slow, fast := newReceiver(t), newReceiver(t)
		release := make(chan struct{})
		slow.setAnswer(func(received) int { <-release; return 200 })
		// Cleanups run last first: release the slow receiver before the
		// worker is stopped and the server closed.
		a := mustAccount(t, r.svc, "acme", "acme.example")
		r.webhook(t, slow.URL, a.ID)
		r.webhook(t, fast.URL, a.ID)
		r.start(t)
		t.Cleanup(func() { close(release) })
		const people = 100
		scimCreates(t, r.svc, a, "p", people)
		waitFor(t, "the fast endpoint to receive everything", 30*time.Second, func() bool { return len(fast.accepted()) >= 2*people })
		if n := len(slow.all()); n >= 2*people {
			t.Errorf("the slow endpoint got %d; it should be stuck", n)
		}
	})
}

// TestSlowAccountLeavesOthersRoom: an account's endpoints together hold
// no more than PerAccount of a worker's deliveries, so an account whose
// endpoints all hang cannot fill the worker that another account's events
// wait for.
func TestSlowAccountLeavesOthersRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		r := newRig(t, s, newClock(), time.Minute)
		hang, other := newReceiver(t), newReceiver(t)
		release := make(chan struct{})
		var hanging atomic.Int64
		hang.setAnswer(func(received) int { hanging.Add(1); <-release; return 200 })
		slow := mustAccount(t, r.svc, "slow", "slow.example")
		fine := mustAccount(t, r.svc, "fine", "fine.example")
		r.webhook(t, hang.URL+"/a", slow.ID)
		r.webhook(t, hang.URL+"/b", slow.ID)
		r.webhook(t, other.URL, fine.ID)
		const perAccount = 4
		r.start(t, func(c *events.Config) { c.Concurrency, c.PerWebhook, c.PerAccount, c.Parallel = 8, 8, perAccount, 8 })
		t.Cleanup(func() { close(release) })
		scimCreates(t, r.svc, slow, "p", 10)
		waitFor(t, "the slow account's endpoints to hang", 10*time.Second, func() bool { return hanging.Load() >= perAccount })
		time.Sleep(100 * time.Millisecond) // rounds go by: nothing more may start
		if n := hanging.Load(); n != perAccount {
			t.Errorf("%d requests to the slow account's endpoints; want %d, its share", n, perAccount)
		}
		scimCreates(t, r.svc, fine, "q", 3)
		waitFor(t, "the other account's events", 10*time.Second, func() bool { return len(other.accepted()) >= 6 })
	})
}

// TestEndpointDisabled: a 410 disables an endpoint at once; failing for a
// day disables it too. Either way the account's admins are told by email,
// the audit trail says so, and nothing more is sent to it.
func TestEndpointDisabled(t *testing.T) {
	cases := []struct {
		name   string
		status int
		reason string
	}{
		{"410 Gone", 410, "410 Gone"},
		{"failing for a day", 500, "failed every delivery for 24h0m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *storeT) {
				ctx := context.Background()
				clk := newClock()
				r := newRig(t, s, clk, 0)
				rc := newReceiver(t)
				rc.setAnswer(func(received) int { return tc.status })
				a := mustAccount(t, r.svc, "acme", "acme.example")
				must[directory.Added](t)(r.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "admin@acme.example", FirstName: "A", LastName: "D", Role: directory.RoleAdmin}))
				must[directory.Added](t)(r.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "ops@platform.example", FirstName: "O", LastName: "P"}))
				must[directory.Operator](t)(r.svc.AddOperator(ctx, operator, "ops@platform.example"))
				w, _ := r.webhook(t, rc.URL, a.ID) // the operators', for acme
				r.start(t)
				scimCreates(t, r.svc, a, "p", 3)
				waitFor(t, "the endpoint disabled", 30*time.Second, func() bool {
					r.retryNow(t, w.ID) // retries back off up to 6 h: a day is about 16 attempts
					hook := must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID))
					return hook.DisabledAt != nil
				})
				hook := must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID))
				if !strings.Contains(hook.DisabledReason, tc.reason) {
					t.Errorf("reason %q; want it to say %q", hook.DisabledReason, tc.reason)
				}
				time.Sleep(100 * time.Millisecond) // attempts in flight end
				n := len(rc.all())
				clk.Add(48 * time.Hour)
				time.Sleep(200 * time.Millisecond)
				if m := len(rc.all()); m != n {
					t.Errorf("%d more requests to the disabled endpoint", m-n)
				}
				// Acme's admins are told (its events stopped), and the
				// operators, who added the endpoint and can enable it.
				told := 0
				for _, m := range must[[]directory.MailMessage](t)(r.svc.Mail(ctx, a.ID, 100)) {
					if m.Kind == directory.MailWebhookDisabled && m.Recipient == "admin@acme.example" {
						told++
						if !m.Data.OperatorsTold {
							t.Error("acme's admin's notice does not say the operators were told too")
						}
					}
				}
				if told != 1 {
					t.Errorf("%d notices to acme's admin; want 1", told)
				}
				told = 0
				for _, m := range must[[]directory.MailMessage](t)(r.svc.Mail(ctx, "", 100)) {
					if m.Kind == directory.MailWebhookDisabled && m.Recipient == "ops@platform.example" {
						told++
						body := must[directory.MailBody](t)(r.svc.MailBodyOf(ctx, m))
						if body.Webhook.ID != w.ID || body.WebhookAccount.ID != a.ID || !body.Installation {
							t.Errorf("the notice is about webhook %s of account %q (installation mail %v); want %s of acme's, installation mail", body.Webhook.ID, body.WebhookAccount.ID, body.Installation, w.ID)
						}
					}
				}
				if told != 1 {
					t.Errorf("%d notices to the operator; want 1", told)
				}
				audit := must[[]directory.AuditEvent](t)(r.svc.AuditEvents(ctx, a.ID, 100))
				if !slices.ContainsFunc(audit, func(e directory.AuditEvent) bool { return e.Action == "webhook.disabled" }) {
					t.Error("no webhook.disabled audit event")
				}
				// The operators' endpoint's URL stays out of the trail
				// acme's admins read, as out of their mail.
				for _, e := range audit {
					if strings.Contains(string(e.Data), rc.Listener.Addr().String()) {
						t.Errorf("acme's trail shows the operators' endpoint: %s %s", e.Action, e.Data)
					}
				}
				// Nothing is sent again by hand while it is disabled: it
				// would seem sent.
				ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 1))
				if _, err := r.svc.Redeliver(ctx, ds[0].ID); directory.KindOf(err) != directory.Conflict || !strings.Contains(err.Error(), "disabled: enable it first") {
					t.Errorf("redeliver to the disabled endpoint: %v; want a Conflict saying to enable it first", err)
				}
				if _, err := r.svc.RecoverWebhook(ctx, operator, w.ID, time.Time{}); directory.KindOf(err) != directory.Conflict {
					t.Errorf("recover the disabled endpoint's deliveries: %v; want a Conflict", err)
				}
				// Enabled again, it receives what waited; enabled once, it
				// is not enabled again (that would clear its failures).
				rc.setAnswer(nil)
				must[directory.Webhook](t)(r.svc.EnableWebhook(ctx, operator, w.ID))
				if _, err := r.svc.EnableWebhook(ctx, operator, w.ID); directory.KindOf(err) != directory.Conflict {
					t.Errorf("enable an enabled webhook: %v; want a Conflict", err)
				}
				waitFor(t, "what waited, after enabling", 30*time.Second, func() bool {
					r.retryNow(t, w.ID)
					return len(rc.accepted()) >= 6
				})
			})
		})
	}
}

// TestEveryAttemptLoggedAndRedeliverable: each attempt is kept with its
// status; a delivered event can be sent again, with the same webhook-id.
func TestEveryAttemptLoggedAndRedeliverable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		var fails atomic.Int32
		fails.Store(2)
		rc.setAnswer(func(received) int {
			if fails.Add(-1) >= 0 {
				return 502
			}
			return 204
		})
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID, directory.EventUserCreated)
		r.start(t)
		scimCreates(t, r.svc, a, "p", 1)
		var ds []directory.WebhookDelivery
		waitFor(t, "the delivery", 30*time.Second, func() bool {
			r.retryNow(t, w.ID)
			ds = must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 10))
			return len(ds) > 0 && ds[0].Status == directory.DeliveryDelivered
		})
		if len(ds) != 1 {
			t.Fatalf("deliveries %+v; want one (the webhook wants user.created only)", ds)
		}
		attempts := must[[]directory.WebhookAttempt](t)(r.svc.WebhookAttempts(ctx, ds[0].ID))
		var statuses []int
		for _, a := range attempts {
			statuses = append(statuses, a.Status)
		}
		if !slices.Equal(statuses, []int{502, 502, 204}) {
			t.Errorf("attempts %v; want [502 502 204]", statuses)
		}
		must[directory.WebhookDelivery](t)(r.svc.Redeliver(ctx, ds[0].ID))
		waitFor(t, "the redelivery", 30*time.Second, func() bool { return len(rc.accepted()) == 2 })
		got := rc.accepted()
		if got[0].ID != got[1].ID || got[0].ID != ds[0].EventID {
			t.Errorf("webhook-ids %s, %s; want the event's %s both times", got[0].ID, got[1].ID, ds[0].EventID)
		}
		if _, err := r.svc.Redeliver(ctx, "no-such-delivery"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("redeliver an unknown id: %v; want NotFound", err)
		}
	})
}

// TestRedeliveryRetriesAndIsSweptWithItsEvent: a delivery sent again by
// hand is retried for WebhookGiveUpAfter from then, though it was made
// longer ago, and backs off afresh, though it took many attempts before;
// it keeps the time it was made, so the sweep bounds it however often it
// is sent again; and once its event is swept it cannot be sent again.
func TestRedeliveryRetriesAndIsSweptWithItsEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		var answer, fails atomic.Int32
		answer.Store(204)
		fails.Store(12) // the first attempts: retries 6 hours apart by the last
		rc.setAnswer(func(received) int {
			if fails.Add(-1) >= 0 {
				return 503
			}
			return int(answer.Load())
		})
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID, directory.EventUserCreated)
		made := clk.Now()
		scimCreates(t, r.svc, a, "p", 1)
		clk.Add(time.Hour) // published, and its delivery made, an hour after the event
		r.start(t)
		deliveries := func() []directory.WebhookDelivery {
			return must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 10))
		}
		waitFor(t, "the delivery", 30*time.Second, func() bool {
			r.retryNow(t, w.ID)
			ds := deliveries()
			return len(ds) == 1 && ds[0].Status == directory.DeliveryDelivered
		})
		first := deliveries()[0]
		if first.Attempts != 13 {
			t.Fatalf("delivered after %d attempts; want 13", first.Attempts)
		}

		clk.Add(4 * 24 * time.Hour) // past WebhookGiveUpAfter from when it was made
		answer.Store(502)
		again := must[directory.WebhookDelivery](t)(r.svc.Redeliver(ctx, first.ID))
		if !again.CreatedAt.Equal(first.CreatedAt) || again.RedeliveredAt == nil || !again.RedeliveredAt.Equal(clk.Now().Truncate(time.Microsecond)) {
			t.Errorf("redelivered: created %v, redelivered %v; want created %v (kept), redelivered %v", again.CreatedAt, again.RedeliveredAt, first.CreatedAt, clk.Now())
		}
		waitFor(t, "the failed attempt recorded", 30*time.Second, func() bool {
			ds := deliveries()
			return len(ds) == 1 && ds[0].Attempts == 14 && ds[0].LastStatus == 502
		})
		if d := deliveries()[0]; d.Status != directory.DeliveryPending {
			t.Fatalf("a redelivery failing once: %s; want pending, retried for %s from the redelivery", d.Status, directory.WebhookGiveUpAfter)
		} else if wait := d.NextAttemptAt.Sub(clk.Now()); wait > 10*time.Second {
			t.Errorf("a redelivery failing once is tried again in %s; want about 5 s, backing off afresh", wait)
		}
		answer.Store(204)
		waitFor(t, "the retry delivered", 30*time.Second, func() bool {
			r.retryNow(t, w.ID)
			return deliveries()[0].Status == directory.DeliveryDelivered
		})

		// The event was made an hour before its delivery: a sweep between
		// the two leaves a delivery with nothing to send.
		clk.advanceTo(made.Add(directory.EventRetention + 30*time.Minute))
		must[int64](t)(r.svc.SweepEvents(ctx, directory.EventRetention))
		if _, err := r.svc.Redeliver(ctx, first.ID); directory.KindOf(err) != directory.Conflict || !strings.Contains(err.Error(), "no longer kept") {
			t.Errorf("redeliver once its event is swept: %v; want a Conflict saying the event is no longer kept", err)
		}
		clk.advanceTo(first.CreatedAt.Add(directory.EventRetention + time.Minute))
		must[int64](t)(r.svc.SweepEvents(ctx, directory.EventRetention))
		if ds := deliveries(); len(ds) != 0 {
			t.Errorf("after the retention from when it was made: %d deliveries; want it swept, though it was sent again since", len(ds))
		}
	})
}

// TestPlatformWideWebhookGetsEveryAccount: a webhook without an account
// receives every account's events; an account's receives its own only.
func TestPlatformWideWebhookGetsEveryAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		clk := newClock()
		r := newRig(t, s, clk, 0)
		platform, own := newReceiver(t), newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		b := mustAccount(t, r.svc, "beta", "beta.example")
		r.webhook(t, platform.URL, "")
		r.webhook(t, own.URL, b.ID)
		r.start(t)
		scimCreates(t, r.svc, a, "p", 2)
		scimCreates(t, r.svc, b, "p", 3)
		waitFor(t, "deliveries", 30*time.Second, func() bool { return len(platform.accepted()) >= 10 && len(own.accepted()) >= 6 })
		time.Sleep(100 * time.Millisecond)
		for _, r := range own.accepted() {
			var ev directory.Event
			if err := json.Unmarshal(r.Body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Account != b.ID {
				t.Errorf("beta's webhook got an event of account %s", ev.Account)
			}
		}
		if n := len(own.all()); n != 6 {
			t.Errorf("beta's webhook got %d; want 6", n)
		}
	})
}

// TestOldEventsSwept: events older than the retention go, with their
// deliveries; the feed goes on after them.
func TestOldEventsSwept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		r.webhook(t, "https://platform.example/hooks", a.ID) // never reached: nothing is started
		scimCreates(t, r.svc, a, "p", 2)
		must[int](t)(r.svc.PublishEvents(ctx, 100))
		clk.Add(31 * 24 * time.Hour)
		scimCreates(t, r.svc, a, "q", 1)
		must[int](t)(r.svc.PublishEvents(ctx, 100))
		n := must[int64](t)(r.svc.SweepEvents(ctx, 0))
		if n != 4+4 { // 4 events and their 4 deliveries
			t.Errorf("swept %d rows; want 8", n)
		}
		left := feed(t, r.svc, a.ID)
		if len(left) != 0 && left[0].OccurredAt.Before(clk.Now().Add(-directory.EventRetention)) {
			t.Errorf("an old event is left: %+v", left[0])
		}
		var rows int
		check(t, s.DB().Get(&rows, `SELECT COUNT(*) FROM outbox_messages`))
		if rows != len(left) {
			t.Errorf("%d outbox rows; want the %d the feed still shows", rows, len(left))
		}
	})
}

// TestDeliveriesLeasedAsTheyBecomeReady: a delivery that is ready to send
// as its event is published, or as the one before it about the same
// person is recorded, is leased to the worker there and then, within the
// room it has; the rest wait for a claim. Nothing is leased twice, nor
// out of a person's order, nor for a disabled endpoint or one failing in
// the batch being recorded.
func TestDeliveriesLeasedAsTheyBecomeReady(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		hook, _ := r.webhook(t, "http://127.0.0.1:1/a", a.ID)
		off, _ := r.webhook(t, "http://127.0.0.1:1/off", a.ID)
		if _, err := s.DisableWebhook(ctx, off.ID, "test", clk.Now()); err != nil {
			t.Fatal(err)
		}
		scimCreates(t, r.svc, a, "p", 3) // user.created, membership.created each
		n, leased, err := r.svc.PublishAndLeaseEvents(ctx, 100, directory.DeliveryLease{Room: 10, PerWebhook: 2, Held: map[string]int{hook.ID: 1}})
		check(t, err)
		if n != 6 {
			t.Fatalf("published %d; want 6", n)
		}
		want := feed(t, r.svc, a.ID)
		// Three people's first events are ready for the enabled endpoint;
		// it holds one already and may hold two: one is leased, the first.
		if len(leased) != 1 || leased[0].WebhookID != hook.ID || leased[0].EventID != want[0].ID {
			t.Fatalf("leased %v; want the first event (%s), for %s", eventIDs(leased), want[0].ID, hook.ID)
		}
		if d := leased[0]; d.Attempts != 1 || len(d.Payload) == 0 || d.Webhook.URL != hook.URL {
			t.Errorf("leased delivery: attempts %d, payload %q, webhook %q; want 1, the event, %s", d.Attempts, d.Payload, d.Webhook.URL, hook.URL)
		}
		if until := clk.Now().Add(directory.WebhookLease).Truncate(time.Microsecond); !leased[0].LeasedUntil.Equal(until) {
			t.Errorf("leased until %v; want %v", leased[0].LeasedUntil, until)
		}
		// A claim (another worker) takes the other ready ones, never the
		// leased one, nor a person's second event, nor the disabled
		// endpoint's; and no more than its lease has room for of one
		// endpoint.
		claimed := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, directory.DeliveryLease{Room: 10, PerWebhook: 2, Held: map[string]int{hook.ID: 1}}))
		claimed = append(claimed, must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))...)
		for _, d := range claimed {
			if d.WebhookID != hook.ID {
				t.Errorf("claimed a delivery for webhook %s", d.WebhookID)
			}
		}
		if got, wantIDs := eventIDs(claimed), []string{want[2].ID, want[4].ID}; !slices.Equal(got, wantIDs) {
			t.Errorf("claimed events %v, one at a time; want %v (the other people's first)", got, wantIDs)
		}
		// Recording the first person's success leases their second event.
		next := must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, []directory.WebhookResult{{Delivery: leased[0], Status: 200}},
			directory.DeliveryLease{Room: 5, PerWebhook: 10}))
		if len(next) != 1 || next[0].EventID != want[1].ID || next[0].Attempts != 1 || len(next[0].Payload) == 0 {
			t.Fatalf("leased on record %v; want the first person's second event, %s", eventIDs(next), want[1].ID)
		}
		// In a batch where the endpoint also failed, what becomes ready is
		// not leased (the endpoint may be disabled by it): a claim takes it.
		next = must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, []directory.WebhookResult{
			{Delivery: claimed[0], Status: 200}, {Delivery: claimed[1], Status: 503, Err: fmt.Errorf("the endpoint answered 503")}},
			directory.DeliveryLease{Room: 5, PerWebhook: 10}))
		if len(next) != 0 {
			t.Errorf("leased %d (event %s) in a batch where the endpoint failed; want none", len(next), next[0].EventID)
		}
		claimed = must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))
		if len(claimed) != 1 || claimed[0].EventID != want[3].ID {
			t.Errorf("claimed %v; want the second person's second event, %s", eventIDs(claimed), want[3].ID)
		}
		// With no room, nothing is leased; the delivery is ready for a claim.
		_, tok, err := r.svc.CreateSCIMToken(ctx, a.ID, operator, "more")
		check(t, err)
		check(t, func() error {
			_, err := r.svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Email: "q@acme.example", Active: true, Profile: directory.SCIMProfile{UserName: "q@acme.example"}})
			return err
		}())
		_, leased, err = r.svc.PublishAndLeaseEvents(ctx, 100, directory.DeliveryLease{PerWebhook: 10})
		check(t, err)
		if len(leased) != 0 {
			t.Errorf("leased %d with no room", len(leased))
		}
		if claimed = must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll)); len(claimed) != 1 {
			t.Errorf("claimed %d after publishing with no room; want the new person's first event", len(claimed))
		}
	})
}

// TestClaimLooksPastAFullEndpoint: when the due deliveries a claim looks
// at are all one endpoint's, and the lease's share of it fills up, the
// claim looks on past that endpoint, so one backlog does not hide the
// others' due deliveries from every replica.
func TestClaimLooksPastAFullEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		r := newRig(t, s, newClock(), 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		busy, _ := r.webhook(t, "http://127.0.0.1:1/busy", a.ID)
		scimCreates(t, r.svc, a, "p", 3) // three people's first events: due for busy
		check(t, func() error { _, err := r.svc.PublishEvents(ctx, 100); return err }())
		other, _ := r.webhook(t, "http://127.0.0.1:1/other", a.ID)
		scimCreates(t, r.svc, a, "q", 1) // later: due for both
		check(t, func() error { _, err := r.svc.PublishEvents(ctx, 100); return err }())
		claimed := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 2, directory.DeliveryLease{Room: 10, PerWebhook: 1}))
		got := map[string]int{}
		for _, d := range claimed {
			got[d.WebhookID]++
		}
		if len(claimed) != 2 || got[busy.ID] != 1 || got[other.ID] != 1 {
			t.Errorf("claimed %d of busy and %d of other (%d in all); want one of each", got[busy.ID], got[other.ID], len(claimed))
		}
	})
}

// TestAttemptErrorsSayNoMoreThanTheOwnerMayKnow: an account's owners read
// their endpoints' attempts, so a failed request is kept without the
// address or name admit resolved, and a refused connection reads as a
// silent one (no port scan through admit); the operators' log has it all.
func TestAttemptErrorsSayNoMoreThanTheOwnerMayKnow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		private, _ := r.webhook(t, "https://10.11.12.13/hook", a.ID)
		closed, _ := r.webhook(t, "http://127.0.0.1:1/hook", a.ID) // allowed, nothing listens
		// An owner's, by name: that the name leads to a refused address
		// reads as no answer, or owners would learn which names exist.
		dns := dnstest.Start(t)
		dns.SetAddrs("internal.acme.test", netip.MustParseAddr("127.0.0.1"))
		named := must[directory.Webhook](t)(r.svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: a.ID, URL: "https://internal.acme.test:1/hook", PublicOnly: true},
			func(purpose string) string { return r.sealer.Seal([]byte(events.NewSecret()), purpose) }))
		scimCreates(t, r.svc, a, "p", 1)
		_, leased, err := r.svc.PublishAndLeaseEvents(ctx, 100, claimAll)
		check(t, err)
		var logs strings.Builder
		cfg := r.config()
		cfg.PublicClient = fetch.New(fetch.Config{Resolver: dns.Resolver()})
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		w := events.NewWorker(cfg)
		for _, d := range leased {
			res := w.Deliver(ctx, d)
			if res.Err == nil {
				t.Fatalf("delivery to %s succeeded", d.Webhook.URL)
			}
			msg := res.Err.Error()
			for _, secret := range []string{"10.11.12.13", "127.0.0.1", "refused to connect", "connection refused", "dial"} {
				if strings.Contains(msg, secret) {
					t.Errorf("%s: the kept error %q says %q", d.Webhook.URL, msg, secret)
				}
			}
			switch d.WebhookID {
			case private.ID:
				if !strings.Contains(msg, "refused: ") {
					t.Errorf("private: %q; want it said that admit refused the address", msg)
				}
			case closed.ID, named.ID:
				if !strings.HasPrefix(msg, "no answer") {
					t.Errorf("%s: %q; want no answer", d.Webhook.URL, msg)
				}
			}
		}
		if !strings.Contains(logs.String(), "10.11.12.13") || !strings.Contains(logs.String(), "connection refused") {
			t.Errorf("the log lacks the details:\n%s", logs.String())
		}
	})
}

// TestAccountShareOfALease: a lease takes no more of one account's
// webhooks together than its PerAccount (counting what is held), as
// events are published and as deliveries are claimed; a platform-wide
// webhook counts for no account.
func TestAccountShareOfALease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		r := newRig(t, s, newClock(), 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		one, _ := r.webhook(t, "http://127.0.0.1:1/one", a.ID)
		two, _ := r.webhook(t, "http://127.0.0.1:1/two", a.ID)
		platform, _ := r.webhook(t, "http://127.0.0.1:1/platform", "")
		scimCreates(t, r.svc, a, "p", 3) // three first events, due for each webhook
		_, leased, err := r.svc.PublishAndLeaseEvents(ctx, 100, directory.DeliveryLease{Room: 100, PerWebhook: 100, PerAccount: 2})
		check(t, err)
		count := func(ds []directory.WebhookDelivery) map[string]int {
			m := map[string]int{}
			for _, d := range ds {
				m[d.WebhookID]++
			}
			return m
		}
		if got := count(leased); got[one.ID]+got[two.ID] != 2 || got[platform.ID] != 3 {
			t.Errorf("published and leased %v; want 2 of acme's webhooks together and 3 of the platform's", got)
		}
		claimed := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100,
			directory.DeliveryLease{Room: 100, PerWebhook: 100, PerAccount: 3, HeldByAccount: map[string]int{a.ID: 2}}))
		if got := count(claimed); len(claimed) != 1 || got[one.ID]+got[two.ID] != 1 {
			t.Errorf("claimed %v; want one more of acme's", got)
		}
	})
}

// TestOwnersEndpointsReachPublicAddressesOnly: an endpoint an account's
// owners chose goes through the client without the operators' allow list,
// so it cannot reach the private addresses the operators' own endpoints
// may (here loopback, allowed for the rig).
func TestOwnersEndpointsReachPublicAddressesOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		r := newRig(t, s, newClock(), 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		r.webhook(t, rc.URL+"/operators", a.ID)
		// https, as an owner's must be: the address is refused before any
		// handshake (the allowed client would try one, and fail on this
		// plain-http receiver, which says something else).
		owners := r.keptOwnersWebhook(t, s, a.ID, "https://"+rc.Listener.Addr().String()+"/owners")
		r.start(t, func(c *events.Config) { c.PublicClient = fetch.New(fetch.Config{}) })
		scimCreates(t, r.svc, a, "p", 1)
		waitFor(t, "the operators' endpoint", 10*time.Second, func() bool { return len(rc.accepted()) >= 2 })
		waitFor(t, "an attempt at the owners' endpoint", 10*time.Second, func() bool {
			ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, owners.ID, 10))
			return len(ds) > 0 && len(must[[]directory.WebhookAttempt](t)(r.svc.WebhookAttempts(ctx, ds[len(ds)-1].ID))) > 0
		})
		ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, owners.ID, 10))
		if last := ds[len(ds)-1].LastError; !strings.HasPrefix(last, "refused: ") {
			t.Errorf("the owners' endpoint's attempt: %q; want it refused", last)
		}
	})
}

// TestOwnersEndpointsNeedThePublicClient: a worker built without a
// client for public addresses fails the deliveries to an owner's endpoint
// rather than send them through the operators' client, which reaches the
// private networks they allowed; the operators' own still go.
func TestOwnersEndpointsNeedThePublicClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		r := newRig(t, s, newClock(), 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		operators, _ := r.webhook(t, rc.URL+"/operators", a.ID)
		owners := r.keptOwnersWebhook(t, s, a.ID, "https://"+rc.Listener.Addr().String()+"/owners")
		scimCreates(t, r.svc, a, "p", 1)
		_, leased, err := r.svc.PublishAndLeaseEvents(ctx, 100, claimAll)
		check(t, err)
		cfg := r.config()
		sent := &countingPoster{Poster: cfg.Client}
		cfg.Client, cfg.PublicClient = sent, nil
		w := events.NewWorker(cfg)
		for _, d := range leased {
			res := w.Deliver(ctx, d)
			switch d.WebhookID {
			case owners.ID:
				if res.Err == nil || !strings.Contains(res.Err.Error(), "no client for the public addresses") {
					t.Errorf("to the owners' endpoint: %v; want it not sent, for want of the public client", res.Err)
				}
			case operators.ID:
				if res.Err != nil {
					t.Errorf("to the operators' endpoint: %v", res.Err)
				}
			}
		}
		// The person's user.created to the operators' endpoint (their
		// membership.created waits for it).
		if want := 1; int(sent.n.Load()) != want {
			t.Errorf("the operators' client sent %d requests; want %d (none to the owners' endpoint)", sent.n.Load(), want)
		}
	})
}

// countingPoster counts the requests it passes on.
type countingPoster struct {
	events.Poster
	n atomic.Int32
}

func (p *countingPoster) Post(ctx context.Context, url string, header http.Header, body []byte) (int, http.Header, error) {
	p.n.Add(1)
	return p.Poster.Post(ctx, url, header, body)
}

// claimAll is a lease with room for everything a test claims.
var claimAll = directory.DeliveryLease{Room: 1000, PerWebhook: 1000}

func eventIDs(ds []directory.WebhookDelivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.EventID)
	}
	return out
}

// TestRequestsPerEndpointBounded: a worker holds at most PerWebhook of an
// endpoint's deliveries and sends it at most Parallel requests at a time;
// the rest wait their turn, and everything arrives once the endpoint
// answers.
func TestRequestsPerEndpointBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		release := make(chan struct{})
		now, most := countAtOnce(rc, func() { <-release })
		a := mustAccount(t, r.svc, "acme", "acme.example")
		hook, _ := r.webhook(t, rc.URL, a.ID)
		const perWebhook, parallel = 4, 2
		r.start(t, func(c *events.Config) { c.PerWebhook, c.Parallel = perWebhook, parallel })
		released := false
		t.Cleanup(func() {
			if !released {
				close(release)
			}
		})
		const people = 10
		scimCreates(t, r.svc, a, "p", people)
		waitFor(t, "requests at the endpoint", 10*time.Second, func() bool { return now.Load() >= parallel })
		time.Sleep(200 * time.Millisecond) // rounds go by; nothing more may start
		if m := most.Load(); m != parallel {
			t.Errorf("%d requests at once; want %d", m, parallel)
		}
		ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 100))
		held := 0
		for _, d := range ds {
			if d.Status == directory.DeliveryPending && d.Attempts > 0 {
				held++
			}
		}
		if held > perWebhook {
			t.Errorf("%d deliveries held; want at most %d", held, perWebhook)
		}
		close(release)
		released = true
		waitFor(t, "every event delivered", 30*time.Second, func() bool { return len(rc.accepted()) >= 2*people })
	})
}

// countAtOnce makes rc call answer for each request and acknowledge it,
// and counts the requests it is answering now and the most at once.
func countAtOnce(rc *receiver, answer func()) (now, most *atomic.Int64) {
	now, most = &atomic.Int64{}, &atomic.Int64{}
	rc.setAnswer(func(received) int {
		n := now.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		answer()
		now.Add(-1)
		return 200
	})
	return now, most
}

// TestFastEndpointGetsOneRequestAtATime: an endpoint fast enough to be
// sent what waits for it within SendWithin one request after another gets
// it so, however many Parallel allows: many at once only took more of the
// cores from the requests admit serves, for no more throughput.
func TestFastEndpointGetsOneRequestAtATime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		r := newRig(t, s, newClock(), 0)
		rc := newReceiver(t)
		_, most := countAtOnce(rc, func() { time.Sleep(time.Millisecond) })
		a := mustAccount(t, r.svc, "acme", "acme.example")
		r.webhook(t, rc.URL, a.ID)
		const people = 40
		scimCreates(t, r.svc, a, "p", people) // forty people's first events are ready at once
		// An hour to send what waits, so that the endpoint is fast
		// however loaded the machine running the test is.
		r.start(t, func(c *events.Config) { c.Parallel, c.SendWithin = 32, time.Hour })
		waitFor(t, "every event delivered", 30*time.Second, func() bool { return rc.acceptedCount() >= 2*people })
		if m := most.Load(); m != 1 {
			t.Errorf("%d requests at once; want 1", m)
		}
	})
}

// TestDisabledNoticeOnceADay: people are told an endpoint was disabled at
// most once a day, however often it is enabled and answers 410 at once;
// each disabling is in the trail, saying when they were told.
func TestDisabledNoticeOnceADay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		must[directory.Added](t)(r.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "admin@acme.example", FirstName: "A", LastName: "D", Role: directory.RoleAdmin}))
		// An owner's, so that the account's people are told.
		add := func(url string) directory.Webhook {
			return must[directory.Webhook](t)(r.svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: a.ID, URL: url, PublicOnly: true},
				func(purpose string) string { return r.sealer.Seal([]byte(events.NewSecret()), purpose) }))
		}
		w := add("https://hooks.acme.example/admit")
		scimCreates(t, r.svc, a, "p", 1)
		must[int](t)(r.svc.PublishEvents(ctx, 100))
		// Its due deliveries attempted by hand, each answered 410.
		gone := func() {
			t.Helper()
			r.retryNow(t, w.ID)
			ds := must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, directory.DeliveryLease{Room: 100, PerWebhook: 100}))
			if len(ds) == 0 {
				t.Fatal("nothing due")
			}
			rs := make([]directory.WebhookResult, len(ds))
			for i, d := range ds {
				rs[i] = directory.WebhookResult{Delivery: d, Status: 410, Err: errors.New("the endpoint answered 410 Gone")}
			}
			must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, rs, directory.DeliveryLease{}))
			if must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID)).DisabledAt == nil {
				t.Fatal("a 410 did not disable the endpoint")
			}
		}
		notices := func() int {
			n := 0
			for _, m := range must[[]directory.MailMessage](t)(r.svc.Mail(ctx, a.ID, 100)) {
				if m.Kind == directory.MailWebhookDisabled {
					n++
				}
			}
			return n
		}
		gone()
		for range 3 { // enabled by hand, gone again at once
			must[directory.Webhook](t)(r.svc.EnableWebhook(ctx, operator, w.ID))
			gone()
		}
		if n := notices(); n != 1 {
			t.Errorf("%d notices for 4 disablings within a day; want 1", n)
		}
		disabled := must[[]directory.AuditEvent](t)(r.svc.AuditTrail(ctx, a.ID, "", "webhook.disabled", time.Time{}, 100))
		var last struct {
			Told   *int       `json:"admins_told"`
			ToldAt *time.Time `json:"told_at"`
		}
		if len(disabled) != 4 || json.Unmarshal(disabled[0].Data, &last) != nil || last.Told == nil || *last.Told != 0 || last.ToldAt == nil {
			t.Errorf("%d webhook.disabled in the trail, the last %s; want 4, the last saying nobody was told, and when they were", len(disabled), disabled[0].Data)
		}
		// Removed and added again (a new id), it is the same endpoint.
		again := func(url string, prefix string) {
			t.Helper()
			must[struct{}](t)(struct{}{}, r.svc.RemoveWebhook(ctx, operator, w.ID))
			w = add(url)
			scimCreates(t, r.svc, a, prefix, 1)
			must[int](t)(r.svc.PublishEvents(ctx, 100))
			gone()
		}
		again("HTTPS://Hooks.Acme.Example:0443/admit", "q")
		if n := notices(); n != 1 {
			t.Errorf("%d notices after the endpoint was removed and added again; want still 1", n)
		}
		// Added again at ever other URLs, the account's owners' endpoints
		// are told of as often as it may have them, no more.
		for i := range directory.MaxAccountWebhooks + 2 {
			again(fmt.Sprintf("https://hooks.acme.example/admit?n=%d", i), fmt.Sprintf("v%d-", i))
		}
		if n := notices(); n != directory.MaxAccountWebhooks {
			t.Errorf("%d notices for endpoints added again at %d other URLs within a day; want %d", n, directory.MaxAccountWebhooks+2, directory.MaxAccountWebhooks)
		}
		clk.Add(25 * time.Hour)
		must[directory.Webhook](t)(r.svc.EnableWebhook(ctx, operator, w.ID))
		gone()
		if n := notices(); n != directory.MaxAccountWebhooks+1 {
			t.Errorf("%d notices after a day; want %d", n, directory.MaxAccountWebhooks+1)
		}
	})
}

// TestGoneStopsWaitingRequests: once an endpoint answers 410 Gone, the
// deliveries the worker still holds for it are not sent.
func TestGoneStopsWaitingRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		rc.setAnswer(func(received) int { time.Sleep(50 * time.Millisecond); return 410 })
		a := mustAccount(t, r.svc, "acme", "acme.example")
		hook, _ := r.webhook(t, rc.URL, a.ID)
		r.start(t, func(c *events.Config) { c.Parallel = 1 })
		scimCreates(t, r.svc, a, "p", 5) // five people's first events are ready at once
		waitFor(t, "the endpoint disabled", 10*time.Second, func() bool {
			return must[directory.Webhook](t)(r.svc.Webhook(context.Background(), hook.ID)).DisabledAt != nil
		})
		time.Sleep(300 * time.Millisecond)
		if n := len(rc.all()); n != 1 {
			t.Errorf("the endpoint got %d requests; want 1, the one answered 410", n)
		}
		// What was held and not sent was given back, its attempt
		// uncounted: enabled again, the endpoint gets it at once.
		ctx := context.Background()
		for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 100)) {
			if n := len(must[[]directory.WebhookAttempt](t)(r.svc.WebhookAttempts(ctx, d.ID))); n != d.Attempts {
				t.Errorf("delivery %s: %d attempts counted, %d logged", d.ID, d.Attempts, n)
			}
		}
	})
}

// TestEndpointAskedToWait: an endpoint that answers 429 with Retry-After
// gets nothing more until the time it asked for has passed, whichever
// person's event waits (what the worker held is given back, its attempt
// uncounted, and no claim takes it); then everything arrives. It is left
// alone no longer than retries back off at most, however long it asks.
func TestEndpointAskedToWait(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		rc.setAnswer(func(received) int { return 429 })
		rc.setRetryAfter("120")
		a := mustAccount(t, r.svc, "acme", "acme.example")
		hook, _ := r.webhook(t, rc.URL, a.ID)
		r.start(t, func(c *events.Config) { c.Parallel = 1 })
		const people = 5
		scimCreates(t, r.svc, a, "p", people) // five first events ready at once
		pausedUntil := func() time.Time {
			w := must[directory.Webhook](t)(r.svc.Webhook(ctx, hook.ID))
			if w.PausedUntil == nil {
				return time.Time{}
			}
			return *w.PausedUntil
		}
		waitFor(t, "the pause recorded", 10*time.Second, func() bool { return !pausedUntil().IsZero() })
		if got, want := pausedUntil(), clk.Now().Add(2*time.Minute); got.Sub(want).Abs() > time.Millisecond {
			t.Errorf("paused until %s; want %s, two minutes on", got, want)
		}
		time.Sleep(300 * time.Millisecond) // rounds at 20 ms: the others would be sent now
		clk.Add(time.Minute)
		scimCreates(t, r.svc, a, "r", 1) // published during the pause
		time.Sleep(300 * time.Millisecond)
		if n := len(rc.all()); n != 1 {
			t.Fatalf("the endpoint got %d requests within the two minutes it asked for; want 1, the one answered 429", n)
		}
		for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 100)) {
			if n := len(must[[]directory.WebhookAttempt](t)(r.svc.WebhookAttempts(ctx, d.ID))); n != d.Attempts {
				t.Errorf("delivery %s: %d attempts counted, %d logged", d.ID, d.Attempts, n)
			}
			if n := len(must[[]directory.WebhookAttempt](t)(r.svc.WebhookAttempts(ctx, d.ID))); n == 1 && d.NextAttemptAt.Before(pausedUntil()) {
				t.Errorf("the delivery answered 429 is tried again at %s; want not before %s", d.NextAttemptAt, pausedUntil())
			}
		}
		rc.setAnswer(nil)
		clk.Add(time.Minute + time.Second)
		waitFor(t, "every event once the pause is over", 10*time.Second, func() bool { return len(rc.distinct()) >= 2*people+2 })

		// However long it asks, it is left alone six hours at most.
		rc.setAnswer(func(received) int { return 503 })
		rc.setRetryAfter("999999999")
		before := len(rc.all())
		scimCreates(t, r.svc, a, "q", 1)
		waitFor(t, "the next pause recorded", 10*time.Second, func() bool { return pausedUntil().After(clk.Now()) })
		if got, want := pausedUntil(), clk.Now().Add(6*time.Hour); got.Sub(want).Abs() > time.Millisecond {
			t.Errorf("asked for 31 years: paused until %s; want %s, six hours on", got, want)
		}
		if n := len(rc.all()) - before; n != 1 {
			t.Errorf("%d requests before the pause; want 1", n)
		}
	})
}

// TestStoppedEndpointGetsNothingMore: deliveries waiting for an
// endpoint's turn are not sent once it is removed, or disabled elsewhere
// (by another replica that saw it fail for a day), or paused by another
// replica's attempt (Retry-After); the disabled one's are given back with
// their attempts uncounted, and arrive once it is enabled, the paused
// one's once the pause is over.
func TestStoppedEndpointGetsNothingMore(t *testing.T) {
	for _, how := range []string{"removed", "disabled", "paused"} {
		t.Run(how, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *storeT) {
				ctx := context.Background()
				clk := newClock()
				r := newRig(t, s, clk, 0)
				rc := newReceiver(t)
				a := mustAccount(t, r.svc, "acme", "acme.example")
				hook, _ := r.webhook(t, rc.URL, a.ID)
				watch := &roundWatch{Directory: r.svc}
				r.start(t, func(c *events.Config) { c.Parallel, c.Directory = 1, watch })
				started, free := holdFirst(t, rc)
				const people = 5
				scimCreates(t, r.svc, a, "p", people) // five first events wait for one request
				waitFor(t, "the first request", 10*time.Second, func() bool { return started.Load() == 1 })
				switch how {
				case "removed":
					check(t, r.svc.RemoveWebhook(ctx, operator, hook.ID))
				case "disabled":
					if _, err := s.DisableWebhook(ctx, hook.ID, "failed for a day", clk.Now()); err != nil {
						t.Fatal(err)
					}
				case "paused": // by another replica's attempt (Retry-After)
					check(t, s.PauseWebhook(ctx, hook.ID, clk.Now().Add(time.Hour)))
				}
				// The worker looks each round: one round may have looked
				// before the change, the next looks after it.
				round := watch.rounds.Load()
				waitFor(t, "a round after the change", 10*time.Second, func() bool { return watch.rounds.Load() >= round+2 })
				free()
				time.Sleep(300 * time.Millisecond) // the others would be sent now
				if n := started.Load(); n != 1 {
					t.Fatalf("the %s endpoint got %d requests; want 1, the one in flight", how, n)
				}
				switch how {
				case "removed":
					return
				case "paused":
					clk.Add(time.Hour + time.Second)
					waitFor(t, "every event delivered after the pause", 10*time.Second, func() bool { return len(rc.accepted()) >= 2*people })
					return
				}
				for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 100)) {
					if n := len(must[[]directory.WebhookAttempt](t)(r.svc.WebhookAttempts(ctx, d.ID))); n != d.Attempts {
						t.Errorf("delivery %s: %d attempts counted, %d logged", d.ID, d.Attempts, n)
					}
				}
				must[directory.Webhook](t)(r.svc.EnableWebhook(ctx, operator, hook.ID))
				waitFor(t, "every event delivered after enabling", 10*time.Second, func() bool { return len(rc.accepted()) >= 2*people })
			})
		})
	}
}

// roundWatch counts a worker's rounds, by their publishing (which comes
// after the look for stopped webhooks).
type roundWatch struct {
	events.Directory
	rounds atomic.Int64
}

func (w *roundWatch) PublishAndLeaseEvents(ctx context.Context, limit int, lease directory.DeliveryLease) (int, []directory.WebhookDelivery, error) {
	n, ds, err := w.Directory.PublishAndLeaseEvents(ctx, limit, lease)
	w.rounds.Add(1)
	return n, ds, err
}

// TestNoSendAfterLongWait: a delivery that waited for a slow endpoint's
// turn until its lease was over is not sent by the worker that held it
// (another claim has it by then), and every event waiting arrives once.
func TestNoSendAfterLongWait(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		hook, _ := r.webhook(t, rc.URL, a.ID)
		r.start(t, func(c *events.Config) { c.Parallel = 1 })
		started, free := holdFirst(t, rc)
		const people = 3
		scimCreates(t, r.svc, a, "p", people)
		waitFor(t, "the first request", 10*time.Second, func() bool { return started.Load() == 1 })
		// The others wait for the endpoint's one request at a time until
		// their leases are over; a claim takes them again meanwhile.
		clk.Add(directory.WebhookLease + 30*time.Second)
		time.Sleep(100 * time.Millisecond)
		free()
		waitFor(t, "every event delivered", 10*time.Second, func() bool { return len(rc.accepted()) >= 2*people })
		time.Sleep(200 * time.Millisecond) // a second copy would come now
		count := map[string]int{}
		for _, got := range rc.all() {
			count[got.ID]++
		}
		for i, ev := range feed(t, r.svc, a.ID) {
			// The first was in flight as its lease ended: at least once,
			// it may come again.
			if count[ev.ID] != 1 && (i > 0 || count[ev.ID] != 2) {
				t.Errorf("event %s (%s) sent %d times; want once", ev.ID, ev.Type, count[ev.ID])
			}
		}
		for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 100)) {
			if d.Status != directory.DeliveryDelivered {
				t.Errorf("delivery %s is %s; want delivered", d.ID, d.Status)
			}
		}
	})
}

// TestRecoverGivenUpDeliveries: an endpoint that refused one person's
// events (and took everyone else's, so it stayed enabled) gives them up
// after WebhookGiveUpAfter; recovering them sends each again, with its
// webhook-id, in the person's order; none since a later time, and none a
// second time.
func TestRecoverGivenUpDeliveries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID)
		_, tok, err := r.svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
		check(t, err)
		email := "refused@acme.example"
		u := must[directory.SCIMUser](t)(r.svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Email: email, Active: true,
			Profile: directory.SCIMProfile{UserName: email, GivenName: "R", FamilyName: "One"}}))
		for j, active := range []bool{false, true} {
			must[directory.SCIMUser](t)(r.svc.ReplaceSCIMUser(ctx, a.ID, tok, u.Membership.ID, directory.SCIMUserInput{Active: active,
				Profile: directory.SCIMProfile{UserName: email, GivenName: "R", FamilyName: fmt.Sprint("Name", j)}}, directory.IfVersion{}))
		}
		theirs := func(body []byte) bool { return strings.Contains(string(body), u.Membership.UserID) }
		var refusing atomic.Bool
		refusing.Store(true)
		// Their requests take a while to answer once recovered: were
		// several sent at once, they would be in flight together.
		var inFlight, mostInFlight atomic.Int32
		rc.setAnswer(func(got received) int {
			if !theirs(got.Body) {
				return 204
			}
			if refusing.Load() {
				return 422
			}
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := mostInFlight.Load(); n > m && !mostInFlight.CompareAndSwap(m, n); m = mostInFlight.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			return 204
		})
		r.start(t)
		deliveries := func() (theirs []directory.WebhookDelivery) {
			for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 1000)) {
				if d.Subject == u.Membership.UserID {
					theirs = append(theirs, d)
				}
			}
			return theirs
		}
		givenUp := func() bool {
			ds := deliveries()
			return len(ds) > 0 && !slices.ContainsFunc(ds, func(d directory.WebhookDelivery) bool { return d.Status != directory.DeliveryFailed })
		}
		// Three days and more pass, in steps of 6 hours, each with
		// someone else created and delivered: the endpoint stays enabled.
		for step := 0; !givenUp(); step++ {
			if step == 20 {
				t.Fatalf("their deliveries after %d steps: %+v; want every one given up", step, deliveries())
			}
			clk.Add(6 * time.Hour)
			scimCreates(t, r.svc, a, fmt.Sprintf("other%d-", step), 1)
			want := 2 * (step + 1)
			waitFor(t, "the others' events and their retries", 30*time.Second, func() bool {
				r.retryNow(t, w.ID)
				return len(rc.accepted()) >= want
			})
		}
		if hook := must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID)); hook.DisabledAt != nil {
			t.Fatalf("the endpoint was disabled (%s); the others' successes should keep it enabled", hook.DisabledReason)
		}
		var wantOrder []string
		for _, ev := range feed(t, r.svc, a.ID) {
			if b, _ := json.Marshal(ev); theirs(b) {
				wantOrder = append(wantOrder, ev.ID)
			}
		}
		if len(wantOrder) < 4 {
			t.Fatalf("%d events about the refused person; want 4 or more", len(wantOrder))
		}

		if n := must[int](t)(r.svc.RecoverWebhook(ctx, operator, w.ID, clk.Now().Add(time.Minute))); n != 0 {
			t.Errorf("recovered %d given up after now; want none", n)
		}
		refusing.Store(false)
		// Given up since the first of them was (made more than 3 days
		// ago), at a time written with an offset, as the API may be sent
		// one. Not "the last day": each of their deliveries is sent only
		// once the one before it is given up, and the worker, on real
		// time, may finish that chain several of the clock's 6-hour steps
		// after it began (under load it took more than a day of them).
		first := clk.Now()
		for _, d := range deliveries() {
			if d.FinishedAt != nil && d.FinishedAt.Before(first) {
				first = *d.FinishedAt
			}
		}
		since := first.Add(-time.Minute).In(time.FixedZone("CEST", 2*3600))
		if n := must[int](t)(r.svc.RecoverWebhook(ctx, operator, w.ID, since)); n != len(wantOrder) {
			t.Errorf("recovered %d given up since %v; want %d, every one", n, since, len(wantOrder))
		}
		var gotOrder []string
		waitFor(t, "the recovered events", 30*time.Second, func() bool {
			gotOrder = nil
			for _, got := range rc.accepted() {
				if theirs(got.Body) && !slices.Contains(gotOrder, got.ID) {
					gotOrder = append(gotOrder, got.ID)
				}
			}
			return len(gotOrder) >= len(wantOrder)
		})
		if !slices.Equal(gotOrder, wantOrder) {
			t.Errorf("recovered events received in the order %v; want the feed's %v", gotOrder, wantOrder)
		}
		if n := mostInFlight.Load(); n != 1 {
			t.Errorf("%d of their recovered events were sent at once; want one at a time, each after the one before succeeded", n)
		}
		waitFor(t, "the recovered deliveries recorded", 10*time.Second, func() bool {
			ds := deliveries()
			return !slices.ContainsFunc(ds, func(d directory.WebhookDelivery) bool {
				return d.Status != directory.DeliveryDelivered || d.RedeliveredAt == nil
			})
		})
		if n := must[int](t)(r.svc.RecoverWebhook(ctx, operator, w.ID, time.Time{})); n != 0 {
			t.Errorf("recovered %d a second time; want none, all delivered", n)
		}
		if _, err := r.svc.RecoverWebhook(ctx, operator, "no-such-webhook", time.Time{}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("recover an unknown webhook: %v; want NotFound", err)
		}
	})
}

// TestStrandedDeliveriesAreSentAfterASweep: deliveries left pending with
// none of their person's ready (as a recovery cut short between its two
// steps leaves them) are made ready by the worker's sweep, and go in each
// person's order, rather than wait for ever.
func TestStrandedDeliveriesAreSentAfterASweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		r := newRig(t, s, newClock(), 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, _ := r.webhook(t, rc.URL, a.ID)
		scimCreates(t, r.svc, a, "p", 3)
		if n, _, err := r.svc.PublishAndLeaseEvents(ctx, 100, directory.DeliveryLease{}); err != nil || n != 6 {
			t.Fatalf("%d events published (%v); want 6", n, err)
		}
		if _, err := s.DB().Exec(`UPDATE webhook_deliveries SET ready = FALSE`); err != nil {
			t.Fatal(err)
		}
		r.start(t, func(c *events.Config) { c.SweepEvery = 50 * time.Millisecond })
		waitFor(t, "the stranded deliveries sent", 10*time.Second, func() bool { return len(rc.distinct()) == 6 })
		seqs := map[string]int64{}
		subjects := map[string]string{}
		for _, d := range must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, w.ID, 100)) {
			seqs[d.EventID], subjects[d.EventID] = d.Seq, d.Subject
		}
		last := map[string]int64{}
		for _, got := range rc.accepted() {
			subject := subjects[got.ID]
			if seqs[got.ID] < last[subject] {
				t.Errorf("event %s (seq %d) about %s after seq %d", got.ID, seqs[got.ID], subject, last[subject])
			}
			last[subject] = seqs[got.ID]
		}
		if len(last) != 3 {
			t.Errorf("events about %d people; want 3", len(last))
		}
	})
}

// TestWorkerAnalyzesAfterABurst: once a worker has published AnalyzeAfter
// events, it has PostgreSQL refresh its statistics of deliveries (read
// before a burst, they make every look for pending deliveries walk them
// all), and not before.
func TestWorkerAnalyzesAfterABurst(t *testing.T) {
	s := storetest.Postgres(t)
	r := newRig(t, s, newClock(), 0)
	rc := newReceiver(t)
	a := mustAccount(t, r.svc, "acme", "acme.example")
	r.webhook(t, rc.URL, a.ID)
	analyzed := func() int {
		var n int
		check(t, s.DB().Get(&n, `SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'`))
		return n
	}
	before := analyzed()
	r.start(t, func(c *events.Config) { c.AnalyzeAfter = 30 })
	scimCreates(t, r.svc, a, "p", 10)
	waitFor(t, "the first 20 events delivered", 10*time.Second, func() bool { return len(rc.distinct()) == 20 })
	if n := analyzed(); n != before {
		t.Fatalf("analyzed %d times after 20 events; want none before 30", n-before)
	}
	scimCreates(t, r.svc, a, "q", 10)
	waitFor(t, "the statistics refreshed after 30 events", 10*time.Second, func() bool { return analyzed() == before+1 })
}

// TestEventsNumberedInTheOrderWritten: two replicas whose clocks differ
// by 30 ms (NTP keeps hosts within a few to tens of ms) each take one of
// two SCIM requests about the same person, one right after the other: A
// deactivates, then B reactivates. Both commit before the next publish.
// The feed and the endpoint get them in the order they were made: when
// events were numbered by each replica's clock, B's later change came
// first, and a receiver ended with the person deactivated while the
// directory had them active. (A review's finding.)
func TestEventsNumberedInTheOrderWritten(t *testing.T) {
	eachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		sa, sb := openStore(t, url), openStore(t, url)
		skew := 30 * time.Millisecond
		svcA := directory.NewService(directory.Config{Store: sa, Hasher: fastHasher(), Now: time.Now})
		svcB := directory.NewService(directory.Config{Store: sb, Hasher: fastHasher(), Now: func() time.Time { return time.Now().Add(-skew) }})
		a := mustAccount(t, svcA, "acme", "acme.example")
		_, tok, err := svcA.CreateSCIMToken(ctx, a.ID, operator, "okta")
		check(t, err)
		email := "ann@acme.example"
		in := func(active bool) directory.SCIMUserInput {
			return directory.SCIMUserInput{Email: email, Active: active, Profile: directory.SCIMProfile{UserName: email, GivenName: "Ann", FamilyName: "Lee"}}
		}
		r := newRig(t, sa, newClock(), 0)
		rc := newReceiver(t)
		r.webhook(t, rc.URL, a.ID, directory.EventMembershipDeactivated, directory.EventMembershipActivated)
		u := must[directory.SCIMUser](t)(svcA.CreateSCIMUser(ctx, a.ID, tok, in(true)))
		must[int](t)(svcA.PublishEvents(ctx, 100)) // the creation's events, out of the way

		must[directory.SCIMUser](t)(svcA.ReplaceSCIMUser(ctx, a.ID, tok, u.Membership.ID, in(false), directory.IfVersion{})) // replica A
		must[directory.SCIMUser](t)(svcB.ReplaceSCIMUser(ctx, a.ID, tok, u.Membership.ID, in(true), directory.IfVersion{}))  // replica B, after A committed
		// The worker publishes both in one batch, and delivers.
		r.start(t)
		waitFor(t, "both events delivered", 20*time.Second, func() bool { return len(rc.accepted()) >= 2 })
		var got []string
		for _, x := range rc.accepted() {
			var ev directory.Event
			check(t, json.Unmarshal(x.Body, &ev))
			got = append(got, ev.Type)
		}
		if len(got) != 2 || got[0] != directory.EventMembershipDeactivated {
			t.Errorf("the endpoint received %v; want deactivated, then activated", got)
		}

		var types []string
		for _, ev := range feed(t, svcA, a.ID) {
			if ev.Type == directory.EventMembershipDeactivated || ev.Type == directory.EventMembershipActivated {
				types = append(types, ev.Type)
			}
		}
		want := []string{directory.EventMembershipDeactivated, directory.EventMembershipActivated}
		if len(types) != 2 || types[0] != want[0] || types[1] != want[1] {
			var last struct{ Status string }
			if evs := feed(t, svcA, a.ID); len(evs) > 0 {
				_ = json.Unmarshal(evs[len(evs)-1].Data, &last)
			}
			t.Errorf("feed (and so every endpoint) has %v; want %v, the order the changes were made in: a receiver applying them ends with status %q, the directory has %q",
				types, want, last.Status, "active")
		}
	})
}

// TestSuccessesKeepAnEndpointEnabled: an endpoint is disabled when it has
// failed every attempt for a day, not when one person's deliveries keep
// failing (a receiver that refuses their payload with a 422) while it
// accepts everyone else's. A success clears the endpoint's failing state
// when it is recorded in the same batch as a failure, and when its lease
// was taken before the failure was recorded (another worker's, or an
// earlier round's): either way the endpoint answered after it began to
// fail. It was disabled after a day of such batches, which stopped every
// event of the account.
func TestSuccessesKeepAnEndpointEnabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		hook, _ := r.webhook(t, "http://127.0.0.1:1/hooks", a.ID)
		refused := errors.New("the endpoint answered 422 Unprocessable Entity")
		// lease publishes the new events and leases every ready delivery.
		lease := func() []directory.WebhookDelivery {
			_, ds, err := r.svc.PublishAndLeaseEvents(ctx, 100, claimAll)
			check(t, err)
			return append(ds, must[[]directory.WebhookDelivery](t)(r.svc.ClaimWebhookDeliveries(ctx, 100, claimAll))...)
		}
		record := func(rs ...directory.WebhookResult) {
			t.Helper()
			leased := must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, rs, claimAll))
			// What the results made ready goes back unsent.
			var back []directory.WebhookResult
			for _, d := range leased {
				back = append(back, directory.WebhookResult{Delivery: d, NotAttempted: true})
			}
			must[[]directory.WebhookDelivery](t)(r.svc.RecordWebhookResults(ctx, back, directory.DeliveryLease{}))
		}
		failed := func(d directory.WebhookDelivery) directory.WebhookResult {
			return directory.WebhookResult{Delivery: d, Status: 422, Err: refused}
		}
		delivered := func(d directory.WebhookDelivery) directory.WebhookResult {
			return directory.WebhookResult{Delivery: d, Status: 204}
		}
		enabled := func(when string) {
			t.Helper()
			if h := must[directory.Webhook](t)(r.svc.Webhook(ctx, hook.ID)); h.DisabledAt != nil {
				t.Fatalf("%s: the endpoint was disabled (%s); it accepted a delivery since it began to fail", when, h.DisabledReason)
			}
		}

		// split parts the refused people's deliveries from the others'.
		split := func(ds []directory.WebhookDelivery) (refusedOnes, others []directory.WebhookResult) {
			for _, d := range ds {
				if strings.Contains(string(d.Payload), "refused") {
					refusedOnes = append(refusedOnes, failed(d))
				} else {
					others = append(others, delivered(d))
				}
			}
			return refusedOnes, others
		}
		notAttempted := func(rs []directory.WebhookResult) []directory.WebhookResult {
			for i := range rs {
				rs[i] = directory.WebhookResult{Delivery: rs[i].Delivery, NotAttempted: true}
			}
			return rs
		}

		// Each of five batches 7 hours apart holds a refused person's
		// deliveries and accepted ones.
		for i := range 5 {
			scimCreates(t, r.svc, a, fmt.Sprintf("refused%d-", i), 1)
			scimCreates(t, r.svc, a, fmt.Sprintf("accepted%d-", i), 1)
			no, yes := split(lease())
			if len(no) == 0 || len(yes) == 0 {
				t.Fatalf("batch %d: %d refused and %d accepted; want both", i, len(no), len(yes))
			}
			record(append(no, yes...)...)
			enabled(fmt.Sprintf("after %d mixed batches, %d hours", i+1, 7*i))
			clk.Add(7 * time.Hour)
		}

		// A success leased before a failure was recorded, and recorded
		// after it, clears it too: a failure a day later starts afresh.
		// (Healthy first, so that the lease sees it so.)
		scimCreates(t, r.svc, a, "accepted-first", 1)
		no, yes := split(lease())
		record(append(yes, notAttempted(no)...)...)
		if h := must[directory.Webhook](t)(r.svc.Webhook(ctx, hook.ID)); h.FailingSince != nil {
			t.Fatalf("failing since %v after a batch of successes; want healthy", h.FailingSince)
		}
		scimCreates(t, r.svc, a, "refused-late", 1)
		scimCreates(t, r.svc, a, "accepted-late", 1)
		no, yes = split(lease())
		if len(no) == 0 || len(yes) == 0 {
			t.Fatalf("%d refused and %d accepted; want both", len(no), len(yes))
		}
		record(no...)
		clk.Add(time.Hour)
		record(yes...)
		clk.Add(24 * time.Hour)
		scimCreates(t, r.svc, a, "refused-next-day", 1)
		no, yes = split(lease())
		if len(no) == 0 {
			t.Fatal("no refused delivery leased a day later")
		}
		record(append(no, notAttempted(yes)...)...)
		enabled("a failure a day after a success that was leased before the failure before it")

		// Failing every attempt for a day still disables it.
		clk.Add(25 * time.Hour)
		no, yes = split(lease())
		record(append(no, notAttempted(yes)...)...)
		if h := must[directory.Webhook](t)(r.svc.Webhook(ctx, hook.ID)); h.DisabledAt == nil {
			t.Error("an endpoint that failed every attempt for a day is still enabled")
		}
	})
}
