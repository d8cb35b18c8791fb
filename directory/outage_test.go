package directory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
)

// An outage is logged once when it starts and once when it ends, and the
// worker's wait doubles up to the bound; other errors are not outages.
func TestOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logs bytes.Buffer
	o := &directory.Outage{Log: slog.New(slog.NewTextHandler(&logs, nil)), What: "mail worker", MaxWait: 3 * time.Second}
	down := fmt.Errorf("claim mail: %w", directory.UnavailableError(errors.New("dial tcp: connection refused")))
	var waits []time.Duration
	for range 5 {
		wait, isDown := o.Check(ctx, down)
		if !isDown {
			t.Fatalf("Check(%v) = not down", down)
		}
		waits = append(waits, wait)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v", waits, want)
	}
	if _, isDown := o.Check(ctx, errors.New("render: bad template")); isDown {
		t.Error("an internal error counted as an outage")
	}
	if _, isDown := o.Check(ctx, nil); isDown {
		t.Error("success counted as an outage")
	}
	if n := strings.Count(logs.String(), "mail worker: the database is unavailable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "mail worker: the database is back"); n != 1 {
		t.Errorf("the end was logged %d times, want once:\n%s", n, logs.String())
	}
	// A second outage starts from the short wait again.
	if wait, _ := o.Check(ctx, down); wait != 500*time.Millisecond {
		t.Errorf("first wait of a second outage = %v", wait)
	}
}
