package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/directory"
)

// Directory is what the worker needs of the directory.
type Directory interface {
	PublishAndLeaseEvents(ctx context.Context, limit int, lease directory.DeliveryLease) (int, []directory.WebhookDelivery, error)
	ClaimWebhookDeliveries(ctx context.Context, limit int, lease directory.DeliveryLease) ([]directory.WebhookDelivery, error)
	StoppedWebhooks(ctx context.Context, ids []string) (stopped map[string]bool, paused map[string]time.Time, err error)
	RecordWebhookResults(ctx context.Context, rs []directory.WebhookResult, lease directory.DeliveryLease) ([]directory.WebhookDelivery, error)
	SweepEvents(ctx context.Context, retention time.Duration) (int64, error)
	AnalyzeDeliveries(ctx context.Context) error
	OldestUnpublishedEvent(ctx context.Context) (*time.Time, error)
	WebhookHealth(ctx context.Context) ([]directory.WebhookHealth, error)
}

// Poster sends a request body and returns the answer's status and
// header; *fetch.Client is the real one, with every rule of outbound
// requests.
type Poster interface {
	Post(ctx context.Context, url string, header http.Header, body []byte) (int, http.Header, error)
}

// Opener opens sealed secrets; *certs.Sealer is the real one.
type Opener interface {
	Open(sealed, purpose string) ([]byte, error)
}

// Config is what a Worker is built from. Directory, Client and Secrets are
// required.
type Config struct {
	Directory Directory
	Client    Poster
	// PublicClient sends to the endpoints an account's owners chose
	// (Webhook.PublicOnly): the same rules without the operators' allow
	// list, so public addresses only. Without it, their deliveries fail
	// rather than go through Client, into the networks the operators
	// allowed.
	PublicClient Poster
	Secrets      Opener
	Logger       *slog.Logger
	// Now stamps signatures, ends rotation overlaps and tells whether a
	// delivery's lease has room for its attempt (the directory times
	// leases with the same clock); time.Now when nil.
	Now func() time.Time
	// Poll is how long the worker waits when there is nothing to do.
	Poll time.Duration
	// Pace is how long the worker waits between rounds (record, publish,
	// claim) when there is work but no backlog; 200 ms by default. Every
	// round costs the database a few transactions whatever it carries,
	// and they take turns on the cores with the requests admit is
	// serving: a worker that claimed the moment a delivery finished made
	// SCIM latency rise by a third while webhooks were delivered. Events
	// wait at most about Pace longer.
	Pace time.Duration
	// Concurrency bounds the deliveries this worker holds (taken and
	// not yet back from their attempt), PerWebhook those of one webhook
	// (an eighth, by default) and PerAccount those of one account's
	// webhooks together (a quarter; an account has at most
	// directory.MaxAccountWebhooks), so that slow endpoints leave the
	// others room: their owners must control four accounts to fill a
	// worker. The rest of a webhook's deliveries wait their turn in the
	// worker: requests to one endpoint go as many at once as send what
	// waits for it within SendWithin (25 ms by default) at the pace of
	// its answers, at most Parallel (see window): to an endpoint that
	// answers in a fraction of a millisecond, one or two at a time; to one
	// that takes 5 ms, 26 at once for a backlog of 128. PerWebhook/Parallel
	// requests one after another, each taking the outbound client's whole
	// timeout, should end well within a lease (by default 4 times 10 s,
	// against 90 s); a delivery still waiting then is not sent.
	Concurrency int
	PerWebhook  int
	PerAccount  int
	Parallel    int
	SendWithin  time.Duration
	// Retention is how long events are kept (directory.EventRetention
	// when zero); SweepEvery is how often old ones are swept.
	Retention  time.Duration
	SweepEvery time.Duration
	// AnalyzeAfter is how many events this worker publishes (10,000 by
	// default) before it has the database refresh its statistics of
	// deliveries, at most once a minute (see
	// directory.Service.AnalyzeDeliveries): planned from statistics read
	// before a burst, every look for pending deliveries walked them all.
	AnalyzeAfter int
	// TestTimeout bounds a test event's attempt (Test); 10 s, the
	// outbound client's own timeout, by default.
	TestTimeout time.Duration
}

// Worker publishes events and delivers them to webhooks.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	outage  *directory.Outage
	metrics metrics
}

// NewWorker returns a worker with cfg, its zero fields defaulted.
func NewWorker(cfg Config) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Pace <= 0 {
		cfg.Pace = 200 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1024
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = 128
	}
	if cfg.PerAccount <= 0 {
		cfg.PerAccount = 256
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	if cfg.SendWithin <= 0 {
		cfg.SendWithin = 25 * time.Millisecond
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Hour
	}
	if cfg.AnalyzeAfter <= 0 {
		cfg.AnalyzeAfter = 10_000
	}
	if cfg.TestTimeout <= 0 {
		cfg.TestTimeout = 10 * time.Second
	}
	return &Worker{cfg: cfg, log: cfg.Logger, outage: &directory.Outage{Log: cfg.Logger, What: "webhook worker"}, metrics: newMetrics()}
}

// Collectors are the worker's metrics, for the server to register with
// its others: attempts by outcome, the lag of deliveries, how long the
// oldest unpublished event has waited, and how the webhooks stand
// (docs/operations.md).
func (w *Worker) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.metrics.attempts, w.metrics.lag, newFromDatabase(w.cfg.Directory, w.cfg.Now, w.log)}
}

// publishBatch is how many events one publishing transaction numbers;
// claimBatch bounds one claim, so that one worker does not lease what
// others could be sending.
const (
	publishBatch = 500
	claimBatch   = 512
)

// recordBatch bounds how many attempts one transaction records.
const recordBatch = 256

// leaseMargin is how long before its lease ends a delivery's attempt must
// start. The lease (directory.WebhookLease, 2 minutes from when it was
// taken) must outlast the attempt (up to the outbound client's 10 s) and
// its record (the next round), with room for the clocks of replicas to
// differ: a delivery whose lease ran out is claimed and sent again by
// another worker, perhaps after the person's next event. One that waited
// longer (for a slow endpoint's turn) is given back unsent instead.
const leaseMargin = 30 * time.Second

// endpoint is what a worker knows of a webhook it holds deliveries of.
type endpoint struct {
	held   int     // deliveries held; the Run goroutine's own
	window *window // of the requests in flight
	// stopped: it answered 410 Gone, or it was disabled or removed; its
	// deliveries still waiting are given back unsent.
	stopped atomic.Bool
	// pausedUntil (Unix nanoseconds): it asked to be left alone until
	// then (Retry-After); its deliveries still waiting are given back
	// unsent, and none is claimed for it before then.
	pausedUntil atomic.Int64
}

// pause leaves ep alone until until, unless it is left alone longer.
func (ep *endpoint) pause(until time.Time) {
	for {
		old := ep.pausedUntil.Load()
		if until.UnixNano() <= old || ep.pausedUntil.CompareAndSwap(old, until.UnixNano()) {
			return
		}
	}
}

// paused reports whether ep is left alone at now.
func (ep *endpoint) paused(now time.Time) bool { return now.UnixNano() < ep.pausedUntil.Load() }

// returned is a delivery back from its attempt, or not attempted (the
// worker stopped, the endpoint stopped, or it waited too long): then it
// is given back, and the next claim takes it.
type returned struct {
	r         directory.WebhookResult
	round     int
	attempted bool
}

// Run publishes, delivers and sweeps until ctx ends, then waits for the
// deliveries in flight and records them.
//
// It works in rounds, one step after another in this goroutine: record
// the attempts that came back since the last round, publish what is new,
// claim what else is due, and send. A delivery that becomes ready to send
// as attempts are recorded (a person's next event, which waited for the
// one just delivered) or as its event is published is leased to the
// worker there and then, so a claim only finds retries and what other
// workers left; and the steps come one at a time, so the worker never
// holds two of the database's connections (and cores) at once. Sweeping
// old events, and refreshing the statistics after a burst, run beside the
// rounds: a long sweep must not hold up recording until leases run out.
//
// A round follows the last one at once while there is a backlog: a full
// batch published, or the worker took all it may, and this round's
// deliveries have come back. Otherwise the next round waits Pace (Poll
// when there is nothing to do), and what came meanwhile goes in one.
func (w *Worker) Run(ctx context.Context) {
	done := make(chan returned, w.cfg.Concurrency)
	inFlight, endpoints, accounts := 0, map[string]*endpoint{}, map[string]int{}
	var results []directory.WebhookResult
	round, outstanding := 0, 0 // this round's deliveries not back yet
	finish := func(b returned) {
		id, account := b.r.Delivery.WebhookID, b.r.Delivery.Webhook.AccountID
		inFlight--
		if ep := endpoints[id]; ep != nil {
			if ep.held--; ep.held == 0 {
				delete(endpoints, id)
			}
		}
		if account != "" {
			if accounts[account]--; accounts[account] <= 0 {
				delete(accounts, account)
			}
		}
		if b.round == round {
			outstanding--
		}
		if !b.attempted {
			b.r.NotAttempted = true
		}
		results = append(results, b.r)
	}
	var beside sync.WaitGroup
	defer func() {
		for inFlight > 0 {
			finish(<-done)
		}
		// Attempts that end as the worker stops are still recorded: each
		// is an attempt that happened.
		w.record(context.WithoutCancel(ctx), results, directory.DeliveryLease{})
		beside.Wait()
	}()
	// lease is what the worker may take now: room for Concurrency, and
	// nothing of a stopped endpoint.
	lease := func() directory.DeliveryLease {
		l := directory.DeliveryLease{Room: w.cfg.Concurrency - inFlight, PerWebhook: w.cfg.PerWebhook,
			Held: make(map[string]int, len(endpoints)), PerAccount: w.cfg.PerAccount, HeldByAccount: maps.Clone(accounts),
			Skip: map[string]bool{}}
		if ctx.Err() != nil {
			l.Room = 0 // stopping: take nothing more
		}
		now := w.cfg.Now()
		for id, ep := range endpoints {
			l.Held[id] = ep.held
			if ep.stopped.Load() || ep.paused(now) {
				l.Skip[id] = true
			}
		}
		return l
	}
	var batch []directory.WebhookDelivery
	take := func(ds []directory.WebhookDelivery) {
		for _, d := range ds {
			inFlight++
			ep := endpoints[d.WebhookID]
			if ep == nil {
				ep = &endpoint{window: newWindow(w.cfg.SendWithin, w.cfg.Parallel)}
				endpoints[d.WebhookID] = ep
			}
			ep.held++
			if a := d.Webhook.AccountID; a != "" {
				accounts[a]++
			}
		}
		batch = append(batch, ds...)
	}
	// dispatch sends the round's deliveries, the i-th after i*spread.
	dispatch := func(spread time.Duration) {
		outstanding = len(batch)
		rd := round
		for i, d := range batch {
			ep := endpoints[d.WebhookID]
			go func() {
				b := returned{r: directory.WebhookResult{Delivery: d}, round: rd}
				// The delivery stays leased until its result is recorded,
				// so no claim takes it, or what follows it about the same
				// person, meanwhile.
				defer func() { done <- b }()
				if !sleep(ctx, time.Duration(i)*spread) {
					return
				}
				start, ok := ep.window.enter(ctx)
				if !ok {
					return
				}
				defer func() { ep.window.leave(start, b.r.Took) }()
				now := w.cfg.Now()
				if ep.stopped.Load() || ep.paused(now) || !now.Before(d.LeasedUntil.Add(-leaseMargin)) || ctx.Err() != nil {
					return
				}
				b.r, b.attempted = w.Deliver(ctx, d), true
				if b.r.Status == http.StatusGone {
					ep.stopped.Store(true) // it is disabled as this is recorded
				}
				if b.r.RetryAfter > 0 {
					ep.pause(w.cfg.Now().Add(directory.PauseFor(b.r.RetryAfter)))
				}
			}()
		}
	}
	var lastSweep, lastAnalyze time.Time
	unanalyzed := 0 // events published since the last analyze
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		for drained := false; !drained; {
			select {
			case b := <-done:
				finish(b)
			default:
				drained = true
			}
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastSweep) >= w.cfg.SweepEvery {
			lastSweep = time.Now()
			beside.Go(func() { w.sweep(ctx) })
		}
		round++
		outstanding, batch = 0, nil
		// Recorded whatever ctx does: each is an attempt that happened.
		// What could not be recorded (the database is away) is tried
		// again next round; its deliveries stay leased meanwhile.
		var leased []directory.WebhookDelivery
		results, leased = w.record(context.WithoutCancel(ctx), results, lease())
		take(leased)
		w.stopEndpoints(ctx, endpoints)
		published, ds, err := w.cfg.Directory.PublishAndLeaseEvents(ctx, publishBatch, lease())
		take(ds)
		if ctx.Err() != nil {
			dispatch(0) // nothing is attempted: the leases end in time
			return
		}
		if wait, down := w.outage.Check(ctx, err); down {
			// Nothing can be published or claimed until the database is
			// back; deliveries in flight finish, and are recorded then.
			dispatch(0)
			select {
			case b := <-done:
				finish(b)
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			continue
		}
		if err != nil {
			w.log.ErrorContext(ctx, "publish events", "err", err)
		}
		if unanalyzed += published; unanalyzed >= w.cfg.AnalyzeAfter && time.Since(lastAnalyze) >= analyzeEvery {
			unanalyzed, lastAnalyze = 0, time.Now()
			beside.Go(func() { w.analyze(ctx) })
		}
		limit, claimed := 0, 0
		if l := lease(); l.Room > 0 {
			l.Room = min(l.Room, claimBatch)
			limit = l.Room
			// A look at twice the room, so that what is passed over (a
			// webhook at its share) leaves enough; no more, so that a
			// claim locks little of what other replicas could send.
			ds, err := w.cfg.Directory.ClaimWebhookDeliveries(ctx, min(claimBatch, 2*l.Room), l)
			if _, down := w.outage.Check(ctx, err); err != nil && !down && ctx.Err() == nil {
				w.log.ErrorContext(ctx, "claim webhook deliveries", "err", err)
			}
			take(ds)
			claimed = len(ds)
		}
		// The worker took all it may: of everything, of a webhook or an
		// account, or of a claim. (A webhook at its bound because its
		// endpoint is slow counts too: its deliveries go out as its
		// requests end, not spread.)
		full := inFlight >= w.cfg.Concurrency || claimed > 0 && claimed == limit
		for _, d := range batch {
			a := d.Webhook.AccountID
			full = full || endpoints[d.WebhookID].held >= w.cfg.PerWebhook || a != "" && accounts[a] >= w.cfg.PerAccount
		}
		backlog := published == publishBatch || len(batch) > 0 && full
		// While the worker keeps up, the round's deliveries start spread
		// over the Pace rather than all at once: a burst of sends (and of
		// a local receiver's work) took both cores for milliseconds, and
		// requests that came meanwhile waited for them. With a backlog
		// they start at once.
		var spread time.Duration
		if !backlog && len(batch) > 1 {
			spread = w.cfg.Pace / time.Duration(len(batch))
		}
		dispatch(spread)
		if published == publishBatch {
			continue // there are more to publish right away
		}
		wait := w.cfg.Pace
		if published == 0 && len(batch) == 0 && inFlight == 0 && len(results) == 0 {
			wait = w.cfg.Poll
		}
		timer.Reset(wait)
		for waiting := true; waiting; {
			select {
			case b := <-done:
				finish(b)
				waiting = !backlog || outstanding > 0
			case <-timer.C:
				waiting = false
			case <-ctx.Done():
				return
			}
		}
	}
}

// sleep waits d, and reports whether ctx is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// analyzeEvery is the least time between two of a worker's refreshes of
// the delivery statistics: each reads a sample of the tables, tens of
// milliseconds of the database's time.
const analyzeEvery = time.Minute

// analyze has the database refresh its statistics of deliveries.
func (w *Worker) analyze(ctx context.Context) {
	if err := w.cfg.Directory.AnalyzeDeliveries(ctx); err != nil {
		if _, down := w.outage.Check(ctx, err); !down && ctx.Err() == nil {
			w.log.ErrorContext(ctx, "refresh delivery statistics", "err", err)
		}
	}
}

// sweep deletes events older than the retention, and queues the
// deliveries left waiting for nothing (see directory.Service.SweepEvents).
func (w *Worker) sweep(ctx context.Context) {
	n, err := w.cfg.Directory.SweepEvents(ctx, w.cfg.Retention)
	if err != nil {
		if _, down := w.outage.Check(ctx, err); !down && ctx.Err() == nil {
			w.log.ErrorContext(ctx, "sweep events", "err", err)
		}
		return
	}
	if n > 0 {
		w.log.InfoContext(ctx, "swept old events", "rows", n)
	}
}

// keptResults bounds the results a worker keeps for the next round when
// the database could not record them.
const keptResults = 4096

// stopEndpoints marks the endpoints disabled or removed since the worker
// took their deliveries, so that those still waiting for their turn are
// given back unsent rather than sent for as long as their leases last;
// and those that asked another replica to leave them alone, so that
// those waiting are given back (to be claimed when the pause is over).
func (w *Worker) stopEndpoints(ctx context.Context, endpoints map[string]*endpoint) {
	var ids []string
	for id, ep := range endpoints {
		if !ep.stopped.Load() {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	stopped, paused, err := w.cfg.Directory.StoppedWebhooks(ctx, ids)
	if err != nil {
		if _, down := w.outage.Check(ctx, err); !down && ctx.Err() == nil {
			w.log.ErrorContext(ctx, "look for stopped webhooks", "err", err)
		}
		return
	}
	for id := range stopped {
		endpoints[id].stopped.Store(true)
	}
	for id, until := range paused {
		endpoints[id].pause(until)
	}
}

// record writes results, up to recordBatch a transaction, and returns
// those it could not write (for the next round) and the deliveries
// leased as they were made ready. Nothing is leased for an endpoint that
// failed in results: the failure may disable it.
func (w *Worker) record(ctx context.Context, results []directory.WebhookResult, lease directory.DeliveryLease) (left []directory.WebhookResult, leased []directory.WebhookDelivery) {
	lease.Skip = maps.Clone(lease.Skip)
	if lease.Skip == nil {
		lease.Skip = map[string]bool{}
	}
	for _, r := range results {
		if r.Err != nil && !r.NotAttempted {
			lease.Skip[r.Delivery.WebhookID] = true
		}
	}
	for batch := range slices.Chunk(results, recordBatch) {
		ds, err := w.cfg.Directory.RecordWebhookResults(ctx, batch, lease)
		if err != nil {
			if _, down := w.outage.Check(ctx, err); !down {
				w.log.ErrorContext(ctx, "record webhook attempts", "err", err)
			}
			left = append(left, batch...)
			continue
		}
		for _, d := range ds {
			lease.Room--
			lease.Held[d.WebhookID]++
			if a := d.Webhook.AccountID; a != "" {
				lease.HeldByAccount[a]++
			}
		}
		leased = append(leased, ds...)
	}
	if len(left) > keptResults {
		// The deliveries stay leased, and are tried again when the lease
		// ends (with the same webhook-id); their attempts go unlogged.
		w.log.ErrorContext(ctx, "webhook attempts not recorded", "dropped", len(left)-keptResults)
		left = left[len(left)-keptResults:]
	}
	return left, leased
}

// Deliver makes one attempt of d and returns its outcome.
func (w *Worker) Deliver(ctx context.Context, d directory.WebhookDelivery) directory.WebhookResult {
	start := time.Now()
	status, header, err := w.send(ctx, d)
	took := time.Since(start)
	if err == nil && (status < 200 || status > 299) {
		err = fmt.Errorf("the endpoint answered %d %s", status, http.StatusText(status))
	}
	w.metrics.count(d, w.cfg.Now(), status, err)
	detail := Detail(d.Webhook, err) // the log's; the attempt keeps err, which may be less
	// A success is logged at Debug: every attempt is in the database
	// (admit webhook deliveries), and a line for each event, at a
	// thousand a second, was most of the log and a write for each.
	level := slog.LevelDebug
	if err != nil {
		level = slog.LevelWarn
	}
	if w.log.Enabled(ctx, level) {
		attrs := []any{"delivery_id", d.ID, "webhook_id", d.WebhookID, "event_id", d.EventID, "attempt", d.Attempts, "status", status, "took", took}
		if err == nil {
			w.log.Log(ctx, level, "webhook delivered", attrs...)
		} else {
			w.log.Log(ctx, level, "webhook delivery failed", append(attrs, "err", detail)...)
		}
	}
	return directory.WebhookResult{Delivery: d, Status: status, Err: err, Took: took, RetryAfter: askedToWait(status, header, w.cfg.Now())}
}

// askedToWait is how long an endpoint that answered 429 (too many
// requests) or 503 (unavailable) asked to be left alone with Retry-After,
// in seconds or as an HTTP date; 0 when it did not say, or said what is
// neither. (directory.PauseFor bounds what is granted.)
func askedToWait(status int, h http.Header, now time.Time) time.Duration {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		return time.Duration(min(secs, maxAskedWait)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxAskedWait*time.Second)
	}
	return 0
}

// maxAskedWait bounds the seconds of a Retry-After read, far above what
// is granted, so that a huge one cannot overflow a time.Duration.
const maxAskedWait = 1 << 30

// Test sends a test event's delivery (directory.WebhookTest) now, as
// Deliver does, and returns how it went, within Config.TestTimeout. It
// goes on if the caller leaves (its answer may be kept for an
// Idempotency-Key). A test of an owner's endpoint that got no answer is
// answered only once the whole TestTimeout has passed: a refused
// connection answers at once and a silent host only at the timeout, and
// an owner timing the answer would otherwise learn which public hosts
// and ports are open, from admit's address.
func (w *Worker) Test(ctx context.Context, d directory.WebhookDelivery) directory.WebhookResult {
	start := time.Now()
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.TestTimeout)
	defer cancel()
	r := w.Deliver(sendCtx, d)
	if d.Webhook.PublicOnly && r.Status == 0 {
		select {
		case <-time.After(time.Until(start.Add(w.cfg.TestTimeout))):
		case <-ctx.Done(): // nobody to tell
		}
	}
	return r
}

// Detail is what an attempt's error to w says for the operators: err
// with the cause an account's owners are not shown (a refused connection,
// a timeout, a name that does not resolve), and, for an endpoint of the
// operators' own that the outbound allow list would let through, the
// entry that would (an owner's endpoint reaches public addresses only,
// whatever the list says).
func Detail(w directory.Webhook, err error) error {
	if pe := (postError{}); errors.As(err, &pe) {
		err = pe.err
	}
	var refused interface{ Allowance() string }
	if !w.PublicOnly && errors.As(err, &refused) && refused.Allowance() != "" {
		return fmt.Errorf("%w; to let admit reach it, add %s to ADMIT_OUTBOUND_ALLOW (where admit serve runs, and for admit webhook test)", err, refused.Allowance())
	}
	return err
}

func (w *Worker) send(ctx context.Context, d directory.WebhookDelivery) (int, http.Header, error) {
	if len(d.Payload) == 0 {
		return 0, nil, errors.New("the event is no longer kept (older than the retention)")
	}
	secrets, err := w.secrets(d.Webhook)
	if err != nil {
		return 0, nil, err
	}
	now := w.cfg.Now()
	sig, err := Signature(secrets, d.EventID, now, d.Payload)
	if err != nil {
		return 0, nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "admit-webhooks/1")
	h.Set("webhook-id", d.EventID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	client := w.cfg.Client
	if d.Webhook.PublicOnly {
		if w.cfg.PublicClient == nil {
			return 0, nil, errNoPublicClient
		}
		client = w.cfg.PublicClient
	}
	status, header, err := client.Post(ctx, d.Webhook.URL, h, d.Payload)
	if err != nil {
		return 0, nil, postError{err}
	}
	return status, header, nil
}

// errNoPublicClient fails what a worker built without Config.PublicClient
// would otherwise send to an owner's endpoint through the operators'
// client.
var errNoPublicClient = errors.New("not sent: this server has no client for the public addresses an owner's endpoint may reach (the operators' configuration)")

// postError is a request that got no answer, as its attempt keeps it. The
// owners of an account read the attempts of their endpoints, and the URL
// is theirs to choose: the wording says what happened without the
// addresses, names and connection details of the network admit reaches
// (an owner must not map it, or scan its ports by the difference between
// a refused connection and a silent one). The log keeps the whole error
// for the operators.
type postError struct{ err error }

func (e postError) Error() string {
	var p interface{ Public() string }
	if errors.As(e.err, &p) && p.Public() != "" {
		return p.Public()
	}
	return "no answer: the connection failed, or no answer came within the timeout (the operators' log says which)"
}

func (e postError) Unwrap() error { return e.err }

// secrets opens the webhook's signing secrets: the current one, then the
// ones rotated out whose overlap lasts, newest first.
func (w *Worker) secrets(h directory.Webhook) ([]string, error) {
	purpose := directory.WebhookSecretPurpose(h.ID)
	cur, err := w.cfg.Secrets.Open(h.Secret, purpose)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	out := []string{string(cur)}
	now := w.cfg.Now()
	for _, o := range h.Older {
		if !now.Before(o.Until) {
			continue
		}
		prev, err := w.cfg.Secrets.Open(o.Sealed, purpose)
		if err != nil {
			return nil, fmt.Errorf("previous webhook secret: %w", err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}
