package provider

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
)

// backchannelLogoutEvent names a logout token's event (OpenID Back-Channel
// Logout 1.0, section 2.4).
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	Directory *directory.Service
	Keys      *certs.TokenKeys
	Fetch     *fetch.Client
	Issuer    string // ADMIT_BASE_URL
	// Every is how often due logouts are looked for; default one second.
	Every  time.Duration
	Logger *slog.Logger
}

// Notifier tells apps that a person's membership ended: it delivers the
// back-channel logouts the directory queued, from any replica, through
// the guarded outbound client.
type Notifier struct {
	dir    *directory.Service
	keys   *certs.TokenKeys
	fetch  *fetch.Client
	issuer string
	every  time.Duration
	log    *slog.Logger
}

// NewNotifier returns a Notifier.
func NewNotifier(cfg NotifierConfig) *Notifier {
	n := &Notifier{dir: cfg.Directory, keys: cfg.Keys, fetch: cfg.Fetch, issuer: strings.TrimSuffix(cfg.Issuer, "/"), every: cfg.Every, log: cfg.Logger}
	if n.every <= 0 {
		n.every = time.Second
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	return n
}

// Run delivers due logouts until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTicker(n.every)
	defer t.Stop()
	outage := &directory.Outage{Log: n.log, What: "back-channel logouts"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, err := n.Deliver(ctx)
			if _, down := outage.Check(ctx, err); err != nil && !down && ctx.Err() == nil {
				n.log.ErrorContext(ctx, "back-channel logouts", "err", err)
			}
		}
	}
}

// deliverBatch bounds the logouts one round sends.
const deliverBatch = 20

// Deliver sends the logouts due now and returns how many were delivered.
func (n *Notifier) Deliver(ctx context.Context) (int, error) {
	due, err := n.dir.ClaimAppLogouts(ctx, deliverBatch)
	if err != nil {
		return 0, err
	}
	delivered := 0
	for _, l := range due {
		err := n.send(ctx, l)
		if err == nil {
			delivered++
			n.log.InfoContext(ctx, "back-channel logout delivered", "client_id", l.ClientID, "user_id", l.UserID)
		} else {
			n.log.WarnContext(ctx, "back-channel logout failed", "client_id", l.ClientID, "user_id", l.UserID, "attempt", l.Attempts, "err", err)
		}
		if err := n.dir.FinishAppLogout(ctx, l, err); err != nil {
			return delivered, err
		}
	}
	return delivered, nil
}

// send posts one logout token (section 2.5): signed like the ID tokens,
// typed logout+jwt, with the event, the subject and the session (sid) of
// the ID tokens it ends, never a nonce.
func (n *Notifier) send(ctx context.Context, l directory.DueAppLogout) error {
	now := time.Now()
	payload := map[string]any{
		"iss": n.issuer, "aud": l.ClientID, "sub": l.UserID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		// The same id on every attempt: an app that got a token whose
		// answer was lost recognises the retry.
		"jti":    l.ID,
		"events": map[string]any{backchannelLogoutEvent: map[string]any{}},
	}
	if sid := directory.AppSessionID(l.UserID, l.AccountID, l.AuthTime); sid != "" {
		payload["sid"] = sid
	}
	claims, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	token, err := n.keys.Sign(ctx, idTokenAlg, "logout+jwt", claims)
	if err != nil {
		return err
	}
	return n.fetch.PostForm(ctx, l.App.BackchannelLogoutURI, url.Values{"logout_token": {token}})
}
