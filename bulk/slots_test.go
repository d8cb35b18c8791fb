package bulk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
)

// TestSlots: n uploads read at once; the next waits its while and is
// refused as Unavailable, or stops with its request; a slot released is
// taken again. A nil *Slots bounds nothing.
func TestSlots(t *testing.T) {
	ctx := context.Background()
	s := bulk.NewSlots(2, 20*time.Millisecond)
	first, err := s.Take(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Take(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Take(ctx); directory.KindOf(err) != directory.Unavailable || time.Since(start) < 20*time.Millisecond {
		t.Errorf("a third upload: %v after %v; want Unavailable after the wait", err, time.Since(start))
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Take(gone); !errors.Is(err, context.Canceled) {
		t.Errorf("an upload whose request ended: %v; want context.Canceled", err)
	}
	first()
	if _, err := s.Take(ctx); err != nil {
		t.Errorf("after a release: %v", err)
	}
	var none *bulk.Slots
	if release, err := none.Take(ctx); err != nil {
		t.Errorf("nil Slots: %v", err)
	} else {
		release()
	}
}
