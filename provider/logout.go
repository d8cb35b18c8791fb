package provider

import (
	"context"
	"crypto/rand"
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
	Every time.Duration
	// Now is the time logout tokens are issued at; default time.Now.
	Now    func() time.Time
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
	now    func() time.Time
	log    *slog.Logger
}

// NewNotifier returns a Notifier.
func NewNotifier(cfg NotifierConfig) *Notifier {
	n := &Notifier{dir: cfg.Directory, keys: cfg.Keys, fetch: cfg.Fetch, issuer: strings.TrimSuffix(cfg.Issuer, "/"), every: cfg.Every, now: cfg.Now, log: cfg.Logger}
	if n.now == nil {
		n.now = time.Now
	}
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
//
// Each attempt is a token of its own, with a jti and an iat of its own
// (section 2.4: the jti is "a unique identifier for the token"). An app
// may refuse a jti it has seen as a replay (section 2.6), and
// mod_auth_openidc does, with 400: a retry of a token whose 200 was lost
// on the way would be refused until the logout was given up and audited
// as failed, although the app had ended the session the first time. A
// logout that comes twice is harmless: the second finds no session.
func (n *Notifier) send(ctx context.Context, l directory.DueAppLogout) error {
	now := n.now()
	payload := map[string]any{
		"iss": n.issuer, "aud": l.ClientID, "sub": l.UserID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti":    rand.Text(),
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
