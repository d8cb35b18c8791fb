package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// clockCheckEvery is how often a replica compares its clock with the
	// database's.
	clockCheckEvery = 10 * time.Minute
	// clockSkewWarn is the skew an operator is warned of, long before it
	// does harm: webhook and mail leases last 2 minutes and an attempt
	// starts at least 30 s before its lease ends, so beyond about a minute
	// another replica may send a delivery still in flight (a duplicate,
	// which at-least-once allows), and a replica hours ahead retries and
	// sweeps early.
	clockSkewWarn = 5 * time.Second
)

// databaseClock is the database's clock (store.Store.DatabaseTime).
type databaseClock interface {
	DatabaseTime(ctx context.Context) (time.Time, error)
}

// clockWatch compares this replica's clock with the database's, which all
// replicas share, and tells the operator when they part.
type clockWatch struct {
	db   databaseClock
	now  func() time.Time // this replica's clock
	skew prometheus.Gauge
	log  *slog.Logger
}

func newClockWatch(db databaseClock, reg prometheus.Registerer, log *slog.Logger) *clockWatch {
	skew := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "admit_clock_skew_seconds",
		Help: "How far this replica's clock is ahead of the database's (negative: behind), measured every 10 minutes. Replicas compare the times they write with their own clocks: keep it within a few seconds (NTP).",
	})
	reg.MustRegister(skew)
	return &clockWatch{db: db, now: time.Now, skew: skew, log: log}
}

// check measures the skew once, halving the round trip's time.
func (w *clockWatch) check(ctx context.Context) (time.Duration, error) {
	before := w.now()
	db, err := w.db.DatabaseTime(ctx)
	if err != nil {
		return 0, err
	}
	after := w.now()
	skew := before.Add(after.Sub(before) / 2).Sub(db)
	w.skew.Set(skew.Seconds())
	if skew > clockSkewWarn || skew < -clockSkewWarn {
		w.log.WarnContext(ctx, "this replica's clock differs from the database's: replicas compare the times they write (webhook leases and retries, sweeps) with their own clocks; synchronise the clocks (NTP)",
			"skew", skew.Round(time.Millisecond).String())
	}
	return skew, nil
}

// run checks at start and every clockCheckEvery until ctx ends. A failed
// check is left to the next: the database being away is reported by
// those who need it.
func (w *clockWatch) run(ctx context.Context) {
	every(ctx, clockCheckEvery, func() {
		if _, err := w.check(ctx); err != nil && ctx.Err() == nil {
			w.log.DebugContext(ctx, "clock check", "err", err)
		}
	})
}
