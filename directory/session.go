package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Session is a signed-in browser, scoped to one account. The browser holds
// a random token; the store keeps only its hash.
type Session struct {
	IDHash     string
	UserID     string
	AccountID  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // the absolute end, however active the session is
	Credential Credential
	// FamilyHash is, for a session a hand-off opened on an app's host, the
	// IDHash of the session on admit's host it came from: ending either
	// ends the family (EndSession). "" for a session opened by sign-in.
	FamilyHash string
	// Host is, for such a session, the app's host it was opened on: it is
	// good there only (ForwardAuth). "" for a session opened by sign-in.
	Host string
}

// Session and sign-in limits.
const (
	// SessionIdleTimeout ends a session nobody used for this long.
	SessionIdleTimeout = 8 * time.Hour
	// SessionMaxAge ends every session this long after sign-in.
	SessionMaxAge = 7 * 24 * time.Hour
	// sessionTouchEvery limits last-seen updates to one write a minute per
	// session, rather than one per request.
	sessionTouchEvery = time.Minute
)

// SignedIn is the outcome of a correct email and password.
type SignedIn struct {
	User User
	// Accounts are the accounts where the person is an active member,
	// ordered by name.
	Accounts []Account
	// Preferred is the account to open: the one chosen last time, or the
	// only one. Empty when the person has several and never chose.
	Preferred string
	// Device is a new device token for the browser to keep and present
	// at its next sign-ins as this person (see Client).
	Device string
}

// dummyHash is verified against when there is no real hash to check, so
// that an unknown email costs as much time as a wrong password and the
// answer's timing tells nothing.
func (s *Service) dummyHash(ctx context.Context) string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = s.hasher.Hash(ctx, "admit dummy password for timing")
	})
	return s.dummy
}

// dummyState is embedded in Service.
type dummyState struct {
	dummyOnce sync.Once
	dummy     string
}

var errBadCredentials = UnauthenticatedError("The email address or password is not right.")

// SignIn checks an email and password; from says where the attempt comes
// from, for throttling (see throttle.go). Wrong and unknown emails get the
// same answer in the same time; the caller then passes a failure to
// RecordFailedSignIn, for the audit log.
func (s *Service) SignIn(ctx context.Context, email, password string, from Client) (SignedIn, error) {
	now := s.clock()
	if !lookupable(email) {
		_, _, _ = s.hasher.Verify(ctx, s.dummyHash(ctx), password)
		return SignedIn{}, errBadCredentials
	}
	emailKey := EmailKey(strings.TrimSpace(email))
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil && KindOf(err) != NotFound {
		return SignedIn{}, err
	}
	throttles := s.throttlesFor(u, emailKey, from, now)
	attempt, counts, err := s.chargeAttempt(ctx, now, throttles)
	if err != nil {
		return SignedIn{}, err
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = s.dummyHash(ctx)
	}
	ok, stale, err := s.hasher.Verify(ctx, hash, password)
	if err != nil {
		return SignedIn{}, errors.Join(fmt.Errorf("verify password: %w", err), s.refund(ctx, attempt, throttles))
	}
	if !ok || !u.HasPassword() {
		return SignedIn{}, failSignIn(u, throttles, counts)
	}
	// Only the lockout this attempt was held to is cleared: the owner
	// signing in on their own device leaves a stranger's count alone. The
	// other counts only lose this attempt.
	if err := s.store.ClearSignInFailures(ctx, throttles[0].key); err != nil {
		return SignedIn{}, err
	}
	if err := s.refund(ctx, attempt, throttles[1:]); err != nil {
		return SignedIn{}, err
	}
	if u.PasswordMustChange && u.PasswordChangedAt != nil {
		policy, _, err := s.PolicyForUser(ctx, u.ID)
		if err != nil {
			return SignedIn{}, err
		}
		if now.Sub(*u.PasswordChangedAt) > policy.InitialPasswordTTL() {
			return SignedIn{}, ForbiddenError("Your initial password has expired. Reset your password, or ask your administrator for help.")
		}
	}
	accounts, refusals, err := s.enterableAccounts(ctx, u, ByPassword)
	if err != nil {
		return SignedIn{}, err
	}
	// Each account the right password may not open hears of the attempt:
	// its SSO requirement or a password another account set held.
	if err := s.recordRefusals(ctx, u, ByPassword, refusals); err != nil {
		return SignedIn{}, err
	}
	if len(accounts) == 0 && len(refusals) > 0 {
		// The password is right but opens none of the person's accounts:
		// say why (their company's SSO, a password set by another
		// organisation), as the first refusal words it.
		return SignedIn{}, refusals[0].err
	}
	if len(accounts) == 0 {
		return SignedIn{}, ForbiddenError("You have no active account here any more. Ask your administrator for access.")
	}
	current := u.PasswordHash
	if stale {
		// Hashes made with older parameters are upgraded while the
		// password is at hand.
		if fresh, err := s.hasher.Hash(ctx, password); err == nil {
			// Only over the hash just checked: a password set meanwhile
			// stays.
			if s.store.ReplacePassword(ctx, u.ID, u.PasswordHash, fresh, u.PasswordMustChange, derefTime(u.PasswordChangedAt, now)) == nil {
				current = fresh
			}
		}
	}
	out := SignedIn{User: u, Accounts: accounts, Device: s.issueDeviceToken(deviceSubject(emailKey, current), now)}
	if len(accounts) == 1 {
		out.Preferred = accounts[0].ID
	} else if slices.ContainsFunc(accounts, func(a Account) bool { return a.ID == u.LastAccountID }) {
		out.Preferred = u.LastAccountID
	}
	return out, nil
}

func derefTime(t *time.Time, def time.Time) time.Time {
	if t == nil {
		return def
	}
	return *t
}

// enterableAccounts returns the accounts where the person is an active
// member and the credential opens (mayEnter), ordered by name, and the
// refusals of the others.
func (s *Service) enterableAccounts(ctx context.Context, u User, cred Credential) ([]Account, []refusal, error) {
	ms, err := s.store.FindMembershipsOfUser(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	var accounts []Account
	var refusals []refusal
	for _, m := range ms {
		if m.Status != StatusActive {
			continue
		}
		a, err := s.store.FindAccount(ctx, m.AccountID)
		if err != nil {
			return nil, nil, err
		}
		v, err := checkEntry(ctx, s.store, a, u, m, cred)
		if err != nil {
			return nil, nil, err
		}
		if v.refusal != nil {
			refusals = append(refusals, refusal{accountID: a.ID, err: v.refusal})
			continue
		}
		accounts = append(accounts, a)
	}
	slices.SortFunc(accounts, func(a, b Account) int { return strings.Compare(a.Title(), b.Title()) })
	return accounts, refusals, nil
}

func (s *Service) activeAccounts(ctx context.Context, userID string) ([]Account, error) {
	ms, err := s.store.FindMembershipsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	var accounts []Account
	for _, m := range ms {
		if m.Status != StatusActive {
			continue
		}
		a, err := s.store.FindAccount(ctx, m.AccountID)
		if err != nil {
			return nil, err
		}
		accounts = append(accounts, a)
	}
	slices.SortFunc(accounts, func(a, b Account) int { return strings.Compare(a.Title(), b.Title()) })
	return accounts, nil
}

// StartSession opens a session for the user in one of their accounts and
// returns the token for the browser's cookie. cred is how the person signed
// in; it must open the account (mayEnter). Only an explicit choice
// (SwitchAccount) is remembered for next time.
func (s *Service) StartSession(ctx context.Context, userID, accountID string, cred Credential) (string, Session, error) {
	return s.startSession(ctx, userID, accountID, cred, time.Time{}, time.Time{}, "", "", nil)
}

// startSession is StartSession, for a session that ends by until (when
// set), carries on a sign-in made at signedIn (when set: a hand-off's), and
// whose audit event carries more data (a hand-off's app).
func (s *Service) startSession(ctx context.Context, userID, accountID string, cred Credential, until, signedIn time.Time, family, host string, more map[string]any) (string, Session, error) {
	token := newSessionToken()
	now := s.clock()
	expires := now.Add(SessionMaxAge)
	if !until.IsZero() && until.Before(expires) {
		expires = until
	}
	sess := Session{IDHash: hashToken(token), UserID: userID, AccountID: accountID, CreatedAt: now, LastSeenAt: now, ExpiresAt: expires, Credential: cred, FamilyHash: family, Host: host}
	data := map[string]any{"method": cred.Method, "connection_id": cred.ConnectionID}
	for k, v := range more {
		data[k] = v
	}
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := s.enter(ctx, tx, accountID, userID, cred, signedIn); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := tx.RecordSignIn(ctx, accountID, userID, cred.ConnectionID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: Actor{Source: SourceUser, ID: userID}, action: "user.signed_in",
			targetType: "user", targetID: userID, data: data,
		})
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("start session: %w", s.auditRefusedEntry(ctx, err))
	}
	return token, sess, nil
}

// newSessionToken is a session's token: 256 bits from crypto/rand; the
// store keeps only its hash.
func newSessionToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// entryRefused is enter's refusal by the trust rules. Its transaction rolls
// back, so the caller audits it afterwards (auditRefusedEntry).
type entryRefused struct {
	refusal
	user User
	cred Credential
}

func (e *entryRefused) Error() string { return e.err.Error() }
func (e *entryRefused) Unwrap() error { return e.err }

// auditRefusedEntry records a refusal of the trust rules that err carries;
// err is returned as it is.
func (s *Service) auditRefusedEntry(ctx context.Context, err error) error {
	var r *entryRefused
	if errors.As(err, &r) {
		if rerr := s.recordRefusals(ctx, r.user, r.cred, []refusal{r.refusal}); rerr != nil {
			return rerr
		}
	}
	return err
}

// refusal is an account a credential did not open, and why.
type refusal struct {
	accountID string
	err       error
}

// recordRefusals audits, in each account, that the person's credential
// was refused there. Only a person who got their credential right gets
// this far, so strangers write nothing here.
func (s *Service) recordRefusals(ctx context.Context, u User, cred Credential, refusals []refusal) error {
	if len(refusals) == 0 {
		return nil
	}
	return s.store.Tx(ctx, func(tx Store) error {
		for _, r := range refusals {
			if err := s.recordRefusal(ctx, tx, r.accountID, u, cred, r.err); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) recordRefusal(ctx context.Context, tx Store, accountID string, u User, cred Credential, why error) error {
	return s.record(ctx, tx, change{
		accountID: accountID, actor: Actor{Source: SourceUser, ID: u.ID, Name: u.Email}, action: "user.sign_in_refused",
		targetType: "user", targetID: u.ID, data: map[string]any{"method": cred.Method, "connection_id": cred.ConnectionID, "reason": Message(why)},
	})
}

// enter checks, inside tx, that the person is an active member of the
// account and that cred opens it, for a session signed in at signedIn
// (zero: a sign-in now), which must not be older than an admin's end of the
// person's sessions there; an owner's break-glass password sign-in is
// audited each time.
func (s *Service) enter(ctx context.Context, tx Store, accountID, userID string, cred Credential, signedIn time.Time) error {
	m, err := tx.FindMembership(ctx, accountID, userID)
	if err != nil || m.Status != StatusActive {
		return ForbiddenError("You are not an active member of that account.")
	}
	if sessionsEnded(m, signedIn) {
		return errSessionsEnded
	}
	a, err := tx.FindAccount(ctx, accountID)
	if err != nil {
		return err
	}
	u, err := tx.FindUser(ctx, userID)
	if err != nil {
		return err
	}
	v, err := checkEntry(ctx, tx, a, u, m, cred)
	if err != nil {
		return err
	}
	if v.refusal != nil {
		return &entryRefused{refusal: refusal{accountID: accountID, err: v.refusal}, user: u, cred: cred}
	}
	if v.breakGlass {
		return s.record(ctx, tx, change{
			accountID: accountID, actor: Actor{Source: SourceUser, ID: userID, Name: u.Email}, action: "user.break_glass_sign_in",
			targetType: "user", targetID: userID, data: map[string]any{"email": u.Email, "role": m.Role},
		})
	}
	return nil
}

// Visit is a request's view of its session: who, in which account.
type Visit struct {
	Session    Session
	User       User
	Account    Account
	Membership Membership
}

// Handoff says the session was handed to an app's host (FinishHandoff).
// Such a session is that host's only: it lets the app's pages and
// forward-auth know the person, but it never opens the console, the
// OpenID provider's authorization, nor another hand-off on admit's own
// host, so a cookie the app's host sees (an app's logs, a proxy passing
// it on) is not a key to the person's whole admit session.
func (v Visit) Handoff() bool { return v.Session.FamilyHash != "" }

// errHandedOff refuses a hand-off session where only admit's own is good.
var errHandedOff = ForbiddenError("This page needs you signed in on admit's own address, not through an app. Sign in there and try again.")

// HandedOff is errHandedOff for the entry points that check Handoff.
func HandedOff() error { return errHandedOff }

// AuthenticatePage is Authenticate for admit's own pages (the person's
// profile and accounts, the console): a session a hand-off opened on an
// app's host opens none of them, so its cookie, taken from the app's side,
// is not the person's admit session. It is Unauthenticated there: the
// person signs in on admit's host as anyone would.
func (s *Service) AuthenticatePage(ctx context.Context, token string) (Visit, error) {
	v, err := s.Authenticate(ctx, token)
	if err == nil && v.Handoff() {
		return Visit{}, UnauthenticatedError("Please sign in.")
	}
	return v, err
}

// Authenticate finds the live session of a token. A session past its idle
// or absolute end, or whose membership is no longer active, is ended and
// reported Unauthenticated: checking the membership on every request is
// what makes a deactivation end sessions at once, on every replica.
func (s *Service) Authenticate(ctx context.Context, token string) (Visit, error) {
	if token == "" {
		return Visit{}, UnauthenticatedError("Please sign in.")
	}
	sess, err := s.store.FindSession(ctx, hashToken(token))
	if KindOf(err) == NotFound {
		return Visit{}, UnauthenticatedError("Please sign in.")
	}
	if err != nil {
		return Visit{}, err
	}
	now := s.clock()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= SessionIdleTimeout {
		_ = s.store.DeleteSession(ctx, sess.IDHash)
		return Visit{}, UnauthenticatedError("Your session has ended. Please sign in again.")
	}
	m, err := s.store.FindMembership(ctx, sess.AccountID, sess.UserID)
	if KindOf(err) == NotFound || (err == nil && m.Status != StatusActive) {
		_ = s.store.DeleteSession(ctx, sess.IDHash)
		return Visit{}, UnauthenticatedError("Your access to this account has ended.")
	}
	if err == nil && sessionsEnded(m, sess.CreatedAt) {
		// Moved here by a switch that raced an admin's end of the
		// person's sessions (which deleted those already here).
		_ = s.store.DeleteSession(ctx, sess.IDHash)
		return Visit{}, UnauthenticatedError("Your session here was ended. Please sign in again.")
	}
	if err != nil {
		return Visit{}, err
	}
	u, err := s.store.FindUser(ctx, sess.UserID)
	if err != nil {
		return Visit{}, err
	}
	a, err := s.store.FindAccount(ctx, sess.AccountID)
	if KindOf(err) == NotFound {
		// The account is being deleted (admit account delete): its
		// sessions end before its deletion reaches them.
		_ = s.store.DeleteSession(ctx, sess.IDHash)
		return Visit{}, UnauthenticatedError("Your access to this account has ended.")
	}
	if err != nil {
		return Visit{}, err
	}
	// The account's policy or the person's credential may have changed
	// since sign-in (SSO now required, a password revoked): the session
	// keeps only what its credential still opens.
	verdict, err := checkEntry(ctx, s.store, a, u, m, sess.Credential)
	if err != nil {
		return Visit{}, err
	}
	if verdict.refusal != nil {
		_ = s.store.DeleteSession(ctx, sess.IDHash)
		return Visit{}, &Error{Kind: Unauthenticated, Message: Message(verdict.refusal)}
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.TouchSession(ctx, sess.IDHash, now); err != nil {
			return Visit{}, err
		}
		sess.LastSeenAt = now
	}
	return Visit{Session: sess, User: u, Account: a, Membership: m}, nil
}

// SwitchAccount moves a session to another of the person's accounts and
// remembers the choice for their next sign-in.
func (s *Service) SwitchAccount(ctx context.Context, v Visit, accountID string) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := s.enter(ctx, tx, accountID, v.User.ID, v.Session.Credential, v.Session.CreatedAt); err != nil {
			return err
		}
		if err := tx.UpdateSessionAccount(ctx, v.Session.IDHash, accountID); err != nil {
			return err
		}
		// Entering an account counts as signing in to it.
		if err := tx.RecordSignIn(ctx, accountID, v.User.ID, v.Session.Credential.ConnectionID, s.clock()); err != nil {
			return err
		}
		return tx.SetLastAccount(ctx, v.User.ID, accountID)
	})
	if err != nil {
		return fmt.Errorf("switch account: %w", s.auditRefusedEntry(ctx, err))
	}
	return nil
}

// AccountsOf returns the accounts the visit's session can switch to: where
// the person is an active member and the way they signed in opens.
func (s *Service) AccountsOf(ctx context.Context, v Visit) ([]Account, error) {
	accounts, _, err := s.enterableAccounts(ctx, v.User, v.Session.Credential)
	return accounts, err
}

// EndHostSession ends one session and not its family: a hand-off
// replacing the session an app's host had (which may be of the same
// family as the one it hands from).
func (s *Service) EndHostSession(ctx context.Context, token string) error {
	return s.store.DeleteSession(ctx, hashToken(token))
}

// EndSession signs a browser out.
//
// A session ends with its family: signing out on an app's host ends the
// session on admit's host it was handed from (else the browser would be
// handed straight back in) and the other hosts' sessions of that sign-in;
// signing out, or signing in again, on admit's host ends its hand-offs.
func (s *Service) EndSession(ctx context.Context, token string) error {
	sess, err := s.store.FindSession(ctx, hashToken(token))
	if KindOf(err) == NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	root := sess.IDHash
	if sess.FamilyHash != "" {
		root = sess.FamilyHash
	}
	return s.store.DeleteSessionFamily(ctx, root)
}

// ChangePassword replaces the person's password after checking the current
// one. The new one must meet the strictest policy of their accounts and
// differ from the current one. Every session of theirs ends, the visit's
// too: it goes on under a new token (returned, for the browser's cookie),
// in the same account until the same absolute end. A person changes their
// password because someone may have it, or their session cookie; a copy of
// the cookie must not outlive the change (OWASP ASVS 3.3.3, 3.2.1).
func (s *Service) ChangePassword(ctx context.Context, v Visit, current, next string) (string, Session, error) {
	if !v.User.HasPassword() {
		return "", Session{}, InvalidError("you sign in through single sign-on: there is no password to change here")
	}
	// Whoever holds a copied session cookie could otherwise guess the
	// current password here at hashing speed, then change it or use it
	// elsewhere: wrong ones count, as sign-ins do, against a limit of the
	// person's changes (not their sign-in lockout, which a stranger can
	// fill and which would then keep the person from changing it).
	guesses := []throttle{{"change:" + v.User.ID, maxEmailFailures}}
	attempt, _, err := s.chargeAttempt(ctx, s.clock(), guesses)
	if err != nil {
		return "", Session{}, err
	}
	ok, _, err := s.hasher.Verify(ctx, v.User.PasswordHash, current)
	if err != nil {
		return "", Session{}, errors.Join(fmt.Errorf("verify password: %w", err), s.refund(ctx, attempt, guesses))
	}
	if !ok {
		return "", Session{}, InvalidError("your current password is not right")
	}
	if err := s.refund(ctx, attempt, guesses); err != nil {
		return "", Session{}, err
	}
	policy, accounts, err := s.PolicyForUser(ctx, v.User.ID)
	if err != nil {
		return "", Session{}, err
	}
	problems := policy.Check(next, v.User.Email)
	if normalizePassword(next) == normalizePassword(current) {
		problems = append(problems, "choose a password different from your current one")
	}
	if len(problems) > 0 {
		return "", Session{}, InvalidError(problems...)
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return "", Session{}, fmt.Errorf("hash password: %w", err)
	}
	token, renewed := newSessionToken(), v.Session
	renewed.LastSeenAt = s.clock()
	renewed.IDHash = hashToken(token)
	err = s.store.Tx(ctx, func(tx Store) error {
		// Both must still hold when the new password is written: the
		// session (not ended by a reset or a revocation meanwhile), and the
		// password that was checked (not replaced meanwhile, say by the
		// address's owner through a reset link, which this change must not
		// undo while keeping the reset's proof).
		if _, err := tx.FindSession(ctx, v.Session.IDHash); KindOf(err) == NotFound {
			return UnauthenticatedError("Your session has ended. Please sign in again.")
		} else if err != nil {
			return err
		}
		if err := tx.ReplacePassword(ctx, v.User.ID, v.User.PasswordHash, hash, false, s.clock()); KindOf(err) == NotFound {
			return ConflictError("your password was changed in the meantime; sign in again with the new one")
		} else if err != nil {
			return err
		}
		if err := tx.DeleteSessionsOfUser(ctx, v.User.ID, ""); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, renewed); err != nil {
			return err
		}
		for _, accountID := range accounts {
			if err := s.record(ctx, tx, change{
				accountID: accountID, actor: Actor{Source: SourceUser, ID: v.User.ID, Name: v.User.Email},
				action: "user.password_changed", targetType: "user", targetID: v.User.ID,
				data: map[string]any{"was_initial": v.User.PasswordMustChange},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("change password: %w", err)
	}
	return token, renewed, nil
}

// UpdateName changes the person's own name, as every account sees it; each
// account they belong to is told (user.updated).
func (s *Service) UpdateName(ctx context.Context, v Visit, first, last string) (User, error) {
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	var problems []string
	problems = appendProblem(problems, validateName("first name", first))
	problems = appendProblem(problems, validateName("last name", last))
	if len(problems) > 0 {
		return User{}, InvalidError(problems...)
	}
	var u User
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if u, err = tx.FindUser(ctx, v.User.ID); err != nil {
			return err
		}
		if u.FirstName == first && u.LastName == last {
			return nil // the same name again: nothing changed, nothing to tell
		}
		if err := tx.UpdateUserName(ctx, u.ID, first, last, s.clock()); err != nil {
			return err
		}
		u.FirstName, u.LastName = first, last
		return s.recordPersonChange(ctx, tx, v.Account.ID, Actor{Source: SourceUser, ID: u.ID, Name: u.Email}, "user.name_changed", u, "")
	})
	if err != nil {
		return User{}, fmt.Errorf("update name: %w", err)
	}
	v.User.FirstName, v.User.LastName = u.FirstName, u.LastName
	return v.User, nil
}

// findMemberByEmail reads the account's member with that email, without
// a lock.
func (s *Service) findMemberByEmail(ctx context.Context, tx Store, accountID, email string) (Member, error) {
	u, err := tx.FindUserByEmail(ctx, email)
	if err != nil {
		return Member{}, err
	}
	m, err := tx.FindMembership(ctx, accountID, u.ID)
	return Member{User: u, Membership: m}, err
}

// lockMemberByEmail finds the account's member with that email for the
// command line's changes, their membership locked: the same change made at
// the same moment (a double click, the CLI beside the console) waits, then
// finds it made, and is not told twice.
func lockMemberByEmail(ctx context.Context, tx Store, accountID, email string) (Member, error) {
	u, err := tx.FindUserByEmail(ctx, email)
	if err != nil {
		return Member{}, err
	}
	m, err := tx.LockMembership(ctx, accountID, u.ID)
	if err != nil {
		return Member{}, NotFoundError(fmt.Sprintf("%s is not a member of this account", u.Email))
	}
	return Member{User: u, Membership: m}, nil
}

// lockMemberAndOwners locks the member with that email and, when the
// change may take an owner away, the account's active owners first, in
// the order every such change takes them (owners.go).
func (s *Service) lockMemberAndOwners(ctx context.Context, tx Store, accountID, email string) (owners, Member, error) {
	o, err := lockOwnersFor(ctx, tx, accountID, func() (Member, error) { return s.findMemberByEmail(ctx, tx, accountID, email) })
	if err != nil {
		return nil, Member{}, err
	}
	m, err := lockMemberByEmail(ctx, tx, accountID, email)
	if err != nil {
		return nil, Member{}, err
	}
	o, err = o.lockOwnersAgain(ctx, tx, accountID, m)
	return o, m, err
}

// Deactivate suspends a membership: the person can no longer sign in to
// the account, and their sessions in it end at once. The account's last
// active owner is not deactivated (Conflict).
func (s *Service) Deactivate(ctx context.Context, accountID string, actor Actor, email string) (Member, error) {
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		o, m, err := s.lockMemberAndOwners(ctx, tx, accountID, email)
		if err != nil {
			return err
		}
		if err := o.keep(m, "deactivating"); err != nil {
			return err
		}
		out, err = s.deactivate(ctx, tx, actor, m)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("deactivate: %w", err)
	}
	return out, nil
}

// Remove takes the member with that email out of the account (the
// command line's; an admin's is RemoveMember): their membership, its
// sessions, app tokens and groups, and an open invitation go
// (membership.deleted). Their user stays, with its name, email and
// password, even when this was their only account: it opens no account
// then, and adding them again only adds a membership. The account's last
// active owner is not removed (Conflict).
func (s *Service) Remove(ctx context.Context, accountID string, actor Actor, email string) (Member, error) {
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		o, m, err := s.lockMemberAndOwners(ctx, tx, accountID, email)
		if err != nil {
			return err
		}
		out, err = s.remove(ctx, tx, actor, m, o)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("remove: %w", err)
	}
	return out, nil
}

// SetRole gives the member with that email another of the account's roles
// (the command line's; an admin's is ChangeRole), under the console's
// rules: a role the account has, and never taking away the account's last
// active owner (Conflict).
func (s *Service) SetRole(ctx context.Context, accountID string, actor Actor, email string, role Role) (Member, error) {
	role = Role(strings.TrimSpace(string(role)))
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		o, m, err := s.lockMemberAndOwners(ctx, tx, accountID, email)
		if err != nil {
			return err
		}
		out, err = s.setRole(ctx, tx, accountID, actor, m, o, role, true)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("set role: %w", err)
	}
	return out, nil
}

// deactivate is Deactivate of a member found in tx.
func (s *Service) deactivate(ctx context.Context, tx Store, actor Actor, m Member) (Member, error) {
	switch m.Membership.Status {
	case StatusDeactivated:
		return m, nil
	case StatusInvited:
		// Deactivated, an invited person's membership left their
		// invitation open: it stayed in the lists of pending invitations,
		// and its link led to a refusal. Withdrawing it is what the admin
		// means, and it has its own action.
		return Member{}, ConflictError(fmt.Sprintf("%s has not accepted their invitation: there is nothing to deactivate. Revoke the invitation instead.", m.User.Email))
	}
	var err error
	accountID, u := m.Membership.AccountID, m.User
	if m.Membership, err = tx.SetMembershipStatus(ctx, accountID, u.ID, StatusDeactivated, s.clock()); err != nil {
		return Member{}, err
	}
	if err := tx.DeleteSessionsOfMembership(ctx, accountID, u.ID); err != nil {
		return Member{}, err
	}
	if err := s.endAppAccess(ctx, tx, accountID, u.ID); err != nil {
		return Member{}, err
	}
	return m, s.record(ctx, tx, change{
		accountID: accountID, actor: actor, action: "membership.deactivated", targetType: "membership", targetID: u.ID,
		data:   map[string]any{"email": u.Email},
		events: []publication{membershipEvent(EventMembershipDeactivated, u.Email, m.Membership)},
	})
}

// Sweep deletes what has expired: sessions past their idle or absolute
// end, sign-in failures outside the throttling window, and reset links
// a day past their expiry, files uploaded for an import past
// ImportUploadLifetime (SweepImportUploads). Lookups already ignore
// expired rows; sweeping keeps the tables from growing with rows no lookup
// will ever ask for again, and an expired upload's file (people's
// addresses and names) from staying at rest. Every replica may sweep; the
// deletes do not conflict.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	now := s.clock()
	// Failures are kept as long as the longest window counting them: the
	// SSO sign-in emails of RequestPasswordReset count an hour.
	n, err := s.store.DeleteExpired(ctx, now, now.Add(-SessionIdleTimeout), now.Add(-max(signInWindow, resetWindow)), now.Add(-24*time.Hour))
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	m, err := s.store.DeleteExpiredSSO(ctx, now, LoginLogSize)
	if err != nil {
		return n, fmt.Errorf("sweep SSO state: %w", err)
	}
	o, err := s.store.DeleteExpiredAppState(ctx, now)
	if err != nil {
		return n + m, fmt.Errorf("sweep app authorizations and tokens: %w", err)
	}
	i, err := s.SweepIdempotencyKeys(ctx)
	if err != nil {
		return n + m + o, fmt.Errorf("sweep idempotency keys: %w", err)
	}
	h, err := s.store.DeleteExpiredHandoffs(ctx, now)
	if err != nil {
		return n + m + o + i, fmt.Errorf("sweep hand-offs: %w", err)
	}
	u, err := s.SweepImportUploads(ctx)
	if err != nil {
		return n + m + o + i + h, fmt.Errorf("sweep import uploads: %w", err)
	}
	return n + m + o + i + h + u, nil
}

// Reactivate lets a deactivated member sign in to the account again.
func (s *Service) Reactivate(ctx context.Context, accountID string, actor Actor, email string) (Member, error) {
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		m, err := lockMemberByEmail(ctx, tx, accountID, email)
		if err != nil {
			return err
		}
		out, err = s.reactivate(ctx, tx, actor, m)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("reactivate: %w", err)
	}
	return out, nil
}

// reactivate is Reactivate of a member found in tx.
func (s *Service) reactivate(ctx context.Context, tx Store, actor Actor, m Member) (Member, error) {
	if m.Membership.Status != StatusDeactivated {
		return Member{}, ConflictError(fmt.Sprintf("%s is not deactivated (their membership is %s)", m.User.Email, m.Membership.Status))
	}
	var err error
	accountID, u := m.Membership.AccountID, m.User
	if m.Membership, err = tx.SetMembershipStatus(ctx, accountID, u.ID, StatusActive, s.clock()); err != nil {
		return Member{}, err
	}
	return m, s.record(ctx, tx, change{
		accountID: accountID, actor: actor, action: "membership.reactivated", targetType: "membership", targetID: u.ID,
		data:   map[string]any{"email": u.Email},
		events: []publication{membershipEvent(EventMembershipActivated, u.Email, m.Membership)},
	})
}
