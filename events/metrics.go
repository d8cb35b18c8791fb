package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/directory"
)

// Outcomes of an attempt, the values of the outcome label of
// admit_webhook_attempts_total.
const (
	outcomeDelivered   = "delivered"   // the endpoint answered 2xx
	outcomeRejected    = "rejected"    // it answered another status: tried again (410 Gone: disabled)
	outcomeUnreachable = "unreachable" // no answer: refused, timed out, a TLS failure, or an address the client may not reach
	outcomeNotSent     = "not_sent"    // admit could not send it (a secret it cannot open, an event no longer kept): the operators' to fix
)

// Who added the endpoint an attempt went to, the values of the added_by
// label (not "endpoint": prometheus-operator sets a target label of that
// name, which would rename admit's). The operators' alerts watch their
// own, as an account's owners are told of theirs by mail.
const (
	addedByOperators = "operators" // platform-wide, or added for an account with admit webhook add
	addedByOwners    = "owners"    // added by an account's owners, in the console or the API
)

func addedBy(publicOnly bool) string {
	if publicOnly {
		return addedByOwners
	}
	return addedByOperators
}

// lagBuckets reach from a round of the worker (200 ms) to the three days
// a delivery is retried.
var lagBuckets = []float64{0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 72 * 3600}

// metrics are a worker's series; see Worker.Collectors.
type metrics struct {
	attempts *prometheus.CounterVec
	lag      *prometheus.HistogramVec
}

func newMetrics() metrics {
	m := metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "admit_webhook_attempts_total",
			Help: "Webhook delivery attempts by who added the endpoint (operators, owners) and outcome: delivered (2xx); rejected (another status: tried again, and 410 disables the endpoint); unreachable (no answer, tried again); not_sent (admit could not send it).",
		}, []string{"added_by", "outcome"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "admit_webhook_delivery_lag_seconds",
			Help:    "From an event to its delivery to an endpoint, retries included (deliveries sent again by hand are not counted).",
			Buckets: lagBuckets,
		}, []string{"added_by"}),
	}
	// Every series exists from the start, at 0, so that an alert on its
	// rate sees the first failure.
	for _, e := range []string{addedByOperators, addedByOwners} {
		for _, o := range []string{outcomeDelivered, outcomeRejected, outcomeUnreachable, outcomeNotSent} {
			m.attempts.WithLabelValues(e, o)
		}
		m.lag.WithLabelValues(e)
	}
	return m
}

// count notes the attempt of d that ended at now with status and err (as
// Deliver returns them).
func (m metrics) count(d directory.WebhookDelivery, now time.Time, status int, err error) {
	endpoint := addedBy(d.Webhook.PublicOnly)
	var pe postError
	outcome := outcomeDelivered
	switch {
	case err == nil:
		// A delivery sent again by hand would count the wait for the
		// click; a retry's wait is the endpoint's, and counts.
		if d.RedeliveredAt == nil && !d.EventAt.IsZero() {
			m.lag.WithLabelValues(endpoint).Observe(max(now.Sub(d.EventAt), 0).Seconds())
		}
	case status != 0:
		outcome = outcomeRejected
	case errors.As(err, &pe):
		outcome = outcomeUnreachable
	default:
		outcome = outcomeNotSent
	}
	m.attempts.WithLabelValues(endpoint, outcome).Inc()
}

// fromDatabase are the series read from the database at each scrape, the
// same in every replica: how long the oldest unpublished event has
// waited, and how the webhooks stand. When the database does not answer
// in time, the last values read are reported, the waits still growing: a
// series missing from a scrape would go stale and restart an alert's
// "for", and a failed scrape would hide every other series.
type fromDatabase struct {
	dir                            Directory
	now                            func() time.Time
	log                            *slog.Logger
	unpublished, webhooks, failing *prometheus.Desc

	mu     sync.Mutex
	read   bool // once read, the values below are reported
	oldest *time.Time
	health []directory.WebhookHealth
}

func newFromDatabase(dir Directory, now func() time.Time, log *slog.Logger) *fromDatabase {
	return &fromDatabase{dir: dir, now: now, log: log,
		unpublished: prometheus.NewDesc("admit_events_unpublished_seconds",
			"How long the oldest event not yet published (to the feed and to webhooks) has waited; 0 when none waits. Workers publish within seconds.", nil, nil),
		webhooks: prometheus.NewDesc("admit_webhooks",
			"Webhooks by who added them (operators, owners) and state: enabled; failing (attempts fail, disabled after a day of it); disabled (nothing is sent until enabled).", []string{"added_by", "state"}, nil),
		failing: prometheus.NewDesc("admit_webhook_failing_seconds",
			"How long the webhook failing longest (of those added_by) has failed; 0 when none fails.", []string{"added_by"}, nil),
	}
}

func (f *fromDatabase) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.unpublished
	ch <- f.webhooks
	ch <- f.failing
}

// Collect reads with a context of its own: prometheus gives it none.
func (f *fromDatabase) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	oldest, err := f.dir.OldestUnpublishedEvent(ctx)
	var health []directory.WebhookHealth
	if err == nil {
		health, err = f.dir.WebhookHealth(ctx)
	}
	if err == nil {
		f.read, f.oldest, f.health = true, oldest, health
	} else {
		// The worker logs the database's outage; this says why a scrape
		// repeats the last values.
		f.log.DebugContext(ctx, "metrics read from the database: reporting the last values read", "err", err)
	}
	if !f.read {
		return
	}
	now := f.now()
	since := func(t *time.Time) float64 {
		if t == nil {
			return 0
		}
		return max(now.Sub(*t), 0).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(f.unpublished, prometheus.GaugeValue, since(f.oldest))
	for _, h := range f.health {
		by := addedBy(h.PublicOnly)
		for state, n := range map[string]int{directory.WebhookEnabled: h.Enabled, directory.WebhookFailing: h.Failing, directory.WebhookDisabled: h.Disabled} {
			ch <- prometheus.MustNewConstMetric(f.webhooks, prometheus.GaugeValue, float64(n), by, state)
		}
		ch <- prometheus.MustNewConstMetric(f.failing, prometheus.GaugeValue, since(h.OldestFailing), by)
	}
}
