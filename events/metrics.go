package events

import (
	"context"
	"errors"
	"log/slog"
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

// Whose endpoint an attempt went to, the values of the endpoint label:
// the operators' alerts watch their own, as an account's owners are told
// of theirs by mail.
const (
	endpointOperators = "operators" // platform-wide, or added for an account with admit webhook add
	endpointOwners    = "owners"    // added by an account's owners, in the console or the API
)

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
			Help: "Webhook delivery attempts by whose endpoint (operators, owners) and outcome: delivered (2xx); rejected (another status, tried again); unreachable (no answer, tried again); not_sent (admit could not send it).",
		}, []string{"endpoint", "outcome"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "admit_webhook_delivery_lag_seconds",
			Help:    "From an event to its delivery to an endpoint, retries included (deliveries sent again by hand are not counted).",
			Buckets: lagBuckets,
		}, []string{"endpoint"}),
	}
	// Every series exists from the start, at 0, so that an alert on its
	// rate sees the first failure.
	for _, e := range []string{endpointOperators, endpointOwners} {
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
	endpoint := endpointOperators
	if d.Webhook.PublicOnly {
		endpoint = endpointOwners
	}
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

// unpublished is admit_events_unpublished_seconds, read from the database
// at each scrape: every replica reports the same value.
type unpublished struct {
	dir  Directory
	desc *prometheus.Desc
	log  *slog.Logger
}

func newUnpublished(dir Directory, log *slog.Logger) unpublished {
	return unpublished{dir: dir, log: log, desc: prometheus.NewDesc("admit_events_unpublished_seconds",
		"How long the oldest event not yet published (to the feed and to webhooks) has waited; 0 when none waits. Workers publish within seconds.",
		nil, nil)}
}

func (u unpublished) Describe(ch chan<- *prometheus.Desc) { ch <- u.desc }

// Collect leaves the series out when the database does not answer in
// time: a failed scrape would hide every other series with it, and the
// worker logs the outage already.
func (u unpublished) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	waited, err := u.dir.UnpublishedFor(ctx)
	if err != nil {
		u.log.Debug("admit_events_unpublished_seconds left out of a scrape", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(u.desc, prometheus.GaugeValue, waited.Seconds())
}
