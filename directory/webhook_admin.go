package directory

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// MaxAccountWebhooks bounds the endpoints an account's owners add
// (AddWebhook holds to it). They choose them; each delivery
// worker bounds what one endpoint, and one account's together, may hold
// of it (events.Config.PerWebhook and PerAccount), so that slow ones do
// not fill a worker that other accounts' events wait for.
const MaxAccountWebhooks = 5

// The webhooks of an account, as its owners manage them in the console
// and the API: those they added (PublicOnly). One the operators added for
// the account (admit webhook add --account) is theirs, and may lead into
// their own network: like a platform-wide one (which receives every
// account's events) or another account's, it is "not found" here.

// AccountWebhooks lists the webhooks the account's owners added.
func (s *Service) AccountWebhooks(ctx context.Context, adm Admin) ([]Webhook, error) {
	if err := adm.ready(ManageWebhooks); err != nil {
		return nil, err
	}
	hooks, err := s.store.FindWebhooks(ctx, adm.Account.ID)
	return slices.DeleteFunc(hooks, func(w Webhook) bool { return !w.PublicOnly }), err
}

// AccountWebhook returns one of the account's webhooks.
func (s *Service) AccountWebhook(ctx context.Context, adm Admin, id string) (Webhook, error) {
	if err := adm.ready(ManageWebhooks); err != nil {
		return Webhook{}, err
	}
	if !lookupable(id) {
		return Webhook{}, NotFoundError("no such webhook in this account")
	}
	w, err := s.store.FindWebhook(ctx, id)
	if KindOf(err) == NotFound || err == nil && (w.AccountID == "" || w.AccountID != adm.Account.ID || !w.PublicOnly) {
		return Webhook{}, NotFoundError("no such webhook in this account")
	}
	return w, err
}

// AddAccountWebhook adds an endpoint for the account's events (of types,
// or all), public addresses only (Webhook.PublicOnly). seal seals its
// secret, which the caller shows once.
func (s *Service) AddAccountWebhook(ctx context.Context, adm Admin, url string, types []string, seal func(purpose string) string) (Webhook, error) {
	if err := adm.ready(ManageWebhooks); err != nil {
		return Webhook{}, err
	}
	return s.AddWebhook(ctx, adm.Actor(), NewWebhook{AccountID: adm.Account.ID, URL: url, EventTypes: types, PublicOnly: true}, seal)
}

// RemoveAccountWebhook removes one of the account's webhooks with its
// deliveries.
func (s *Service) RemoveAccountWebhook(ctx context.Context, adm Admin, id string) error {
	if _, err := s.AccountWebhook(ctx, adm, id); err != nil {
		return err
	}
	return s.RemoveWebhook(ctx, adm.Actor(), id)
}

// RotateAccountWebhookSecret gives one of the account's webhooks a new
// secret; the old one signs beside it for overlap. When shown is not
// zero, the webhook must be as it was then (its UpdatedAt): a form sent
// again must not rotate the secret it has just shown into the previous
// one, dropping the original before its overlap ends.
func (s *Service) RotateAccountWebhookSecret(ctx context.Context, adm Admin, id string, overlap time.Duration, seal func(purpose string) string, shown time.Time) (Webhook, error) {
	if _, err := s.AccountWebhook(ctx, adm, id); err != nil {
		return Webhook{}, err
	}
	return s.rotateWebhookSecret(ctx, adm.Actor(), id, overlap, seal, shown)
}

// EnableAccountWebhook enables one of the account's disabled webhooks
// again. One that is not disabled is refused: enabling clears its
// failures, and an endpoint failing for a day would never be disabled.
func (s *Service) EnableAccountWebhook(ctx context.Context, adm Admin, id string) (Webhook, error) {
	if _, err := s.AccountWebhook(ctx, adm, id); err != nil {
		return Webhook{}, err
	}
	return s.EnableWebhook(ctx, adm.Actor(), id)
}

// DeliveryWithAttempts is a delivery with its latest attempts.
type DeliveryWithAttempts struct {
	WebhookDelivery
	Log     []WebhookAttempt // the newest AttemptsShown attempts, oldest first
	Waiting string           // see WebhookDelivery.Waiting
}

// AttemptsShown bounds the attempts listed with each delivery in the
// console and the API: a delivery is tried about 20 times in 3 days, and
// an owner may send one again as often as they like.
const AttemptsShown = 25

// AccountWebhookDeliveries returns the newest deliveries (up to limit) of
// one of the account's webhooks, each with its attempts.
func (s *Service) AccountWebhookDeliveries(ctx context.Context, adm Admin, id string, limit int) ([]DeliveryWithAttempts, error) {
	w, err := s.AccountWebhook(ctx, adm, id)
	if err != nil {
		return nil, err
	}
	ds, err := s.WebhookDeliveries(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DeliveryWithAttempts, len(ds))
	for i, d := range ds {
		as, err := s.store.FindWebhookAttempts(ctx, d.ID, AttemptsShown)
		if err != nil {
			return nil, err
		}
		out[i] = DeliveryWithAttempts{WebhookDelivery: d, Log: as, Waiting: d.Waiting(w, s.clock())}
	}
	return out, nil
}

// RedeliverAccountWebhook sends one of the webhook's deliveries again, at
// once, with the same webhook-id; the trail records who asked.
func (s *Service) RedeliverAccountWebhook(ctx context.Context, adm Admin, webhookID, deliveryID string) (WebhookDelivery, error) {
	w, err := s.AccountWebhook(ctx, adm, webhookID)
	if err != nil {
		return WebhookDelivery{}, err
	}
	if !lookupable(deliveryID) {
		return WebhookDelivery{}, NotFoundError("no such delivery of this webhook")
	}
	var d WebhookDelivery
	err = s.store.Tx(ctx, func(tx Store) error {
		found, err := tx.FindWebhookDelivery(ctx, deliveryID)
		if KindOf(err) == NotFound || err == nil && found.WebhookID != w.ID {
			return NotFoundError("no such delivery of this webhook")
		}
		if err != nil {
			return err
		}
		if d, err = s.redeliverIn(ctx, tx, w.ID, deliveryID); err != nil {
			return err
		}
		return s.recordWebhook(ctx, tx, adm.Actor(), w, "webhook.redelivered", map[string]any{"delivery": d.ID, "event": d.EventID})
	})
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("redeliver: %w", err)
	}
	return d, nil
}

// RecoverAccountWebhook sends again the given-up deliveries of one of the
// account's webhooks, as RecoverWebhook does.
func (s *Service) RecoverAccountWebhook(ctx context.Context, adm Admin, webhookID string, since time.Time) (int, error) {
	if _, err := s.AccountWebhook(ctx, adm, webhookID); err != nil {
		return 0, err
	}
	return s.RecoverWebhook(ctx, adm.Actor(), webhookID, since)
}
