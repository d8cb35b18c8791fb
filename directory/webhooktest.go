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

// webhookTestsPerMinute bounds the test events an account's owners send
// to one webhook: each is a request admit makes at once, where they
// point it.
const webhookTestsPerMinute = 5

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
	return s.webhookTest(ctx, actor, w)
}

// TestAccountWebhook makes a test event for one of the account's
// webhooks, at most webhookTestsPerMinute a minute for each.
func (s *Service) TestAccountWebhook(ctx context.Context, adm Admin, id string) (WebhookTest, error) {
	w, err := s.AccountWebhook(ctx, adm, id)
	if err != nil {
		return WebhookTest{}, err
	}
	sent, err := s.store.FindAuditEventsBy(ctx, w.AccountID, AuditQuery{Action: "webhook.tested", People: []string{w.ID},
		Since: s.clock().Add(-time.Minute), Limit: webhookTestsPerMinute})
	if err != nil {
		return WebhookTest{}, err
	}
	if len(sent) >= webhookTestsPerMinute {
		return WebhookTest{}, &Error{Kind: Throttled, Message: fmt.Sprintf("%d test events were sent to this webhook in the last minute; try again in a minute", len(sent))}
	}
	return s.webhookTest(ctx, adm.Actor(), w)
}

// webhookTest makes the test event, and audits it: the request admit
// makes is the actor's doing.
func (s *Service) webhookTest(ctx context.Context, actor Actor, w Webhook) (WebhookTest, error) {
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
	if err := s.recordWebhook(ctx, s.store, actor, w, "webhook.tested", map[string]any{"event_id": ev.ID}); err != nil {
		return WebhookTest{}, err
	}
	// No EventAt: the metrics time deliveries of events, not tests.
	return WebhookTest{Event: ev, Delivery: WebhookDelivery{WebhookID: w.ID, EventID: ev.ID, Status: DeliveryPending, Attempts: 1,
		CreatedAt: now, Payload: payload, Webhook: w}}, nil
}
