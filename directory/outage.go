package directory

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Outage keeps a background worker (mail, webhooks, sweeps) quiet and
// patient while the directory is unavailable: it logs once when an outage
// begins and once when it ends, rather than an error every tick, and backs
// the worker off from its usual pace up to MaxWait. Its zero value, with
// Log set, is ready; it is safe for concurrent use.
type Outage struct {
	Log  *slog.Logger
	What string // the worker, for the log lines
	// MaxWait bounds the back-off (RetryAfter seconds when zero): how
	// late, at worst, the worker notices that the database is back.
	MaxWait time.Duration

	mu    sync.Mutex
	since time.Time
	wait  time.Duration
}

// Check looks at the outcome of one round of work. When err says the
// directory is unavailable, it returns how long to wait before the next
// round and true; the first such error of an outage is logged. Any other
// outcome, success or not, means the database answered: an outage in
// progress is over, and logged as such.
func (o *Outage) Check(ctx context.Context, err error) (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil && KindOf(err) == Unavailable {
		maxWait := o.MaxWait
		if maxWait <= 0 {
			maxWait = RetryAfter * time.Second
		}
		if o.since.IsZero() {
			o.since, o.wait = time.Now(), 500*time.Millisecond
			o.Log.WarnContext(ctx, o.What+": the database is unavailable; waiting for it", "err", err)
		} else {
			o.wait = min(2*o.wait, maxWait)
		}
		return o.wait, true
	}
	if !o.since.IsZero() {
		o.Log.InfoContext(ctx, o.What+": the database is back", "after", time.Since(o.since).Round(time.Millisecond))
		o.since, o.wait = time.Time{}, 0
	}
	return 0, false
}
