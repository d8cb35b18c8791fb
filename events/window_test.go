package events

import (
	"context"
	"testing"
	"time"
)

// TestWindowSize: an endpoint gets as many requests at a time as send
// what waits for it within the window's time (here 50 ms), by the average
// of its answers or the age of the oldest request in flight, whichever is
// longer; at least one, at most max.
func TestWindowSize(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		latency time.Duration
		oldest  time.Duration // age of the oldest of two requests in flight; none when 0
		queued  int
		want    int
	}{
		{"no answer yet", 0, 0, 1, 1},
		{"fast, a hundred waiting", 300 * time.Microsecond, 0, 100, 1},
		{"fast, two hundred waiting", 300 * time.Microsecond, 0, 200, 2},
		{"5 ms answers, one waiting", 5 * time.Millisecond, 0, 1, 1},
		{"5 ms answers, a hundred waiting", 5 * time.Millisecond, 0, 100, 10},
		{"slower than max allows", time.Second, 0, 100, 32},
		{"a request out longer than the answers took", time.Millisecond, 5 * time.Millisecond, 18, 2},
		{"a young request", 8 * time.Millisecond, time.Millisecond, 8, 2},
		{"hanging", 0, time.Minute, 10, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow(50*time.Millisecond, 32)
			w.latency = tc.latency
			if tc.oldest > 0 {
				w.started = []time.Time{now.Add(-tc.oldest / 2), now.Add(-tc.oldest)}
			}
			w.queue = make([]chan time.Time, tc.queued)
			if got := w.size(now); got != tc.want {
				t.Errorf("size = %d; want %d", got, tc.want)
			}
		})
	}
}

// TestWindowLetsInInTurn: with the window full, a waiter gets in when a
// request leaves, first come first served; one whose ctx ends leaves
// the queue, and a place given to it as it gave up goes to the next.
func TestWindowLetsInInTurn(t *testing.T) {
	w := newWindow(time.Hour, 4) // to send within an hour: one at a time, and nothing ages into more
	ctx := context.Background()
	first, ok := w.enter(ctx)
	if !ok {
		t.Fatal("the first request waited")
	}
	order := make(chan int, 3)
	gaveUp, giveUp := context.WithCancel(ctx)
	entered := make(chan time.Time, 3)
	waiter := func(ctx context.Context, n int) {
		start, ok := w.enter(ctx)
		if ok {
			order <- n
			entered <- start
		}
	}
	go waiter(ctx, 1)
	waitQueue(t, w, 1)
	go waiter(gaveUp, 2)
	waitQueue(t, w, 2)
	go waiter(ctx, 3)
	waitQueue(t, w, 3)
	giveUp()
	waitQueue(t, w, 2)
	select {
	case n := <-order:
		t.Fatalf("waiter %d got in while the window was full", n)
	default:
	}
	w.leave(first, time.Millisecond/2)
	if n := <-order; n != 1 {
		t.Fatalf("waiter %d got in first; want 1", n)
	}
	w.leave(<-entered, time.Millisecond/2)
	if n := <-order; n != 3 {
		t.Fatalf("waiter %d got in; want 3 (2 gave up)", n)
	}
	w.leave(<-entered, 0)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.started) != 0 || len(w.queue) != 0 {
		t.Errorf("%d in flight and %d waiting after every request left", len(w.started), len(w.queue))
	}
}

// TestWindowWidensWithAge: a request out long enough lets the next in
// without waiting for its answer, so an endpoint that hangs gets max
// requests at once.
func TestWindowWidensWithAge(t *testing.T) {
	w := newWindow(time.Millisecond, 3)
	ctx := context.Background()
	got := make(chan time.Time, 4)
	for range 4 {
		go func() {
			if start, ok := w.enter(ctx); ok {
				got <- start
			}
		}()
	}
	var starts []time.Time
	for range 3 {
		select {
		case s := <-got:
			starts = append(starts, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of 3 requests let in with none answered", len(starts))
		}
	}
	select {
	case <-got:
		t.Fatal("a fourth request let in past max")
	case <-time.After(20 * time.Millisecond):
	}
	for _, s := range starts {
		w.leave(s, time.Millisecond/2)
	}
	<-got
}

// waitQueue waits until n requests wait for w.
func waitQueue(t *testing.T, w *window, n int) {
	t.Helper()
	for range 1000 {
		w.mu.Lock()
		q := len(w.queue)
		w.mu.Unlock()
		if q == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never %d waiting", n)
}

// TestWindowGivenUpAsLetIn: a waiter whose ctx ends as it is let in
// gives its place back, exactly once, whichever happened first.
func TestWindowGivenUpAsLetIn(t *testing.T) {
	w := newWindow(time.Hour, 1)
	ended, end := context.WithCancel(context.Background())
	end()
	for range 200 {
		// Room for it, and its ctx ended: both are ready as it waits.
		if start, ok := w.enter(ended); ok {
			w.leave(start, 0)
		}
		w.mu.Lock()
		inFlight, waiting := len(w.started), len(w.queue)
		w.mu.Unlock()
		if inFlight != 0 || waiting != 0 {
			t.Fatalf("%d in flight and %d waiting after a waiter gave up", inFlight, waiting)
		}
	}
	if _, ok := w.enter(context.Background()); !ok {
		t.Fatal("no place left after waiters gave up")
	}
}

// TestWindowKeepsItsWidthForABacklog: sized for what waits when it came,
// the window stays that wide until all of it is sent; narrowing as it
// went, the last of a backlog went one at a time and a round of a
// hundred deliveries to a 5 ms endpoint took three times as long.
func TestWindowKeepsItsWidthForABacklog(t *testing.T) {
	// Answers of 500 s to send within 5,000 s: a hundred waiting, ten at
	// once (the requests' own ages, milliseconds here, widen nothing).
	w := newWindow(5000*time.Second, 32)
	w.latency = 500 * time.Second
	ctx := context.Background()
	const backlog = 100
	entered := make(chan time.Time, backlog)
	for range backlog {
		go func() {
			if start, ok := w.enter(ctx); ok {
				entered <- start
			}
		}()
	}
	waitQueue(t, w, backlog-10)
	for sent := 0; sent < backlog; sent += 10 {
		starts := make([]time.Time, 0, 10)
		for range 10 {
			select {
			case s := <-entered:
				starts = append(starts, s)
			case <-time.After(10 * time.Second):
				t.Fatalf("%d of 10 requests let in with %d sent: the window narrowed", len(starts), sent)
			}
		}
		w.mu.Lock()
		inFlight := len(w.started)
		w.mu.Unlock()
		if inFlight != 10 {
			t.Fatalf("%d in flight with %d sent; want 10", inFlight, sent)
		}
		for _, s := range starts {
			w.leave(s, 500*time.Second)
		}
	}
}
