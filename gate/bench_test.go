package gate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/store/storetest"
)

// clients is the load: 16 proxies' requests at once.
const clients = 16

// BenchmarkVerifyPostgres measures /auth/verify on PostgreSQL with 16
// concurrent clients (each its own session, as 16 browsers), beside the
// bare point-select rate of the same database in the same run (16 clients
// reading one user by primary key): the targets are p99 < 5 ms and
// at least half the point-select rate. "reused" is the gate as it runs
// (answers kept FreshFor); "every-time" asks the directory on each request,
// the cost of a first request or of sessions FreshFor never sees twice.
func BenchmarkVerifyPostgres(b *testing.B) {
	st := storetest.Postgres(b)
	e := newEnv(b, st, nil)
	ctx := context.Background()
	tokens := make([]string, clients)
	for i := range tokens {
		var err error
		if tokens[i], _, err = e.dir.StartSession(ctx, e.member.User.ID, e.account.ID, directory.Credential{Method: directory.MethodPassword}); err != nil {
			b.Fatal(err)
		}
	}
	selectRate := func(n int) float64 {
		start := time.Now()
		run(n, func(int) {
			var id string
			if err := st.DB().QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1`, e.member.User.ID).Scan(&id); err != nil {
				b.Error(err)
			}
		})
		return float64(n) / time.Since(start).Seconds()
	}
	verify := func(client int) time.Duration {
		r := httptest.NewRequest(http.MethodGet, "http://admit.internal"+gate.VerifyPath, nil)
		r.Header.Set("X-Forwarded-Host", "app.test")
		r.Header.Set("X-Forwarded-Uri", "/docs")
		r.AddCookie(&http.Cookie{Name: "admit_session", Value: tokens[client]})
		w := httptest.NewRecorder()
		start := time.Now()
		e.handler.ServeHTTP(w, r)
		took := time.Since(start)
		if w.Code != http.StatusOK {
			b.Errorf("verify: %d", w.Code)
		}
		return took
	}
	for _, mode := range []string{"reused", "every-time"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "every-time" {
				gate.WithoutReuse(e.gate)
			}
			n := max(b.N, clients*20)
			selects := selectRate(n)
			var mu sync.Mutex
			took := make([]time.Duration, 0, n)
			b.ResetTimer()
			start := time.Now()
			run(n, func(client int) {
				d := verify(client)
				mu.Lock()
				took = append(took, d)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(took)
			rate := float64(n) / elapsed.Seconds()
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(rate, "verify/s")
			b.ReportMetric(selects, "select/s")
			b.ReportMetric(rate/selects, "verify/select")
		})
	}
}

// run calls fn n times from clients goroutines, fn given its client.
func run(n int, fn func(client int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				fn(c)
			}
		})
	}
	wg.Wait()
}
