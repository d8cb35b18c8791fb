package bulk

import (
	"context"
	"sync"
	"time"

	"github.com/admit-dev/admit/directory"
)

// MaxReading is how many uploads a replica reads and parses at once, the
// console's and the API's together. A 50 MiB CSV of people holds 250 to
// 290 MiB while it is read (its bytes, its cells and its rows;
// TestAPIUploadMemory), and a read keeps a core busy for a second or two:
// two at once bound the memory uploads take and leave the server the rest
// of a 2-core machine. It is a constant, not a setting: admit's
// settings say where it runs, not how hard it works, and more uploads at
// once is more replicas.
const MaxReading = 2

// ReadWait is how long an upload waits for its turn before it is refused:
// a turn ends within seconds, and a short wait spares the admin a retry.
const ReadWait = 10 * time.Second

// Slots bounds how many uploads are read and parsed at once, and lets an
// account read one at a time: the admins of one account, however many
// files they send, hold one slot, and the other accounts share the rest.
// One Slots is shared by the console's pages (ConsoleConfig.Slots) and the
// API's reader (Spreadsheets.Slots). A nil *Slots bounds nothing.
type Slots struct {
	free chan struct{}
	wait time.Duration

	mu       sync.Mutex
	accounts map[string]*turn // the accounts reading or waiting
}

// turn is an account's one slot, and how many of its uploads hold it or
// wait for it (the entry goes when none do).
type turn struct {
	c     chan struct{}
	users int
}

// NewSlots makes n slots; an upload waits up to wait for one.
func NewSlots(n int, wait time.Duration) *Slots {
	return &Slots{free: make(chan struct{}, max(n, 1)), wait: wait, accounts: map[string]*turn{}}
}

// Take waits for the account's turn and a slot, and returns their
// release. When they do not come within the wait it is an Unavailable
// error, which the API answers 503 with Retry-After and the console as a
// page asking to try again; when ctx ends first, ctx's error.
func (s *Slots) Take(ctx context.Context, accountID string) (release func(), err error) {
	if s == nil {
		return func() {}, nil
	}
	s.mu.Lock()
	t := s.accounts[accountID]
	if t == nil {
		t = &turn{c: make(chan struct{}, 1)}
		s.accounts[accountID] = t
	}
	t.users++
	s.mu.Unlock()
	leave := func() {
		s.mu.Lock()
		if t.users--; t.users == 0 {
			delete(s.accounts, accountID)
		}
		s.mu.Unlock()
	}
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	busy := &directory.Error{Kind: directory.Unavailable,
		Message: "admit is reading other uploaded files just now; try again in a minute"}
	select {
	case t.c <- struct{}{}:
	case <-timer.C:
		leave()
		return nil, busy
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	select {
	case s.free <- struct{}{}:
		return func() { <-s.free; <-t.c; leave() }, nil
	case <-timer.C:
		err = busy
	case <-ctx.Done():
		err = ctx.Err()
	}
	<-t.c
	leave()
	return nil, err
}
