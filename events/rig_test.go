package events_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// eachURL runs fn on a fresh SQLite and a fresh PostgreSQL database, by
// URL, so that a test can open it twice (two replicas).
func eachURL(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.PostgresURL(t)) })
}

func openStore(t testing.TB, url string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// rig is one admit replica's part in delivery: a directory service on a
// store, the server key's sealer and the guarded client, which may reach
// the loopback receivers because the test allows them, as an operator
// would with ADMIT_OUTBOUND_ALLOW.
type rig struct {
	svc    *directory.Service
	clk    *clock
	sealer *certs.Sealer
	fetch  *fetch.Client

	mu     sync.Mutex
	counts map[string]countsSeen // see retryNow
}

// sealKey is the server key's sealing key, the same in every replica.
var sealKey = func() []byte { k := make([]byte, 32); _, _ = rand.Read(k); return k }()

func newRig(t testing.TB, s *store.Store, clk *clock, timeout time.Duration) *rig {
	t.Helper()
	sealer, err := certs.NewSealer(sealKey)
	if err != nil {
		t.Fatal(err)
	}
	allow, err := fetch.ParseAllow("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return &rig{
		svc: newClockService(t, s, clk), clk: clk, sealer: sealer,
		fetch: fetch.New(fetch.Config{Allow: allow, Timeout: timeout}),
	}
}

// config is a worker's configuration on the rig. Tests look for work
// every 10 ms and work in rounds 20 ms apart: they move the clock by
// hours while a worker runs, and at the production pace simulated days
// went by between two rounds.
func (r *rig) config() events.Config {
	return events.Config{Directory: r.svc, Client: r.fetch, Secrets: r.sealer, Now: r.clk.Now, Poll: 10 * time.Millisecond, Pace: 20 * time.Millisecond}
}

// benchWorker returns a worker as admit runs it: benchmarks measure the
// production pace.
func (r *rig) benchWorker() *events.Worker {
	return events.NewWorker(events.Config{Directory: r.svc, Client: r.fetch, Secrets: r.sealer, Now: r.clk.Now})
}

// start runs a worker until the test ends; set, when not nil, changes
// its configuration first.
func (r *rig) start(t testing.TB, set ...func(*events.Config)) {
	t.Helper()
	cfg := r.config()
	for _, f := range set {
		f(&cfg)
	}
	w := events.NewWorker(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// retryNow moves the clock to the next retry of the webhook's pending
// deliveries that no worker holds (every claim of theirs has its attempt
// recorded): simulated time then never outruns an attempt in flight and
// its lease.
//
// A claim's count can stay one ahead of the attempts recorded: when the
// clock jumps past a lease, a delivery given back unsent (its lease about
// to end) can be claimed again before it is given back, and the release
// then leaves the newer claim's count alone. One whose counts have stood
// still for a second is taken as held by no worker (tests' rounds are 20
// ms apart); should it be in flight after all, its next attempt is not
// later than now (it was due when claimed), so the clock does not move.
func (r *rig) retryNow(t testing.TB, webhookID string) {
	t.Helper()
	ctx := context.Background()
	ds, err := r.svc.WebhookDeliveries(ctx, webhookID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Status != directory.DeliveryPending || d.Attempts == 0 {
			continue
		}
		attempts, err := r.svc.WebhookAttempts(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(attempts) == d.Attempts || r.stillFor(d.ID, [2]int{d.Attempts, len(attempts)}) > time.Second {
			r.clk.advanceTo(d.NextAttemptAt)
		}
	}
}

// stillFor returns how long, in real time, a delivery's claim and attempt
// counts have been counts (0 when they just changed).
func (r *rig) stillFor(id string, counts [2]int) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]countsSeen{}
	}
	seen, ok := r.counts[id]
	if !ok || seen.counts != counts {
		r.counts[id] = countsSeen{counts, time.Now()}
		return 0
	}
	return time.Since(seen.since)
}

type countsSeen struct {
	counts [2]int
	since  time.Time
}

// webhook adds an endpoint and returns it with its secret.
func (r *rig) webhook(t testing.TB, url, accountID string, types ...string) (directory.Webhook, string) {
	t.Helper()
	secret := events.NewSecret()
	w, err := r.svc.AddWebhook(context.Background(), operator, directory.NewWebhook{AccountID: accountID, URL: url, EventTypes: types},
		func(purpose string) string { return r.sealer.Seal([]byte(secret), purpose) })
	if err != nil {
		t.Fatal(err)
	}
	return w, secret
}

// keptOwnersWebhook stores an owner's endpoint at url as one was kept
// before admit refused, when it is added, an address no owner's endpoint
// may reach: a worker must still refuse it at each attempt, as it must a
// name that comes to resolve to such an address.
func (r *rig) keptOwnersWebhook(t testing.TB, s *store.Store, accountID, url string) directory.Webhook {
	t.Helper()
	now := r.clk.Now()
	w := directory.Webhook{ID: uuid.Must(uuid.NewV7()).String(), AccountID: accountID, URL: url, CreatedAt: now, UpdatedAt: now, PublicOnly: true}
	w.Secret = r.sealer.Seal([]byte(events.NewSecret()), directory.WebhookSecretPurpose(w.ID))
	if err := s.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

// received is one request a receiver got.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
	Status                   int
}

// receiver is a platform's webhook endpoint on loopback. answer decides
// the status of each request (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(r received) int
	// retryAfter is the Retry-After header of answers that are not 2xx.
	retryAfter string
}

func newReceiver(t testing.TB) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r := received{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"), Signature: req.Header.Get("webhook-signature"), Body: body, Status: 200}
		rc.mu.Lock()
		answer := rc.answer
		rc.mu.Unlock()
		if answer != nil {
			r.Status = answer(r)
		}
		rc.mu.Lock()
		rc.got = append(rc.got, r)
		if r.Status/100 != 2 && rc.retryAfter != "" {
			w.Header().Set("Retry-After", rc.retryAfter)
		}
		rc.mu.Unlock()
		w.WriteHeader(r.Status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// holdFirst makes rc hold its first request until free is called, and
// acknowledge every request; started counts the requests begun. Call it
// after starting the worker: free then runs before the worker is stopped,
// which waits for the request.
func holdFirst(t testing.TB, rc *receiver) (started *atomic.Int64, free func()) {
	release := make(chan struct{})
	started = &atomic.Int64{}
	rc.setAnswer(func(received) int {
		if started.Add(1) == 1 {
			<-release
		}
		return 200
	})
	var once sync.Once
	free = func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	return started, free
}

func (rc *receiver) setAnswer(f func(r received) int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.answer = f
}

// setRetryAfter makes rc ask, in its answers that are not 2xx, to be left
// alone: Retry-After v ("" for none).
func (rc *receiver) setRetryAfter(v string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.retryAfter = v
}

// accepted returns the requests the receiver acknowledged, in the order
// they came.
func (rc *receiver) accepted() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []received
	for _, r := range rc.got {
		if r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// acceptedCount is len(rc.accepted()) without the copy: benchmarks poll
// it every 10 ms, and copying tens of thousands of requests each time
// took a core's tenth from the worker being measured.
func (rc *receiver) acceptedCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, r := range rc.got {
		if r.Status >= 200 && r.Status < 300 {
			n++
		}
	}
	return n
}

// distinct returns the ids of the events the receiver acknowledged.
func (rc *receiver) distinct() map[string]bool {
	out := map[string]bool{}
	for _, r := range rc.accepted() {
		out[r.ID] = true
	}
	return out
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// feed returns every published event in order.
func feed(t testing.TB, svc *directory.Service, accountID string) []directory.Event {
	t.Helper()
	var out []directory.Event
	var after int64
	for {
		evs, err := svc.Events(context.Background(), accountID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}
