package bulk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
)

// TestSlots: n uploads are read at once, one an account; the next waits
// its while and is refused as Unavailable, or stops with its request; a
// slot released is taken again. An account's second upload waits for its
// first although a slot is free, which another account takes: the admins
// of one account cannot hold every slot. A nil *Slots bounds nothing.
func TestSlots(t *testing.T) {
	ctx := context.Background()
	const wait = 20 * time.Millisecond
	s := bulk.NewSlots(2, wait)
	refused := func(what, account string) {
		t.Helper()
		start := time.Now()
		if _, err := s.Take(ctx, account); directory.KindOf(err) != directory.Unavailable || time.Since(start) < wait {
			t.Errorf("%s: %v after %v; want Unavailable after the wait", what, err, time.Since(start))
		}
	}
	acme, err := s.Take(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	refused("acme's second upload, a slot free", "acme")
	if _, err := s.Take(ctx, "beta"); err != nil {
		t.Fatalf("beta, a slot free: %v", err)
	}
	refused("a third account, every slot taken", "gamma")
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Take(gone, "gamma"); !errors.Is(err, context.Canceled) {
		t.Errorf("an upload whose request ended: %v; want context.Canceled", err)
	}
	acme()
	if _, err := s.Take(ctx, "acme"); err != nil {
		t.Errorf("acme after its release: %v", err)
	}
	var none *bulk.Slots
	if release, err := none.Take(ctx, "acme"); err != nil {
		t.Errorf("nil Slots: %v", err)
	} else {
		release()
	}
}
