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
	"time"

	"github.com/admit-dev/admit/directory"
)

// Directory is what the worker needs of the directory.
type Directory interface {
	PublishAndLeaseEvents(ctx context.Context, limit int, lease directory.DeliveryLease) (int, []directory.WebhookDelivery, error)
	ClaimWebhookDeliveries(ctx context.Context, limit int, skip []string) ([]directory.WebhookDelivery, error)
	RecordWebhookResults(ctx context.Context, rs []directory.WebhookResult, lease directory.DeliveryLease) ([]directory.WebhookDelivery, error)
	SweepEvents(ctx context.Context, retention time.Duration) (int64, error)
}

// Poster sends a request body and returns the answer's status;
// *fetch.Client is the real one, with every rule of outbound requests.
type Poster interface {
	Post(ctx context.Context, url string, header http.Header, body []byte) (int, error)
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
	Secrets   Opener
	Logger    *slog.Logger
	// Now stamps signatures and ends rotation overlaps; time.Now when nil.
	Now func() time.Time
	// Poll is how long the worker waits when there is nothing to do.
	Poll time.Duration
	// Pace is how long the worker waits between rounds (record, publish,
	// claim) when there is work but no backlog. Every round costs the
	// database a few transactions whatever it carries, and they take
	// turns on the cores with the requests admit is serving: a worker
	// that claimed the moment a delivery finished made SCIM latency rise
	// by a third while webhooks were delivered, and rounds every 50 ms
	// still doubled its p99. Events wait at most about Pace longer.
	Pace time.Duration
	// Concurrency bounds the deliveries this worker holds (claimed and
	// not yet recorded), and PerWebhook those of one webhook: a webhook
	// at the bound is passed over, and a claim takes at most PerWebhook,
	// so a slow endpoint holds fewer than 2*PerWebhook (less than half,
	// by default) and the others keep moving. Parallel bounds the
	// requests to one webhook at a time; the rest of its deliveries wait
	// their turn in the worker. PerWebhook/Parallel requests, one after
	// another, must end well within directory.WebhookLease even when each
	// takes the outbound client's whole timeout (by default 8 times
	// 10 s, against a lease of 2 minutes).
	Concurrency int
	PerWebhook  int
	Parallel    int
	// Retention is how long events are kept (directory.EventRetention
	// when zero); SweepEvery is how often old ones are swept.
	Retention  time.Duration
	SweepEvery time.Duration
}

// Worker publishes events and delivers them to webhooks.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	outage *directory.Outage
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
		cfg.PerWebhook = 256
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Hour
	}
	return &Worker{cfg: cfg, log: cfg.Logger, outage: &directory.Outage{Log: cfg.Logger, What: "webhook worker"}}
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
// holds two of the database's connections (and cores) at once.
//
// A round follows the last one at once while there is a backlog: a full
// batch published, or the worker took all it may, and this round's
// deliveries have come back. Otherwise the next round waits Pace (Poll
// when there is nothing to do), and what came meanwhile goes in one.
func (w *Worker) Run(ctx context.Context) {
	type returned struct {
		r     directory.WebhookResult
		round int
	}
	done := make(chan returned, w.cfg.Concurrency)
	inFlight, perHook := 0, map[string]int{}
	sending := map[string]chan struct{}{} // a webhook's request slots
	var results []directory.WebhookResult
	round, outstanding := 0, 0 // this round's deliveries not back yet
	finish := func(b returned) {
		id := b.r.Delivery.WebhookID
		inFlight--
		if perHook[id]--; perHook[id] == 0 {
			delete(perHook, id)
			delete(sending, id)
		}
		if b.round == round {
			outstanding--
		}
		results = append(results, b.r)
	}
	defer func() {
		for inFlight > 0 {
			finish(<-done)
		}
		// Attempts that end as the worker stops are still recorded: each
		// is an attempt that happened.
		w.record(context.WithoutCancel(ctx), results, directory.DeliveryLease{})
	}()
	lease := func() directory.DeliveryLease {
		return directory.DeliveryLease{Room: w.cfg.Concurrency - inFlight, PerWebhook: w.cfg.PerWebhook, Held: perHook}
	}
	var batch []directory.WebhookDelivery
	take := func(ds []directory.WebhookDelivery) {
		for _, d := range ds {
			inFlight++
			perHook[d.WebhookID]++
		}
		batch = append(batch, ds...)
	}
	// dispatch sends the round's deliveries, the i-th after i*spread.
	dispatch := func(spread time.Duration) {
		outstanding = len(batch)
		rd := round
		for i, d := range batch {
			slots := sending[d.WebhookID]
			if slots == nil {
				slots = make(chan struct{}, w.cfg.Parallel)
				sending[d.WebhookID] = slots
			}
			go func() {
				if wait := time.Duration(i) * spread; wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-t.C:
					case <-ctx.Done(): // the attempt fails at once and is recorded
						t.Stop()
					}
				}
				slots <- struct{}{}
				r := w.Deliver(ctx, d)
				<-slots
				// The delivery stays leased until its result is recorded,
				// so no claim takes it, or what follows it about the same
				// person, meanwhile.
				done <- returned{r, rd}
			}()
		}
	}
	var lastSweep time.Time
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
			if n, err := w.cfg.Directory.SweepEvents(ctx, w.cfg.Retention); err != nil {
				if _, down := w.outage.Check(ctx, err); !down {
					w.log.ErrorContext(ctx, "sweep events", "err", err)
				}
			} else if n > 0 {
				w.log.InfoContext(ctx, "swept old events", "rows", n)
			}
		}
		round++
		outstanding, batch = 0, nil
		// Recorded whatever ctx does: each is an attempt that happened.
		take(w.record(context.WithoutCancel(ctx), results, lease()))
		results = nil
		published, ds, err := w.cfg.Directory.PublishAndLeaseEvents(ctx, publishBatch, lease())
		if ctx.Err() != nil {
			dispatch(0) // what was leased fails at once, and is recorded
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
		take(ds)
		limit, claimed := 0, 0
		if free := w.cfg.Concurrency - inFlight; free > 0 {
			var skip []string
			for id, n := range perHook {
				if n >= w.cfg.PerWebhook {
					skip = append(skip, id)
				}
			}
			limit = min(free, claimBatch, w.cfg.PerWebhook)
			ds, err := w.cfg.Directory.ClaimWebhookDeliveries(ctx, limit, skip)
			if _, down := w.outage.Check(ctx, err); err != nil && !down && ctx.Err() == nil {
				w.log.ErrorContext(ctx, "claim webhook deliveries", "err", err)
			}
			take(ds)
			claimed = len(ds)
		}
		// The worker took all it may: of everything, of a webhook, or of
		// a claim.
		full := inFlight >= w.cfg.Concurrency || claimed > 0 && claimed == limit
		for _, d := range batch {
			full = full || perHook[d.WebhookID] >= w.cfg.PerWebhook
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

// record writes results, up to recordBatch a transaction, and returns
// the deliveries leased as they were made ready.
func (w *Worker) record(ctx context.Context, results []directory.WebhookResult, lease directory.DeliveryLease) []directory.WebhookDelivery {
	var leased []directory.WebhookDelivery
	lease.Held = maps.Clone(lease.Held)
	for batch := range slices.Chunk(results, recordBatch) {
		ds, err := w.cfg.Directory.RecordWebhookResults(ctx, batch, lease)
		if err != nil {
			// The deliveries stay leased, and are tried again when the
			// lease ends (with the same webhook-id).
			if _, down := w.outage.Check(ctx, err); !down {
				w.log.ErrorContext(ctx, "record webhook attempts", "err", err)
			}
			continue
		}
		for _, d := range ds {
			lease.Room--
			if lease.Held == nil {
				lease.Held = map[string]int{}
			}
			lease.Held[d.WebhookID]++
		}
		leased = append(leased, ds...)
	}
	return leased
}

// Deliver makes one attempt of d and returns its outcome.
func (w *Worker) Deliver(ctx context.Context, d directory.WebhookDelivery) directory.WebhookResult {
	start := time.Now()
	status, err := w.send(ctx, d)
	took := time.Since(start)
	if err == nil && (status < 200 || status > 299) {
		err = fmt.Errorf("the endpoint answered %d %s", status, http.StatusText(status))
	}
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
			w.log.Log(ctx, level, "webhook delivery failed", append(attrs, "err", err)...)
		}
	}
	return directory.WebhookResult{Delivery: d, Status: status, Err: err, Took: took}
}

func (w *Worker) send(ctx context.Context, d directory.WebhookDelivery) (int, error) {
	if len(d.Payload) == 0 {
		return 0, errors.New("the event is no longer kept (older than the retention)")
	}
	secrets, err := w.secrets(d.Webhook)
	if err != nil {
		return 0, err
	}
	now := w.cfg.Now()
	sig, err := Signature(secrets, d.EventID, now, d.Payload)
	if err != nil {
		return 0, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "admit-webhooks/1")
	h.Set("webhook-id", d.EventID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	return w.cfg.Client.Post(ctx, d.Webhook.URL, h, d.Payload)
}

// secrets opens the webhook's signing secrets: the current one, and the
// previous one while a rotation's overlap lasts.
func (w *Worker) secrets(h directory.Webhook) ([]string, error) {
	purpose := directory.WebhookSecretPurpose(h.ID)
	cur, err := w.cfg.Secrets.Open(h.Secret, purpose)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	out := []string{string(cur)}
	if h.PreviousSecret != "" && h.PreviousUntil != nil && w.cfg.Now().Before(*h.PreviousUntil) {
		prev, err := w.cfg.Secrets.Open(h.PreviousSecret, purpose)
		if err != nil {
			return nil, fmt.Errorf("previous webhook secret: %w", err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}
