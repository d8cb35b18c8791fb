package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/admit-dev/admit/directory"
)

// WebhookSecrets makes webhook signing secrets: a new one, to show once,
// and its sealing for the purpose the directory names as it stores it.
// events.Secrets is the real one.
type WebhookSecrets interface {
	New() (secret string, seal func(purpose string) string)
}

// WebhookSender sends a test event's delivery at once, as the delivery
// workers send deliveries: signed, through the client for the webhook's
// kind (owners' endpoints reach public addresses only). events.Worker is
// the real one.
type WebhookSender interface {
	Test(ctx context.Context, d directory.WebhookDelivery) directory.WebhookResult
}

// testResultJSON is a test event and how it went, as the API answers it.
type testResultJSON struct {
	EventID    string    `json:"event_id"`
	SentAt     time.Time `json:"sent_at"`
	SentBy     string    `json:"sent_by"`
	Finished   bool      `json:"finished"` // false while it is sent, or when admit stopped meanwhile
	Delivered  bool      `json:"delivered"`
	Status     int       `json:"status"` // 0: no answer came
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

func toTestResult(t directory.WebhookTestRecord, now time.Time) testResultJSON {
	return testResultJSON{EventID: t.EventID, SentAt: t.SentAt, SentBy: t.SentBy, Finished: t.Finished, Delivered: t.Delivered(), Status: t.Status, Error: t.Reason(now),
		DurationMS: shownDuration(directory.WebhookAttempt{Status: t.Status, Duration: t.Duration}).Milliseconds()}
}

// noSender answers a test on a server built without a sender.
var noSender = notImplemented("This server does not send test events.")

func (a *API) testWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	// Refused by rights and by webhook first: a key that may not test
	// learns nothing of what this server was built with.
	if _, err := a.dir.AccountWebhook(r.Context(), adm, r.PathValue("id")); err != nil {
		return err
	}
	if a.sender == nil {
		return noSender
	}
	t, err := a.dir.TestAccountWebhook(r.Context(), adm, r.PathValue("id"), a.sender)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toTestResult(t.Record, time.Now()))
}

func (a *API) listWebhookTests(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	ts, err := a.dir.AccountWebhookTests(r.Context(), adm, r.PathValue("id"), directory.KeptWebhookTests)
	if err != nil {
		return err
	}
	out := make([]testResultJSON, len(ts))
	for i, t := range ts {
		out[i] = toTestResult(t, time.Now())
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

const webhooksPath = "/api/v1/accounts/{account}/webhooks"

// defaultOverlap is how long a rotated-out secret keeps signing when the
// request does not say.
const defaultOverlap = 24 * time.Hour

type webhookJSON struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"` // empty: every type
	State          string     `json:"state"`  // enabled, failing, disabled
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since"`
	PausedUntil    *time.Time `json:"paused_until"` // the endpoint asked to be left alone until then
	RotationEnds   *time.Time `json:"previous_secret_until"`
	CreatedAt      time.Time  `json:"created_at"`
	Secret         string     `json:"secret,omitempty"` // only in the answers that make one
}

func toWebhook(w directory.Webhook) webhookJSON {
	out := webhookJSON{ID: w.ID, URL: w.URL, Events: w.EventTypes, State: w.State(), DisabledReason: w.DisabledReason,
		FailingSince: w.FailingSince, PausedUntil: shownPause(w), CreatedAt: w.CreatedAt}
	if out.Events == nil {
		out.Events = []string{}
	}
	out.RotationEnds = w.OlderSecretsUntil(time.Now())
	return out
}

type webhookDeliveryJSON struct {
	ID        string     `json:"id"`
	EventID   string     `json:"event_id"`
	EventType string     `json:"event_type"`
	Status    string     `json:"status"` // pending, delivered, failed
	NextTry   *time.Time `json:"next_attempt_at"`
	// Waiting: what a pending delivery held back waits for (then not
	// sent at next_attempt_at).
	Waiting    string    `json:"waiting,omitempty"`
	LastStatus int       `json:"last_status"`
	LastError  string    `json:"last_error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// RedeliveredAt: when it was last sent again by hand.
	RedeliveredAt *time.Time           `json:"redelivered_at,omitempty"`
	Attempts      []webhookAttemptJSON `json:"attempts"`
}

type webhookAttemptJSON struct {
	At         time.Time `json:"at"`
	Status     int       `json:"status"` // 0: no answer came
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

func toWebhookDelivery(d directory.DeliveryWithAttempts) webhookDeliveryJSON {
	out := webhookDeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: string(d.Status), Waiting: d.Waiting, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, RedeliveredAt: d.RedeliveredAt, Attempts: make([]webhookAttemptJSON, len(d.Log))}
	if d.Status == directory.DeliveryPending {
		out.NextTry = &d.NextAttemptAt
	}
	for i, a := range d.Log {
		out.Attempts[i] = webhookAttemptJSON{At: a.At, Status: a.Status, Error: a.Error, DurationMS: shownDuration(a).Milliseconds()}
	}
	return out
}

// shownPause is until when w is left alone, as it asked (Retry-After);
// nil when it is not now.
func shownPause(w directory.Webhook) *time.Time {
	if w.Paused(time.Now()) {
		return w.PausedUntil
	}
	return nil
}

// shownDuration is how long an attempt took, as an account's owners see
// it: nothing for one that got no answer, since a refused connection
// (milliseconds) and a silent one (the whole timeout) would tell open
// ports from closed ones.
func shownDuration(a directory.WebhookAttempt) time.Duration {
	if a.Status == 0 {
		return 0
	}
	return a.Duration
}

// noSecrets answers a request that would make a signing secret on a
// server built without a sealer.
var noSecrets = notImplemented("This server does not make webhook secrets.")

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	hooks, err := a.dir.AccountWebhooks(r.Context(), adm)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		out[i] = toWebhook(h)
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) addWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	var in struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if a.secrets == nil {
		return noSecrets
	}
	secret, seal := a.secrets.New()
	h, err := a.dir.AddAccountWebhook(r.Context(), adm, in.URL, in.Events, seal)
	if err != nil {
		return err
	}
	// A webhook has no name to be found by: the retry's answer names it.
	return writeWithSecret(w, http.StatusCreated, h, secret, fmt.Sprintf(
		"The webhook was added: it is %s (to %s). Rotate its secret (POST .../webhooks/%s/rotate-secret) for a new one if the first answer was lost.", h.ID, h.URL, h.ID))
}

// writeWithSecret answers h with its new secret, in this answer only;
// find is what a retry is told instead (see shownOnce).
func writeWithSecret(w http.ResponseWriter, status int, h directory.Webhook, secret, find string) error {
	out := toWebhook(h)
	out.Secret = secret
	shownOnce(w, find)
	return writeJSON(w, status, out)
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	h, err := a.dir.AccountWebhook(r.Context(), adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toWebhook(h))
}

func (a *API) removeWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if err := a.dir.RemoveAccountWebhook(r.Context(), adm, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	in := struct {
		OverlapSeconds *int64 `json:"overlap_seconds"`
	}{}
	if err := decode(r, &in); err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	if a.secrets == nil {
		return noSecrets
	}
	overlap := defaultOverlap
	if in.OverlapSeconds != nil {
		// Out of range (the directory says which) rather than overflowed.
		overlap = time.Duration(max(min(*in.OverlapSeconds, 1<<31), -1)) * time.Second
	}
	secret, seal := a.secrets.New()
	h, err := a.dir.RotateAccountWebhookSecret(r.Context(), adm, r.PathValue("id"), overlap, seal, time.Time{})
	if err != nil {
		return err
	}
	return writeWithSecret(w, http.StatusOK, h, secret, fmt.Sprintf(
		"The secret of webhook %s was rotated. Rotate it again for a new one if the first answer was lost: the secrets rotated out before keep signing until their own overlap ends.", h.ID))
}

func (a *API) enableWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	h, err := a.dir.EnableAccountWebhook(r.Context(), adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toWebhook(h))
}

func (a *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	limit, err := pageSize(r, 20, 100)
	if err != nil {
		return err
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	ds, err := a.dir.AccountWebhookDeliveries(r.Context(), adm, r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	out := make([]webhookDeliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = toWebhookDelivery(d)
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

func (a *API) redeliverWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	d, err := a.dir.RedeliverAccountWebhook(r.Context(), adm, r.PathValue("id"), r.PathValue("delivery"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, toWebhookDelivery(directory.DeliveryWithAttempts{WebhookDelivery: d}))
}

// recoverWebhook sends again the webhook's deliveries given up since
// "since" (RFC 3339; none: every one still kept).
func (a *API) recoverWebhook(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	in := struct {
		Since string `json:"since"`
	}{}
	if err := decode(r, &in); err != nil {
		return err
	}
	var since time.Time
	if in.Since != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, in.Since); err != nil {
			return directory.InvalidError(`The field "since" must be a time as RFC 3339 writes it (2026-12-01T09:00:00Z).`)
		}
	}
	adm, err := a.admin(r, key)
	if err != nil {
		return err
	}
	n, err := a.dir.RecoverAccountWebhook(r.Context(), adm, r.PathValue("id"), since)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"recovered": n})
}
