package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SSORequestLifetime is how long a person has to finish signing in at
// their identity provider: how long a sign-in started here (a SAML
// AuthnRequest, an OIDC state) may be answered.
const SSORequestLifetime = 15 * time.Minute

// FinishSSO records that the sign-in requestID (a SAML AuthnRequest id, an
// OIDC state), started at connection c and pending until expiresAt, has
// been answered: a second answer to it, on any replica, is a Conflict.
// What was started is kept by the browser (package sso seals it into a
// cookie), so starting a sign-in writes nothing here; the caller records
// the request only once the provider's answer was verified, so that only
// real logins write rows.
func (s *Service) FinishSSO(ctx context.Context, c Connection, requestID string, expiresAt time.Time) error {
	if requestID == "" {
		return InvalidError("the sign-in has no request id")
	}
	// A colon never appears in a SAML assertion id (an xs:ID is an NCName),
	// so request ids and assertion ids share the replay table apart.
	until := maxTime(expiresAt, s.clock()).Add(c.ClockSkew())
	if err := s.store.AddSSOReplay(ctx, c.ID, "request:"+requestID, until); KindOf(err) == Conflict {
		return ConflictError("this sign-in was already answered")
	} else if err != nil {
		return fmt.Errorf("remember answered sign-in: %w", err)
	}
	return nil
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
	// Verified says the provider's answer was verified (a SAML signature,
	// an OIDC code exchanged for a verified ID token) before the outcome.
	// Anyone can post an unverified answer; only the provider can make a
	// verified one, so each class has its own place in the log.
	Verified bool
}

// LoginLogSize is how many attempts of each class (verified, unverified)
// each connection keeps: junk posted to an ACS, however much, leaves the
// newest LoginLogSize real attempts in place.
const LoginLogSize = 200

// RecordLoginAttempt adds to the connection's login log.
func (s *Service) RecordLoginAttempt(ctx context.Context, a LoginAttempt) error {
	a.ID, a.CreatedAt = newID(), s.clock()
	if len(a.Detail) == 0 {
		a.Detail = json.RawMessage(`{}`)
	}
	a.Reason = clip(a.Reason, 2000)
	if err := s.store.AddLoginAttempt(ctx, a, LoginLogSize); err != nil {
		return fmt.Errorf("record login attempt: %w", err)
	}
	return nil
}

// LoginAttempts returns the connection's newest login attempts: up to
// limit verified and up to limit unverified ones, newest first, so that
// the answers of real people stay in view however much junk arrived.
func (s *Service) LoginAttempts(ctx context.Context, accountID, connectionID string, limit int) ([]LoginAttempt, error) {
	if _, err := s.store.FindConnection(ctx, accountID, connectionID); err != nil {
		return nil, err
	}
	return s.store.FindLoginAttempts(ctx, connectionID, min(max(limit, 1), LoginLogSize))
}
