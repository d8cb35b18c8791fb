package events

import (
	"context"
	"slices"
	"sync"
	"time"
)

// window bounds the requests in flight to one endpoint by how long its
// answers take: as many at a time as start one about every gap, at most
// max. An endpoint that answers within gap gets one request at a time,
// one that takes ten gaps ten at a time. Throughput is the same either
// way (about one delivery a gap, or more for a fast endpoint), but a
// fast endpoint's backlog then goes out one request after another, on
// one core, where max requests at once took both cores of a small
// machine for milliseconds, and the SCIM requests that came meanwhile
// waited for them (their p99 rose by half again). Before the first
// answer, and while answers are late, the oldest request in flight tells
// the latency, so a hanging endpoint still gets max at once.
//
// Waiters are let in first come, first served, each woken alone: a
// broadcast to every delivery waiting for a fast endpoint, at each
// answer, would cost more than the requests.
type window struct {
	gap time.Duration
	max int

	mu      sync.Mutex
	latency time.Duration    // moving average of the answers' times; 0 before the first
	started []time.Time      // of the requests in flight
	queue   []chan time.Time // waiters, in order
	timer   *time.Timer      // lets the next waiter in when the window grows with age
}

func newWindow(gap time.Duration, max int) *window {
	return &window{gap: gap, max: max}
}

// size is how many requests may be in flight at now.
func (w *window) size(now time.Time) int {
	est := w.latency
	if len(w.started) > 0 {
		est = max(est, now.Sub(slices.MinFunc(w.started, time.Time.Compare)))
	}
	n := int((est + w.gap - 1) / w.gap)
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
	for len(w.queue) > 0 && len(w.started) < w.size(now) {
		w.started = append(w.started, now)
		w.queue[0] <- now
		w.queue = w.queue[1:]
	}
	if len(w.queue) == 0 || len(w.started) >= w.max || len(w.started) == 0 {
		return
	}
	oldest := slices.MinFunc(w.started, time.Time.Compare)
	wait := oldest.Add(time.Duration(len(w.started))*w.gap + 1).Sub(now)
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
