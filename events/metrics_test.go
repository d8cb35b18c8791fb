package events_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
)

// TestWorkerMetrics: each attempt is counted by whose endpoint it went to
// and how it ended; a delivery's lag runs from its event (a retry's wait
// counts, a redelivery by hand is not timed); the age of the oldest
// unpublished event is read from the database, and 0 once published.
func TestWorkerMetrics(t *testing.T) {
	eachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, openStore(t, url), clk, 2*time.Second)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		check(t, publishAll(r.svc)) // the account's own events go to no webhook

		ok, failing := newReceiver(t), newReceiver(t)
		failing.setAnswer(func(received) int { return 500 })
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		check(t, err)
		check(t, closed.Close())
		hook, _ := r.webhook(t, ok.URL, "")
		failingHook, _ := r.webhook(t, failing.URL, "")
		r.webhook(t, "http://"+closed.Addr().String()+"/hook", "")
		// An owners' endpoint, and no client for public addresses: not sent.
		must[directory.Webhook](t)(r.svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: a.ID, URL: "https://hooks.example/owners", PublicOnly: true},
			func(purpose string) string { return r.sealer.Seal([]byte(events.NewSecret()), purpose) }))

		must[directory.Added](t)(r.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "sam@acme.example", FirstName: "S", LastName: "M", Role: directory.RoleMember}))
		clk.Add(90 * time.Second) // the events wait, unpublished, for a minute and a half

		w := events.NewWorker(r.config())
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(w.Collectors()...)
		if got := gauge(t, reg, "admit_events_unpublished_seconds"); got < 90 || got > 120 {
			t.Errorf("admit_events_unpublished_seconds %v before the worker ran; want about 90", got)
		}
		for _, series := range []string{"delivered", "rejected", "unreachable", "not_sent"} {
			if got := counter(t, reg, "admit_webhook_attempts_total", "operators", series); got != 0 {
				t.Errorf("%s at %v before any attempt; want every series at 0", series, got)
			}
		}

		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { w.Run(wctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		// The user.created and membership.created of sam: both to ok; the
		// first only elsewhere (the second waits behind it).
		waitFor(t, "every first attempt", 30*time.Second, func() bool {
			return counter(t, reg, "admit_webhook_attempts_total", "operators", "delivered") == 2 &&
				counter(t, reg, "admit_webhook_attempts_total", "operators", "rejected") == 1 &&
				counter(t, reg, "admit_webhook_attempts_total", "operators", "unreachable") == 1 &&
				counter(t, reg, "admit_webhook_attempts_total", "owners", "not_sent") == 1
		})
		for _, series := range [][2]string{{"owners", "delivered"}, {"operators", "not_sent"}} {
			if got := counter(t, reg, "admit_webhook_attempts_total", series[0], series[1]); got != 0 {
				t.Errorf("%v: %v; want 0", series, got)
			}
		}
		if n, sum := histogram(t, reg, "admit_webhook_delivery_lag_seconds", "operators"); n != 2 || sum < 2*90 || sum > 2*120 {
			t.Errorf("lag: %d deliveries, %v s in all; want 2, each about 90 s after its event", n, sum)
		}
		if got := gauge(t, reg, "admit_events_unpublished_seconds"); got != 0 {
			t.Errorf("admit_events_unpublished_seconds %v once published; want 0", got)
		}
		// How the webhooks stand: the operators' two that failed are
		// failing, as is the owners' one; and for as long as the clock
		// moves. The counters count an attempt as it ends, the database
		// learns of it when the worker records it, a round later.
		wantStates := []struct {
			addedBy, state string
			n              float64
		}{{"operators", "enabled", 1}, {"operators", "failing", 2}, {"operators", "disabled", 0}, {"owners", "failing", 1}, {"owners", "enabled", 0}}
		stand := func(report bool) bool {
			all := true
			for _, want := range wantStates {
				if got := labelled(t, reg, "admit_webhooks", map[string]string{"added_by": want.addedBy, "state": want.state}); got != want.n {
					all = false
					if report {
						t.Errorf("admit_webhooks{added_by=%q,state=%q} = %v; want %v", want.addedBy, want.state, got, want.n)
					}
				}
			}
			return all
		}
		deadline := time.Now().Add(10 * time.Second)
		for !stand(false) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		stand(true)
		clk.Add(10 * time.Minute)
		for _, by := range []string{"operators", "owners"} {
			if got := labelled(t, reg, "admit_webhook_failing_seconds", map[string]string{"added_by": by}); got < 600 || got > 700 {
				t.Errorf("admit_webhook_failing_seconds{added_by=%q} = %v; want about 600", by, got)
			}
		}

		// The failing endpoint mends: its retries (claimed, not leased as
		// published) are timed from the events too.
		_, before := histogram(t, reg, "admit_webhook_delivery_lag_seconds", "operators")
		failing.setAnswer(func(received) int { return 200 })
		waitFor(t, "the failing endpoint's retries", 30*time.Second, func() bool {
			r.retryNow(t, failingHook.ID)
			return counter(t, reg, "admit_webhook_attempts_total", "operators", "delivered") == 4
		})
		if n, sum := histogram(t, reg, "admit_webhook_delivery_lag_seconds", "operators"); n != 4 || sum-before < 2*90 {
			t.Errorf("lag: %d deliveries, the retried ones %v s in all; want 4, each over 90 s after its event", n, sum-before)
		}

		// Sent again by hand an hour later: counted, but not timed.
		clk.Add(time.Hour)
		ds := must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 10))
		waitFor(t, "both recorded", 30*time.Second, func() bool {
			ds = must[[]directory.WebhookDelivery](t)(r.svc.WebhookDeliveries(ctx, hook.ID, 10))
			return len(ds) == 2 && ds[0].Status == directory.DeliveryDelivered && ds[1].Status == directory.DeliveryDelivered
		})
		must[directory.WebhookDelivery](t)(r.svc.Redeliver(ctx, ds[0].ID))
		waitFor(t, "the redelivery", 30*time.Second, func() bool {
			return counter(t, reg, "admit_webhook_attempts_total", "operators", "delivered") == 5
		})
		if n, _ := histogram(t, reg, "admit_webhook_delivery_lag_seconds", "operators"); n != 4 {
			t.Errorf("lag: %d deliveries after a redelivery; want 4, the redelivery not timed", n)
		}

		// The database away: a scrape reports the last values read, the
		// waits still growing, rather than leaving the series out.
		away := openStore(t, url)
		scraper := events.NewWorker(events.Config{Directory: newClockService(t, away, clk), Client: r.fetch, Secrets: r.sealer, Now: clk.Now})
		reg2 := prometheus.NewPedanticRegistry()
		reg2.MustRegister(scraper.Collectors()...)
		failingFor := labelled(t, reg2, "admit_webhook_failing_seconds", map[string]string{"added_by": "operators"})
		if failingFor <= 0 {
			t.Fatalf("admit_webhook_failing_seconds{added_by=operators} %v; want the unreachable endpoint's failure", failingFor)
		}
		check(t, away.Close())
		clk.Add(time.Hour)
		if got := labelled(t, reg2, "admit_webhook_failing_seconds", map[string]string{"added_by": "operators"}); got < failingFor+3600 {
			t.Errorf("database away: admit_webhook_failing_seconds %v; want the last read, an hour on (%v)", got, failingFor+3600)
		}
		if got := gauge(t, reg2, "admit_events_unpublished_seconds"); got != 0 {
			t.Errorf("database away: admit_events_unpublished_seconds %v; want the last read, 0", got)
		}
	})
}

// publishAll publishes every waiting event.
func publishAll(svc *directory.Service) error {
	_, err := svc.PublishEvents(context.Background(), 10000)
	return err
}

// family returns the gathered metric family name.
func family(t testing.TB, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	check(t, err)
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// labelled returns the value of the gauge of name with labels.
func labelled(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := series(t, reg, name, labels)
	if m == nil {
		t.Fatalf("%s%v is not exported", name, labels)
	}
	return m.GetGauge().GetValue()
}

func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	f := family(t, reg, name)
	if f == nil || len(f.Metric) != 1 {
		t.Fatalf("%s: %v; want one gauge", name, f)
	}
	return f.Metric[0].GetGauge().GetValue()
}

// counter returns the value of the series of name with endpoint and
// outcome.
func counter(t testing.TB, reg *prometheus.Registry, name, endpoint, outcome string) float64 {
	t.Helper()
	if m := series(t, reg, name, map[string]string{"added_by": endpoint, "outcome": outcome}); m != nil {
		return m.GetCounter().GetValue()
	}
	t.Fatalf("%s{added_by=%q,outcome=%q} is not exported", name, endpoint, outcome)
	return 0
}

// histogram returns the count and sum of the series of name with
// endpoint.
func histogram(t testing.TB, reg *prometheus.Registry, name, endpoint string) (uint64, float64) {
	t.Helper()
	m := series(t, reg, name, map[string]string{"added_by": endpoint})
	if m == nil {
		t.Fatalf("%s{added_by=%q} is not exported", name, endpoint)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

func series(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f := family(t, reg, name)
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}
