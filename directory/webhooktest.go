package directory

import (
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

// WebhookTest is a test event to a webhook and what sending it needs: a
// delivery as a worker sends one (its Payload the event, its EventID the
// webhook-id header).
type WebhookTest struct {
	Event    Event
	Delivery WebhookDelivery
}

// TestWebhook makes a test event for webhook id, for an operator: any
// webhook, platform-wide ones (their event's account is "") included.
func (s *Service) TestWebhook(ctx context.Context, actor Actor, id string) (WebhookTest, error) {
	w, err := s.Webhook(ctx, id)
	if err != nil {
		return WebhookTest{}, err
	}
	return s.webhookTest(ctx, s.store, actor, w)
}

// TestAccountWebhook makes a test event for one of the account's
// webhooks, at most accountTestsPerMinute a minute for the account. The
// count and the audit row that counts this one are one transaction under
// the account's lock, so tests sent at once, to any replica, count each
// other.
func (s *Service) TestAccountWebhook(ctx context.Context, adm Admin, id string) (WebhookTest, error) {
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
	return t, err
}

// webhookTest makes the test event, and audits it: the request admit
// makes is the actor's doing.
func (s *Service) webhookTest(ctx context.Context, tx Store, actor Actor, w Webhook) (WebhookTest, error) {
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
	if err := s.recordWebhook(ctx, tx, actor, w, "webhook.tested", map[string]any{"event_id": ev.ID}); err != nil {
		return WebhookTest{}, err
	}
	// No EventAt: the metrics time deliveries of events, not tests.
	return WebhookTest{Event: ev, Delivery: WebhookDelivery{WebhookID: w.ID, EventID: ev.ID, Status: DeliveryPending, Attempts: 1,
		CreatedAt: now, Payload: payload, Webhook: w}}, nil
}
