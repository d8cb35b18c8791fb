package events

import (
	"context"
	"slices"
	"sync"
	"time"
)

// window bounds the requests in flight to one endpoint by how long its
// answers take and how many deliveries wait for it: as many at a time as
// send them all within `within`, at the pace its answers came, at least
// one and at most max; sized when they came, it keeps that size until
// they are sent. With 25 ms, an endpoint answering in 0.2 ms gets a
// backlog of a hundred one request after another; one answering in 5 ms
// gets twenty at once. Sending to a fast endpoint max requests at once gained
// nothing, and took both cores of a small machine for milliseconds: the
// SCIM requests that came meanwhile waited for them (their p99 rose by
// half again). Before the first answer, and while answers are late, the
// oldest request in flight tells the latency, so a hanging endpoint still
// gets max at once.
//
// Waiters are let in first come, first served, each woken alone: a
// broadcast to every delivery waiting for a fast endpoint, at each
// answer, would cost more than the requests.
type window struct {
	within time.Duration
	max    int

	mu      sync.Mutex
	latency time.Duration    // moving average of the answers' times; 0 before the first
	peak    int              // the widest the window was since nothing waited
	started []time.Time      // of the requests in flight
	queue   []chan time.Time // waiters, in order
	timer   *time.Timer      // lets the next waiter in when the window grows with age
}

func newWindow(within time.Duration, max int) *window {
	return &window{within: within, max: max}
}

// size is how many requests may be in flight at now.
func (w *window) size(now time.Time) int {
	est := w.latency
	if len(w.started) > 0 {
		est = max(est, now.Sub(slices.MinFunc(w.started, time.Time.Compare)))
	}
	// Sending every waiting delivery one after another takes est each.
	waiting := time.Duration(len(w.started) + len(w.queue))
	n := int((est*waiting + w.within - 1) / w.within)
	return min(max(n, 1), w.max)
}

// enter waits for a place in the window and returns when the request
// started; false when ctx ended first.
func (w *window) enter(ctx context.Context) (time.Time, bool) {
	ch := make(chan time.Time, 1)
	w.mu.Lock()
	w.queue = append(w.queue, ch)
	w.admit()
	w.mu.Unlock()
	select {
	case start := <-ch:
		return start, true
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.queue, ch); i >= 0 {
		w.queue = slices.Delete(w.queue, i, i+1)
		return time.Time{}, false
	}
	// Let in as ctx ended: the place goes to the next.
	w.leaveLocked(<-ch, 0)
	return time.Time{}, false
}

// leave ends the request that started at start; took is how long its
// answer took, 0 when it was not sent.
func (w *window) leave(start time.Time, took time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.leaveLocked(start, took)
}

func (w *window) leaveLocked(start time.Time, took time.Duration) {
	if i := slices.IndexFunc(w.started, start.Equal); i >= 0 {
		w.started = slices.Delete(w.started, i, i+1)
	}
	if took > 0 {
		if w.latency == 0 {
			w.latency = took
		} else {
			w.latency += (took - w.latency) / 4
		}
	}
	w.admit()
}

// admit lets waiters in while the window has room, and when it is full
// only because the requests in flight are young, wakes itself when the
// oldest has been out long enough to widen it.
func (w *window) admit() {
	now := time.Now()
	// Sized for what waits when it came, the window keeps that size until
	// it is all sent: resized as it went, it narrowed with what was left,
	// and the last of a backlog went one at a time.
	w.peak = max(w.peak, w.size(now))
	for len(w.queue) > 0 && len(w.started) < w.peak {
		w.started = append(w.started, now)
		w.queue[0] <- now
		w.queue[0] = nil // not kept alive by the array
		w.queue = w.queue[1:]
	}
	if len(w.queue) == 0 {
		w.peak = 0
	}
	if len(w.queue) == 0 || len(w.started) >= w.max || len(w.started) == 0 {
		return
	}
	// The window widens by one when the oldest request has been out
	// for as long as within shared among what waits, times the requests
	// in flight.
	oldest := slices.MinFunc(w.started, time.Time.Compare)
	waiting := time.Duration(len(w.started) + len(w.queue))
	wait := oldest.Add(time.Duration(len(w.started))*w.within/waiting + 1).Sub(now)
	if w.timer == nil {
		w.timer = time.AfterFunc(wait, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.admit()
		})
		return
	}
	w.timer.Reset(wait)
}
