package directory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// SSORequest is a sign-in this server started and the identity provider
// has not answered yet: the SAML AuthnRequest id (or the OIDC state), the
// browser that started it, and where the person goes afterwards. It lives in
// the database, so the answer may reach any replica.
type SSORequest struct {
	ID           string
	ConnectionID string
	BrowserHash  string // the hash of the browser's request cookie
	ReturnTo     string
	Data         string // protocol state (OIDC: nonce and PKCE verifier)
	ExpiresAt    time.Time
}

// SSORequestLifetime is how long a person has to finish signing in at
// their identity provider.
const SSORequestLifetime = 15 * time.Minute

// BrowserHash is what is stored of a browser's request-binding cookie.
func BrowserHash(cookie string) string {
	sum := sha256.Sum256([]byte("admit sso browser\x00" + cookie))
	return hex.EncodeToString(sum[:])
}

// BeginSSO remembers a sign-in started for the browser holding cookie.
func (s *Service) BeginSSO(ctx context.Context, c Connection, requestID, cookie, returnTo, data string) error {
	r := SSORequest{
		ID: requestID, ConnectionID: c.ID, BrowserHash: BrowserHash(cookie), ReturnTo: returnTo,
		Data: data, ExpiresAt: s.clock().Add(SSORequestLifetime),
	}
	if err := s.store.CreateSSORequest(ctx, r); err != nil {
		return fmt.Errorf("remember SSO request: %w", err)
	}
	return nil
}

// FinishSSO takes the sign-in requestID that the browser holding cookie
// started at connection c: it is used up, so an answer is accepted once.
// NotFound when no such request is pending for this browser (another
// browser's request, an expired one, one already answered).
func (s *Service) FinishSSO(ctx context.Context, c Connection, requestID, cookie string) (SSORequest, error) {
	if requestID == "" || cookie == "" {
		return SSORequest{}, NotFoundError("no sign-in was started in this browser")
	}
	r, err := s.store.TakeSSORequest(ctx, requestID, c.ID, BrowserHash(cookie), s.clock())
	if err != nil {
		return SSORequest{}, fmt.Errorf("take SSO request: %w", err)
	}
	return r, nil
}

// AcceptAssertionOnce records that the connection's assertion id was used;
// a second use, on any replica, until the assertion expires, is a Conflict.
func (s *Service) AcceptAssertionOnce(ctx context.Context, c Connection, assertionID string, until time.Time) error {
	if assertionID == "" {
		return InvalidError("the assertion has no ID")
	}
	// Remember it at least a little while even if the provider gave a
	// validity already over (clock skew lets it in).
	until = maxTime(until, s.clock().Add(c.ClockSkew())).Add(c.ClockSkew())
	if err := s.store.AddSSOReplay(ctx, c.ID, assertionID, until); KindOf(err) == Conflict {
		return ConflictError("this sign-in response was already used")
	} else if err != nil {
		return fmt.Errorf("remember assertion: %w", err)
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// LoginAttempt is one login at a connection, as its login log shows it to
// the admin: what the provider sent, how it was mapped, and the outcome.
type LoginAttempt struct {
	ID           string
	ConnectionID string
	CreatedAt    time.Time
	Outcome      string // "signed in" or "refused"
	Reason       string // why, in words the admin can act on
	Reference    string // the id the person saw on the failure page
	Email        string
	Detail       json.RawMessage // subject, claims, mapped identity
}

// LoginLogSize is how many attempts each connection keeps.
const LoginLogSize = 200

// RecordLoginAttempt adds to the connection's login log.
func (s *Service) RecordLoginAttempt(ctx context.Context, a LoginAttempt) error {
	a.ID, a.CreatedAt = newID(), s.clock()
	if len(a.Detail) == 0 {
		a.Detail = json.RawMessage(`{}`)
	}
	a.Reason = clip(a.Reason, 2000)
	if err := s.store.AddLoginAttempt(ctx, a); err != nil {
		return fmt.Errorf("record login attempt: %w", err)
	}
	return nil
}

// LoginAttempts returns the connection's newest login attempts.
func (s *Service) LoginAttempts(ctx context.Context, accountID, connectionID string, limit int) ([]LoginAttempt, error) {
	if _, err := s.store.FindConnection(ctx, accountID, connectionID); err != nil {
		return nil, err
	}
	return s.store.FindLoginAttempts(ctx, connectionID, min(max(limit, 1), LoginLogSize))
}
