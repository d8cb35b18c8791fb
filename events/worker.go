package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/admit-dev/admit/directory"
)

// Directory is what the worker needs of the directory.
type Directory interface {
	PublishEvents(ctx context.Context, limit int) (int, error)
	ClaimWebhookDeliveries(ctx context.Context, limit int, skip []string) ([]directory.WebhookDelivery, error)
	RecordWebhookResults(ctx context.Context, rs []directory.WebhookResult) error
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
	// Pace is how long the worker waits between rounds (publish, claim)
	// when there is work but no backlog, and how long a result may wait
	// to be recorded with others. A worker that claimed the moment a
	// delivery finished ran a transaction for every one or two events,
	// and each took a turn on the database and the cores from the
	// requests admit is serving (SCIM latency rose by a third while
	// webhooks were delivered); gathered, the same events take a few
	// transactions a second. Events wait at most about Pace longer.
	Pace time.Duration
	// Concurrency bounds the deliveries in flight in this worker, and
	// PerWebhook those to one webhook as claims go: a webhook at the
	// bound is passed over, and a claim takes at most PerWebhook, so a
	// slow endpoint holds fewer than 2*PerWebhook (less than half, by
	// default) and the others keep moving.
	Concurrency int
	PerWebhook  int
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
		cfg.Pace = 50 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 128
	}
	if cfg.PerWebhook <= 0 {
		cfg.PerWebhook = 32
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
	claimBatch   = 64
)

// recordBatch bounds how many attempts one transaction records.
const recordBatch = 256

// Run publishes, delivers and sweeps until ctx ends, then waits for the
// deliveries in flight and records them.
//
// It works in rounds: publish what is new, claim what is due, and send
// what was claimed. A round follows the last one at once only while there
// is a backlog: a full batch published, or a full claim whose deliveries
// have all come back. Otherwise the next round waits Pace (Poll when the
// last found nothing to do), and what became due meanwhile goes in one
// claim. Deliveries finishing do not start rounds: that was a claim
// transaction for every one or two events while the worker kept up.
func (w *Worker) Run(ctx context.Context) {
	done := make(chan string, w.cfg.Concurrency)
	results := make(chan directory.WebhookResult, w.cfg.Concurrency)
	recorded := make(chan struct{})
	go func() { w.record(ctx, results); close(recorded) }()
	inFlight, perHook := 0, map[string]int{}
	finish := func(id string) {
		inFlight--
		if perHook[id]--; perHook[id] == 0 {
			delete(perHook, id)
		}
	}
	defer func() {
		for inFlight > 0 {
			finish(<-done)
		}
		close(results)
		<-recorded
	}()
	var lastSweep time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		for drained := false; !drained; {
			select {
			case id := <-done:
				finish(id)
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
		published, err := w.cfg.Directory.PublishEvents(ctx, publishBatch)
		if ctx.Err() != nil {
			return
		}
		if wait, down := w.outage.Check(ctx, err); down {
			// Nothing can be published or claimed until the database is
			// back; deliveries in flight finish and are recorded.
			select {
			case id := <-done:
				finish(id)
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			continue
		}
		if err != nil {
			w.log.ErrorContext(ctx, "publish events", "err", err)
		}
		limit, claimed := 0, 0
		var skip []string
		if free := w.cfg.Concurrency - inFlight; free > 0 {
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
			// While the worker keeps up (a claim short of its limit), the
			// round's deliveries start spread over the Pace rather than
			// all at once: a burst of sends (and of a local receiver's
			// work) took both cores for milliseconds, and requests that
			// came meanwhile waited for them. With a backlog they start
			// at once.
			var spread time.Duration
			if len(ds) > 1 && len(ds) < limit {
				spread = w.cfg.Pace / time.Duration(len(ds))
			}
			for i, d := range ds {
				inFlight++
				perHook[d.WebhookID]++
				go func() {
					if wait := time.Duration(i) * spread; wait > 0 {
						t := time.NewTimer(wait)
						select {
						case <-t.C:
						case <-ctx.Done(): // the attempt fails at once and is recorded
							t.Stop()
						}
					}
					// The slot is free once the result is handed to the
					// recorder (a slow database holds the worker back);
					// the delivery stays leased until the result is
					// written, so no claim takes it, or what follows it
					// about the same person, meanwhile.
					results <- w.Deliver(ctx, d)
					done <- d.WebhookID
				}()
			}
			claimed = len(ds)
		}
		if published == publishBatch {
			continue // there are more to publish right away
		}
		backlog := claimed > 0 && claimed == limit
		wait := w.cfg.Pace
		if published == 0 && claimed == 0 && len(skip) == 0 {
			wait = w.cfg.Poll
		}
		timer.Reset(wait)
		for waiting := true; waiting; {
			select {
			case id := <-done:
				finish(id)
				waiting = !backlog || inFlight > 0
			case <-timer.C:
				waiting = false
			case <-ctx.Done():
				return
			}
		}
	}
}

// record writes results in batches: what came within Pace of the first,
// up to recordBatch, in one transaction.
func (w *Worker) record(ctx context.Context, results <-chan directory.WebhookResult) {
	// Results that arrive as the worker stops are still recorded: each is
	// an attempt that happened.
	ctx = context.WithoutCancel(ctx)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for r := range results {
		batch := []directory.WebhookResult{r}
		timer.Reset(w.cfg.Pace)
		for gathering := true; gathering && len(batch) < recordBatch; {
			select {
			case r, ok := <-results:
				if !ok {
					gathering = false
					break
				}
				batch = append(batch, r)
			case <-timer.C:
				gathering = false
			}
		}
		if err := w.cfg.Directory.RecordWebhookResults(ctx, batch); err != nil {
			// The deliveries stay leased, and are tried again when the
			// lease ends (with the same webhook-id).
			if _, down := w.outage.Check(ctx, err); !down {
				w.log.ErrorContext(ctx, "record webhook attempts", "err", err)
			}
		}
	}
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
