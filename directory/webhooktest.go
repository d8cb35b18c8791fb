package directory

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// EventWebhookTest is the type of a test event: one an owner or an
// operator sends to a webhook to try it (their signature check, their
// handler) before real events flow. It goes to that webhook only, at
// once, and once: it is not in the feed, not retried and not listed among
// the webhook's deliveries. It is not one of EventTypes, so no webhook
// subscribes to it; a receiver answers 2xx to types it does not handle.
const EventWebhookTest = "webhook.test"

// accountTestsPerMinute bounds the test events an account's owners send,
// to all its webhooks together (a webhook removed and added again is not
// a fresh count): each is a request admit makes at once, where they point
// it.
const accountTestsPerMinute = 10

// KeptWebhookTests is how many of a webhook's newest test events are kept
// with how they went (WebhookTestRecord); older ones are forgotten as new
// ones are sent.
const KeptWebhookTests = 10

// WebhookTest is a test event sent to a webhook: the delivery as a worker
// sends one (its Payload the event, its EventID the webhook-id header),
// how sending it went, and that as kept.
type WebhookTest struct {
	Event    Event
	Delivery WebhookDelivery
	Result   WebhookResult
	Record   WebhookTestRecord
}

// WebhookTestRecord is a test event as kept with its webhook. It is kept
// before it is sent, and Finished when its answer is recorded: one left
// unfinished was cut off (admit stopped while it was sent).
type WebhookTestRecord struct {
	EventID   string
	WebhookID string
	SentAt    time.Time
	SentBy    string // the actor's name
	Finished  bool
	Status    int    // HTTP status; 0 when no answer came
	Error     string // why it was not delivered, in the account's words
	Duration  time.Duration
}

// Delivered reports whether the endpoint took the test event.
func (r WebhookTestRecord) Delivered() bool { return r.Finished && r.Error == "" }

// Reason is why the test was not delivered, as it is shown: its error;
// or, unfinished at now, that it is on its way, or that it was cut off
// (admit stopped while sending it) once it has been unfinished longer
// than any answer takes (the outbound client's timeout, well within
// testAnswerWithin). It is "" for a test delivered.
func (r WebhookTestRecord) Reason(now time.Time) string {
	switch {
	case r.Finished:
		return r.Error
	case now.Sub(r.SentAt) > testAnswerWithin:
		return TestCutOff
	}
	return TestStillSending
}

// What an unfinished test says.
const (
	TestStillSending = "no answer yet: the test is being sent"
	TestCutOff       = "no result was recorded: admit stopped while sending it"
)

const testAnswerWithin = time.Minute

// TestSender sends a test event's delivery at once, once, and says how it
// went; events.Worker is the real one.
type TestSender interface {
	Test(ctx context.Context, d WebhookDelivery) WebhookResult
}

// TestWebhook sends a test event to webhook id, for an operator: any
// webhook, platform-wide ones (their event's account is "") included.
func (s *Service) TestWebhook(ctx context.Context, actor Actor, id string, sender TestSender) (WebhookTest, error) {
	w, err := s.Webhook(ctx, id)
	if err != nil {
		return WebhookTest{}, err
	}
	var t WebhookTest
	err = s.store.Tx(ctx, func(tx Store) error {
		t, err = s.webhookTest(ctx, tx, actor, w)
		return err
	})
	if err != nil {
		return WebhookTest{}, err
	}
	return s.sendTest(ctx, t, sender), nil
}

// TestAccountWebhook sends a test event to one of the account's webhooks,
// at most accountTestsPerMinute a minute for the account. The count and
// the audit row that counts this one are one transaction under the
// account's lock, so tests sent at once, to any replica, count each other.
func (s *Service) TestAccountWebhook(ctx context.Context, adm Admin, id string, sender TestSender) (WebhookTest, error) {
	w, err := s.AccountWebhook(ctx, adm, id)
	if err != nil {
		return WebhookTest{}, err
	}
	var t WebhookTest
	err = s.store.Tx(ctx, func(tx Store) error {
		// Counting the account's webhooks locks its row (PostgreSQL;
		// SQLite's writers take turns already).
		if _, err := tx.CountAccountWebhooks(ctx, w.AccountID); err != nil {
			return err
		}
		sent, err := tx.FindAuditEventsBy(ctx, w.AccountID, AuditQuery{Action: "webhook.tested", Since: s.clock().Add(-time.Minute), Limit: accountTestsPerMinute})
		if err != nil {
			return err
		}
		if len(sent) >= accountTestsPerMinute {
			return &Error{Kind: Throttled, Message: fmt.Sprintf("%d test events were sent to this account's webhooks in the last minute; try again in a minute", len(sent))}
		}
		t, err = s.webhookTest(ctx, tx, adm.Actor(), w)
		return err
	})
	if err != nil {
		return WebhookTest{}, err
	}
	return s.sendTest(ctx, t, sender), nil
}

// WebhookTests returns the newest test events (up to limit) sent to a
// webhook, newest first, for an operator.
func (s *Service) WebhookTests(ctx context.Context, id string, limit int) ([]WebhookTestRecord, error) {
	return s.store.FindWebhookTests(ctx, id, limit)
}

// AccountWebhookTests returns the newest test events (up to limit) sent to
// one of the account's webhooks, newest first.
func (s *Service) AccountWebhookTests(ctx context.Context, adm Admin, id string, limit int) ([]WebhookTestRecord, error) {
	if _, err := s.AccountWebhook(ctx, adm, id); err != nil {
		return nil, err
	}
	return s.store.FindWebhookTests(ctx, id, limit)
}

// webhookTest makes the test event, keeps it, and audits it: the request
// admit makes is the actor's doing.
func (s *Service) webhookTest(ctx context.Context, tx Store, actor Actor, w Webhook) (WebhookTest, error) {
	// Held until commit: a webhook removed meanwhile is not found (rather
	// than failing the insert below), and tests of one webhook sent at
	// once keep and trim one after another.
	w, err := tx.LockWebhook(ctx, w.ID)
	if err != nil {
		return WebhookTest{}, err
	}
	now := s.clock()
	data, err := json.Marshal(map[string]string{"webhook_id": w.ID})
	if err != nil {
		return WebhookTest{}, err
	}
	ev := Event{ID: newID(), Type: EventWebhookTest, Version: EventVersion, Account: w.AccountID, OccurredAt: now, Actor: eventActor(actor), Data: data}
	payload, err := json.Marshal(ev)
	if err != nil {
		return WebhookTest{}, err
	}
	rec := WebhookTestRecord{EventID: ev.ID, WebhookID: w.ID, SentAt: now, SentBy: cmp.Or(actor.Name, string(actor.Source))}
	if err := tx.CreateWebhookTest(ctx, rec, KeptWebhookTests); err != nil {
		return WebhookTest{}, err
	}
	if err := s.recordWebhook(ctx, tx, actor, w, "webhook.tested", map[string]any{"event_id": ev.ID}); err != nil {
		return WebhookTest{}, err
	}
	// No EventAt: the metrics time deliveries of events, not tests.
	return WebhookTest{Event: ev, Record: rec, Delivery: WebhookDelivery{WebhookID: w.ID, EventID: ev.ID, Status: DeliveryPending, Attempts: 1,
		CreatedAt: now, Payload: payload, Webhook: w}}, nil
}

// sendTest sends t and keeps how it went. The answer is the caller's even
// when it cannot be kept: the request was made, and sending it again
// would make another. The send, and any wait the sender adds to hide how
// soon no answer came, go on if the caller leaves: the time the result
// is kept at must tell no more than the answer would have.
func (s *Service) sendTest(ctx context.Context, t WebhookTest, sender TestSender) WebhookTest {
	t.Result = sender.Test(context.WithoutCancel(ctx), t.Delivery)
	t.Record.Finished, t.Record.Status, t.Record.Duration = true, t.Result.Status, t.Result.Took
	if t.Result.Err != nil {
		t.Record.Error = t.Result.Err.Error()
	}
	if err := s.store.FinishWebhookTest(context.WithoutCancel(ctx), t.Record); err != nil {
		s.log.WarnContext(ctx, "keep how a test event went", "webhook_id", t.Record.WebhookID, "event_id", t.Record.EventID, "err", err)
	}
	return t
}
