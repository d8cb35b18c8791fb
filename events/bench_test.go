package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkDelivery measures delivery throughput to a local receiver: the
// events of benchPeople SCIM creates (two each) are made first, untimed,
// then one worker publishes, signs and delivers them all. It reports
// events/s (the target is 1,000 or more), to a receiver that answers at
// once and to one that takes 5 ms, as one across a network does: the
// worker sends to the first one request at a time, to the second as many
// at once as send what waits within 25 ms (see events.Config.SendWithin).
//
//	go test -run '^$' -bench Delivery -benchtime 1x ./events/
func BenchmarkDelivery(b *testing.B) {
	const benchPeople = 2500
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		for _, answer := range []time.Duration{0, 5 * time.Millisecond} {
			b.Run(fmt.Sprintf("answer=%s", answer), func(b *testing.B) {
				var total time.Duration
				events := 0
				for i := range b.N {
					b.StopTimer()
					clk := newClock()
					r := newRig(b, s, clk, 0)
					rc := newReceiver(b)
					if answer > 0 {
						rc.setAnswer(func(received) int { time.Sleep(answer); return 200 })
					}
					slug := fmt.Sprintf("bench%d%d", answer.Milliseconds(), i)
					a := mustAccount(b, r.svc, slug, slug+".example")
					r.webhook(b, rc.URL, a.ID)
					scimCreates(b, r.svc, a, "p", benchPeople)
					b.StartTimer()
					start := time.Now()
					ctx, cancel := context.WithCancel(context.Background())
					done := make(chan struct{})
					w := r.benchWorker()
					go func() { w.Run(ctx); close(done) }()
					waitFor(b, "every event delivered", 5*time.Minute, func() bool { return rc.acceptedCount() >= 2*benchPeople })
					total += time.Since(start)
					events += 2 * benchPeople
					b.StopTimer()
					cancel()
					<-done
				}
				b.ReportMetric(float64(events)/total.Seconds(), "events/s")
			})
		}
	})
}
