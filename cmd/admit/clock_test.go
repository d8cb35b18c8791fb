package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestClockWatch: a replica whose clock is ahead of or behind the
// database's (the one clock replicas share) shows it in
// admit_clock_skew_seconds, and past a few seconds the operator is warned.
func TestClockWatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tc := range []struct {
			name   string
			offset time.Duration
			warned bool
		}{
			{"in step", 0, false},
			{"a minute ahead", time.Minute, true},
			{"ten seconds behind", -10 * time.Second, true},
		} {
			var logs bytes.Buffer
			w := newClockWatch(s, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
			w.now = func() time.Time { return time.Now().Add(tc.offset) }
			skew, err := w.check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if d := skew - tc.offset; d > time.Second || d < -time.Second {
				t.Errorf("%s: skew %v; want about %v", tc.name, skew, tc.offset)
			}
			if g := testutil.ToFloat64(w.skew); g != skew.Seconds() {
				t.Errorf("%s: the gauge says %v; want %v", tc.name, g, skew.Seconds())
			}
			if warned := strings.Contains(logs.String(), "clock differs from the database's"); warned != tc.warned {
				t.Errorf("%s: warned %v; want %v (log: %s)", tc.name, warned, tc.warned, logs.String())
			}
		}
	})
}
