package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// SCIMToken lets one identity provider push users and groups into one
// account. The token itself is shown once, when it is made.
type SCIMToken struct {
	ID         string
	AccountID  string
	Name       string // what the admin called it: "Okta production"
	TokenHash  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// scimTokenPrefix marks admit's SCIM tokens so that secret scanners (and
// people) can recognise one that leaked into a repository or a ticket.
const scimTokenPrefix = "admit_scim_"

// CreateSCIMToken makes a new token for the account and returns it; only
// its hash is kept, so this is the one time it can be seen.
func (s *Service) CreateSCIMToken(ctx context.Context, accountID string, actor Actor, name string) (string, SCIMToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "SCIM token"
	}
	if msg := validateName("token name", name); msg != "" {
		return "", SCIMToken{}, InvalidError(msg)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := scimTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	t := SCIMToken{ID: newID(), AccountID: accountID, Name: name, TokenHash: hashToken(token), CreatedAt: s.clock()}
	err := s.store.Tx(ctx, func(tx Store) error {
		if _, err := tx.FindAccount(ctx, accountID); err != nil {
			return err
		}
		if err := tx.CreateSCIMToken(ctx, t); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "scim_token.created", targetType: "scim_token", targetID: t.ID,
			data: map[string]any{"name": name},
		})
	})
	if err != nil {
		return "", SCIMToken{}, fmt.Errorf("create SCIM token: %w", err)
	}
	return token, t, nil
}

// SCIMTokens lists the account's tokens, revoked ones included.
func (s *Service) SCIMTokens(ctx context.Context, accountID string) ([]SCIMToken, error) {
	return s.store.FindSCIMTokens(ctx, accountID)
}

// RevokeSCIMToken stops a token from working, at once.
func (s *Service) RevokeSCIMToken(ctx context.Context, accountID string, actor Actor, id string) (SCIMToken, error) {
	var t SCIMToken
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if t, err = tx.FindSCIMToken(ctx, id); err != nil || t.AccountID != accountID {
			return NotFoundError(fmt.Sprintf("no SCIM token %s in this account", id))
		}
		if t.RevokedAt != nil {
			return nil
		}
		now := s.clock()
		if err := tx.RevokeSCIMToken(ctx, id, now); err != nil {
			return err
		}
		t.RevokedAt = &now
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "scim_token.revoked", targetType: "scim_token", targetID: id,
			data: map[string]any{"name": t.Name},
		})
	})
	if err != nil {
		return SCIMToken{}, fmt.Errorf("revoke SCIM token: %w", err)
	}
	return t, nil
}

// AuthenticateSCIM returns the account a SCIM bearer token belongs to,
// checked as CheckSCIMToken checks it.
func (s *Service) AuthenticateSCIM(ctx context.Context, token string) (Account, SCIMToken, error) {
	t, err := s.CheckSCIMToken(ctx, token)
	if err != nil {
		return Account{}, SCIMToken{}, err
	}
	a, err := s.store.FindAccount(ctx, t.AccountID)
	if err != nil {
		return Account{}, SCIMToken{}, err
	}
	return a, t, nil
}

// CheckSCIMToken returns the SCIM token a bearer token is, whose account
// (AccountID) a SCIM request is scoped to. The token is found by its hash,
// in the database on every call so that a revoked token fails on the next
// request on every replica, and compared in constant time; its last use
// is recorded at most once a minute. It reads one row: a SCIM request
// needs the account's id only, and the operations that need more of the
// account read it in their transaction.
func (s *Service) CheckSCIMToken(ctx context.Context, token string) (SCIMToken, error) {
	unauthenticated := UnauthenticatedError("The bearer token is missing, wrong or revoked.")
	if !strings.HasPrefix(token, scimTokenPrefix) {
		return SCIMToken{}, unauthenticated
	}
	hash := hashToken(token)
	t, err := s.store.FindSCIMTokenByHash(ctx, hash)
	if KindOf(err) == NotFound || (err == nil && (t.RevokedAt != nil || subtle.ConstantTimeCompare([]byte(t.TokenHash), []byte(hash)) != 1)) {
		return SCIMToken{}, unauthenticated
	}
	if err != nil {
		return SCIMToken{}, err
	}
	now := s.clock()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= time.Minute {
		if err := s.store.TouchSCIMToken(ctx, t.ID, now); err != nil {
			return SCIMToken{}, err
		}
		t.LastUsedAt = &now
	}
	return t, nil
}
