package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// APIKey lets a program use the JSON API. An account's key acts as an
// admin of that account; an operator key (AccountID empty) creates
// accounts and acts on any of them, as the operator at the command line
// does. The key itself is shown once, when it is made.
type APIKey struct {
	ID         string
	AccountID  string // "" for an operator key
	Name       string // what it is for: "billing sync"
	KeyHash    string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Operator reports whether the key is an operator key.
func (k APIKey) Operator() bool { return k.AccountID == "" }

// Actor is the key as its changes are audited: the audit log names the
// key, not a person.
func (k APIKey) Actor() Actor { return Actor{Source: SourceAPIKey, ID: k.ID, Name: k.Name} }

// SourceAPIKey is a change made through the JSON API with an API key.
const SourceAPIKey Source = "api_key"

// apiKeyPrefix marks admit's API keys so that secret scanners (and people)
// can recognise one that leaked, and tell it from a SCIM token.
const apiKeyPrefix = "admit_ak_"

// APIKeyStore is what API keys and idempotent requests need of the store.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k APIKey) error
	FindAPIKey(ctx context.Context, id string) (APIKey, error)
	FindAPIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	// FindAPIKeys lists an account's keys, or the operator keys when
	// accountID is empty, oldest first.
	FindAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error

	// ClaimIdempotencyKey stores r unless the API key has used r.Key since
	// notBefore; either way it returns the record that holds the key, and
	// claimed says whether it is r. An older record of the key is replaced.
	ClaimIdempotencyKey(ctx context.Context, r IdempotencyRecord, notBefore time.Time) (stored IdempotencyRecord, claimed bool, err error)
	// FinishIdempotencyKey stores the response of a claimed key.
	FinishIdempotencyKey(ctx context.Context, apiKeyID, key string, status int, response []byte) error
	// ReleaseIdempotencyKey forgets a claimed key whose request failed on
	// admit's side, so that a retry runs again.
	ReleaseIdempotencyKey(ctx context.Context, apiKeyID, key string) error
	// DeleteIdempotencyKeysBefore forgets the keys claimed before t.
	DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error)
}

// CreateAPIKey makes a new key for the account, or an operator key when
// accountID is empty, and returns it; only its hash is kept, so this is the
// one time it can be seen.
func (s *Service) CreateAPIKey(ctx context.Context, accountID string, actor Actor, name string) (string, APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", APIKey{}, InvalidError("give the key a name that says what uses it")
	}
	if msg := validateName("key name", name); msg != "" {
		return "", APIKey{}, InvalidError(msg)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	k := APIKey{ID: newID(), AccountID: accountID, Name: name, KeyHash: hashToken(key), CreatedAt: s.clock()}
	err := s.store.Tx(ctx, func(tx Store) error {
		if accountID != "" {
			if _, err := tx.FindAccount(ctx, accountID); err != nil {
				return err
			}
		}
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "api_key.created", targetType: "api_key", targetID: k.ID,
			data: map[string]any{"name": name, "operator": k.Operator()},
		})
	})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	return key, k, nil
}

// APIKeys lists the account's keys (the operator keys when accountID is
// empty), revoked ones included.
func (s *Service) APIKeys(ctx context.Context, accountID string) ([]APIKey, error) {
	return s.store.FindAPIKeys(ctx, accountID)
}

// RevokeAPIKey stops a key of the account (an operator key when accountID
// is empty) from working, at once.
func (s *Service) RevokeAPIKey(ctx context.Context, accountID string, actor Actor, id string) (APIKey, error) {
	var k APIKey
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if !lookupable(id) {
			return NotFoundError(fmt.Sprintf("no API key %s here", id))
		}
		if k, err = tx.FindAPIKey(ctx, id); KindOf(err) == NotFound || (err == nil && k.AccountID != accountID) {
			return NotFoundError(fmt.Sprintf("no API key %s here", id))
		} else if err != nil {
			return err
		}
		if k.RevokedAt != nil {
			return nil
		}
		now := s.clock()
		if err := tx.RevokeAPIKey(ctx, id, now); err != nil {
			return err
		}
		k.RevokedAt = &now
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "api_key.revoked", targetType: "api_key", targetID: id,
			data: map[string]any{"name": k.Name},
		})
	})
	if err != nil {
		return APIKey{}, fmt.Errorf("revoke API key: %w", err)
	}
	return k, nil
}

// errBadKey is the one answer for a key that is missing, malformed, unknown
// or revoked: the caller learns nothing about which.
var errBadKey = UnauthenticatedError("The API key is missing, wrong or revoked.")

// AuthenticateAPIKey returns the key a bearer token is. The key is found
// by its hash and compared in constant time; its last use is recorded at
// most once a minute, so a busy client costs no write a request.
func (s *Service) AuthenticateAPIKey(ctx context.Context, token string) (APIKey, error) {
	if !strings.HasPrefix(token, apiKeyPrefix) || len(token) > 128 {
		return APIKey{}, errBadKey
	}
	hash := hashToken(token)
	k, err := s.store.FindAPIKeyByHash(ctx, hash)
	if KindOf(err) == NotFound || (err == nil && (k.RevokedAt != nil || subtle.ConstantTimeCompare([]byte(k.KeyHash), []byte(hash)) != 1)) {
		return APIKey{}, errBadKey
	}
	if err != nil {
		return APIKey{}, err
	}
	now := s.clock()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= time.Minute {
		if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
			return APIKey{}, err
		}
		k.LastUsedAt = &now
	}
	return k, nil
}

// errNoAccount is the answer for an account a key may not reach: the same
// as for one that does not exist, so a key learns nothing of other accounts.
var errNoAccount = NotFoundError("There is no such account.")

// KeyAdmin opens the account with slug (or id) for a key, as an admin: an account
// key reaches only its own account (any other is NotFound), an operator key
// every account, as an owner.
func (s *Service) KeyAdmin(ctx context.Context, k APIKey, slug string) (Admin, error) {
	if !lookupable(slug) {
		return Admin{}, errNoAccount
	}
	// Its id, as events name accounts, or its slug (which may no longer
	// be written as an id, so the two do not meet).
	var a Account
	err := NotFoundError("")
	if isID(slug) {
		a, err = s.store.FindAccount(ctx, slug)
	}
	if KindOf(err) == NotFound {
		a, err = s.store.FindAccountBySlug(ctx, slug)
	}
	if KindOf(err) == NotFound || (err == nil && !k.Operator() && a.ID != k.AccountID) {
		return Admin{}, errNoAccount
	}
	if err != nil {
		return Admin{}, err
	}
	role := RoleAdmin
	if k.Operator() {
		role = RoleOwner
	}
	return Admin{Account: a, Membership: Membership{AccountID: a.ID, Role: role, Status: StatusActive}, Key: &k}, nil
}

// FindInvitationOf returns the account's invitation with that id; another
// account's is NotFound like one that does not exist.
func (s *Service) FindInvitationOf(ctx context.Context, accountID, id string) (Invitation, error) {
	notFound := NotFoundError("There is no such invitation in this account.")
	if !lookupable(id) {
		return Invitation{}, notFound
	}
	inv, err := s.store.FindInvitation(ctx, id)
	if KindOf(err) == NotFound || (err == nil && inv.AccountID != accountID) {
		return Invitation{}, notFound
	}
	return inv, err
}

// AuditPage is one page of an account's audit trail, newest first. Next
// continues it; empty on the last page.
type AuditPage struct {
	Events []AuditEvent
	Next   string
}

// AuditTrailPage returns the page of the account's audit trail that
// matches q after the cursor (the Next of the previous page; empty for the
// first). Pages are keyset-paged on (time, id), so deep pages cost what the
// first does.
func (s *Service) AuditTrailPage(ctx context.Context, accountID string, q AuditQuery, after string) (AuditPage, error) {
	switch {
	case q.Limit <= 0:
		q.Limit = 100
	case q.Limit > 1000:
		q.Limit = 1000
	}
	if err := checkAuditFilter(q); err != nil {
		return AuditPage{}, err
	}
	if !q.Since.IsZero() {
		q.Since = q.Since.UTC().Truncate(time.Microsecond)
	}
	if after != "" {
		at, id, err := decodeAuditCursor(after)
		if err != nil {
			return AuditPage{}, err
		}
		q.BeforeAt, q.BeforeID = at, id
	}
	want := q.Limit
	q.Limit++
	events, err := s.store.FindAuditEventsBy(ctx, accountID, q)
	if err != nil {
		return AuditPage{}, fmt.Errorf("find audit events: %w", err)
	}
	if len(events) == 0 && q.Action != "" {
		if err := s.checkAuditAction(ctx, accountID, q); err != nil {
			return AuditPage{}, err
		}
	}
	page := AuditPage{Events: events}
	if len(events) > want {
		page.Events = events[:want]
		last := page.Events[want-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + "\x00" + last.ID))
	}
	return page, nil
}

// PersonIDs returns the ids a person with that email goes by in the
// account's audit trail, or none when no one has the address: their user
// id, their membership id when they are a member, and the ids of their
// invitations to the account, which the invitation.* events target (an
// invited person's trail is those events, and a removal ends the
// membership but not what the invitations record).
func (s *Service) PersonIDs(ctx context.Context, accountID, email string) ([]string, error) {
	email = strings.TrimSpace(email)
	if !lookupable(email) {
		return nil, nil
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if KindOf(err) == NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ids := []string{u.ID}
	if m, err := s.store.FindMembership(ctx, accountID, u.ID); err == nil {
		ids = append(ids, m.ID)
	} else if KindOf(err) != NotFound {
		return nil, err
	}
	invs, err := s.store.FindInvitationIDs(ctx, accountID, u.ID, maxTrailInvitations)
	if err != nil {
		return nil, err
	}
	return append(ids, invs...), nil
}

// maxTrailInvitations bounds the invitations a person's audit trail looks
// for, and so the ids its query matches: a person is invited again only
// after a revocation or removal, a few times at most.
const maxTrailInvitations = 100

func decodeAuditCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if ts, id, ok := strings.Cut(string(b), "\x00"); ok && id != "" && lookupable(id) {
			if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				return at.UTC(), id, nil
			}
		}
	}
	return time.Time{}, "", InvalidError("the page cursor is not valid; start the listing again")
}

// IdempotencyTTL is how long a POST's Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyRecord is a request made with an Idempotency-Key, and its
// response once it has one (Status 0 while the request runs).
type IdempotencyRecord struct {
	APIKeyID    string
	Key         string
	RequestHash string
	Status      int
	Response    []byte
	CreatedAt   time.Time
}

// IdempotencyState says what to do with a request that carries an
// Idempotency-Key.
type IdempotencyState int

const (
	// IdempotencyNew: the key is claimed for this request; run it, then
	// FinishIdempotent (or ReleaseIdempotent when it failed on our side).
	IdempotencyNew IdempotencyState = iota
	// IdempotencyReplay: the same request ran before; answer its response.
	IdempotencyReplay
	// IdempotencyRunning: the same request is running now.
	IdempotencyRunning
	// IdempotencyMismatch: the key was used for a different request.
	IdempotencyMismatch
)

// maxIdempotencyKey bounds the keys a client may send (the IETF draft
// suggests a UUID; 255 leaves room for any sensible scheme).
const maxIdempotencyKey = 255

// BeginIdempotent claims an Idempotency-Key of an API key for a request
// (method, path and body, kept as an HMAC under the token key), or says how an earlier request with it
// stands. The claim is a row the database makes unique, so two replicas
// receiving the same retry at once run it once.
func (s *Service) BeginIdempotent(ctx context.Context, k APIKey, key string, request []byte) (IdempotencyState, IdempotencyRecord, error) {
	if key == "" || len(key) > maxIdempotencyKey || hasControl(key) || !lookupable(key) {
		return 0, IdempotencyRecord{}, InvalidError(fmt.Sprintf("the Idempotency-Key must be 1 to %d printable characters", maxIdempotencyKey))
	}
	// Keyed, not a plain hash: a request's body may hold a password, and a
	// plain hash of a body whose other fields are known would let whoever
	// reads the database guess it offline.
	requestHash := func(tokenKey []byte) string {
		mac := hmac.New(sha256.New, tokenKey)
		mac.Write([]byte("admit idempotency request\x00"))
		mac.Write(request)
		return hex.EncodeToString(mac.Sum(nil))
	}
	now := s.clock()
	r := IdempotencyRecord{APIKeyID: k.ID, Key: key, RequestHash: requestHash(s.tokenKey), CreatedAt: now}
	stored, claimed, err := s.store.ClaimIdempotencyKey(ctx, r, now.Add(-IdempotencyTTL))
	switch {
	case err != nil:
		return 0, IdempotencyRecord{}, fmt.Errorf("claim idempotency key: %w", err)
	case claimed:
		return IdempotencyNew, stored, nil
	case subtle.ConstantTimeCompare([]byte(stored.RequestHash), []byte(r.RequestHash)) != 1 && !slices.ContainsFunc(s.acceptedTokenKeys, func(k []byte) bool {
		// A replica with another key of a rotation of the server key
		// kept the first answer: the retry is the same request.
		return subtle.ConstantTimeCompare([]byte(stored.RequestHash), []byte(requestHash(k))) == 1
	}):
		return IdempotencyMismatch, stored, nil
	case stored.Status == 0:
		return IdempotencyRunning, stored, nil
	default:
		return IdempotencyReplay, stored, nil
	}
}

// FinishIdempotent keeps the response of a claimed request for retries.
func (s *Service) FinishIdempotent(ctx context.Context, r IdempotencyRecord, status int, response []byte) error {
	return s.store.FinishIdempotencyKey(ctx, r.APIKeyID, r.Key, status, response)
}

// ReleaseIdempotent forgets a claim whose request failed on admit's side.
func (s *Service) ReleaseIdempotent(ctx context.Context, r IdempotencyRecord) error {
	return s.store.ReleaseIdempotencyKey(ctx, r.APIKeyID, r.Key)
}

// SweepIdempotencyKeys forgets the keys older than IdempotencyTTL.
func (s *Service) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	return s.store.DeleteIdempotencyKeysBefore(ctx, s.clock().Add(-IdempotencyTTL))
}
