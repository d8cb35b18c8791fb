package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/directory"
)

// Directory is what the worker needs of the directory: the mail outbox.
type Directory interface {
	ClaimMail(ctx context.Context, limit int) ([]directory.MailMessage, error)
	MailBodyOf(ctx context.Context, m directory.MailMessage) (directory.MailBody, error)
	MailDelivered(ctx context.Context, id string, kept bool) error
	MailDropped(ctx context.Context, id, reason string) error
	MailRetry(ctx context.Context, m directory.MailMessage, cause error) error
	MailRefused(ctx context.Context, id, reason string) error
}

// Sender hands a message to a mail server. *SMTP is the real one.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Worker delivers the mail outbox. Every replica runs one; the directory's
// claims keep them from sending the same message twice.
type Worker struct {
	dir      Directory
	sender   Sender // nil: keep mail in the database for the dev mailbox
	renderer *Renderer
	log      *slog.Logger
	// deliveries counts what became of each delivery attempt, for the
	// operator's alerts (docs/operations.md).
	deliveries *prometheus.CounterVec
	outage     *directory.Outage
	// Poll is how long the worker sleeps when the outbox is empty.
	Poll time.Duration
}

// Outcomes of a delivery attempt, the values of the outcome label of
// admit_mail_deliveries_total.
const (
	outcomeSent    = "sent"    // the mail server took it
	outcomeKept    = "kept"    // no ADMIT_SMTP_URL: kept for the dev mailbox
	outcomeRetry   = "retry"   // not sent this time (server unreachable, 4xx, a render error); tried again later
	outcomeRefused = "refused" // the mail server refused it for good (5xx): not tried again
	outcomeDropped = "dropped" // what it announced is gone (a withdrawn invitation): not sent
)

// NewWorker returns a worker that renders with r and sends with sender, or
// keeps mail for the dev mailbox when sender is nil.
func NewWorker(dir Directory, sender Sender, r *Renderer, log *slog.Logger) *Worker {
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "admit_mail_deliveries_total",
		Help: "Mail delivery attempts by outcome: sent; kept (no ADMIT_SMTP_URL, kept for the dev mailbox); retry (not sent, tried again later); refused (refused for good by the mail server); dropped (what it announced is gone).",
	}, []string{"outcome"})
	// Every outcome exists from the start, at 0, so that an alert on its
	// rate sees the first failure.
	for _, o := range []string{outcomeSent, outcomeKept, outcomeRetry, outcomeRefused, outcomeDropped} {
		deliveries.WithLabelValues(o)
	}
	return &Worker{dir: dir, sender: sender, renderer: r, log: log, deliveries: deliveries, Poll: time.Second,
		outage: &directory.Outage{Log: log, What: "mail worker"}}
}

// Metrics is the worker's counter of delivery outcomes, for the server to
// register with its other metrics.
func (w *Worker) Metrics() *prometheus.CounterVec { return w.deliveries }

// batch is how many messages one claim takes: small, so that a slow SMTP
// server does not hold many leases while other replicas stand idle.
const batch = 10

// Run delivers mail until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for {
		n, err := w.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		wait, down := w.outage.Check(ctx, err)
		switch {
		case down:
			// Messages claimed before the outage stay leased, and are
			// taken again when their lease ends.
		case err != nil:
			w.log.ErrorContext(ctx, "mail worker", "err", err)
			wait = w.Poll
		case n == batch:
			continue // there may be more right away
		default:
			wait = w.Poll
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// RunOnce claims one batch of due messages and delivers them, returning how
// many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	msgs, err := w.dir.ClaimMail(ctx, batch)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, m := range msgs {
		if err := w.deliver(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return len(msgs), errors.Join(errs...)
}

func (w *Worker) deliver(ctx context.Context, m directory.MailMessage) error {
	outcome, err := w.attempt(ctx, m)
	w.deliveries.WithLabelValues(outcome).Inc()
	return err
}

// attempt tries to deliver m once and records the result in the outbox.
func (w *Worker) attempt(ctx context.Context, m directory.MailMessage) (outcome string, err error) {
	log := w.log.With("mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempts)
	body, err := w.dir.MailBodyOf(ctx, m)
	if directory.KindOf(err) == directory.Gone {
		log.InfoContext(ctx, "mail dropped", "reason", directory.Message(err))
		return outcomeDropped, w.dir.MailDropped(ctx, m.ID, directory.Message(err))
	}
	if err != nil {
		return outcomeRetry, w.dir.MailRetry(ctx, m, err)
	}
	msg, err := w.renderer.Render(body)
	if err != nil {
		return outcomeRetry, w.dir.MailRetry(ctx, m, err)
	}
	if w.sender == nil {
		log.InfoContext(ctx, "mail kept for the dev mailbox (ADMIT_SMTP_URL is not set)", "to", m.Recipient, "subject", msg.Subject)
		return outcomeKept, w.dir.MailDelivered(ctx, m.ID, true)
	}
	err = w.sender.Send(ctx, msg)
	var de *DeliveryError
	switch {
	case err == nil:
		log.InfoContext(ctx, "mail sent", "to", m.Recipient)
		return outcomeSent, w.dir.MailDelivered(ctx, m.ID, false)
	case errors.As(err, &de) && de.Permanent:
		log.WarnContext(ctx, "mail refused for good", "to", m.Recipient, "err", err)
		return outcomeRefused, w.dir.MailRefused(ctx, m.ID, err.Error())
	default:
		log.WarnContext(ctx, "mail not sent; will retry", "to", m.Recipient, "err", err)
		return outcomeRetry, w.dir.MailRetry(ctx, m, err)
	}
}
