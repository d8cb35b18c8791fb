package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PasswordReset is a request to reset a forgotten password. Its emailed
// link is single-use and works for PasswordResetTTL.
type PasswordReset struct {
	ID         string
	UserID     string
	AccountID  string // whose branding the email and page carry
	TokenHash  string
	TokenNonce string
	ExpiresAt  time.Time
	UsedAt     *time.Time
	CreatedAt  time.Time
	// PasswordStamp is linkStamp of the user when the link was made: the
	// link works only while their password and address are still the ones
	// it was sent for (see OpenResetLink).
	PasswordStamp string
}

const (
	// PasswordResetTTL is how long a reset link works.
	PasswordResetTTL = time.Hour
	// At most maxResetRequests reset emails per person per resetWindow, so
	// the form cannot be used to flood someone's mailbox.
	maxResetRequests = 3
	resetWindow      = time.Hour
)

func (s *Service) resetToken(r PasswordReset) (token string, ok bool) {
	return s.linkToken("admit password reset\x00"+r.ID+"\x00"+r.TokenNonce, r.TokenHash)
}

// RequestPasswordReset emails a reset link to the person with that email,
// if there is one with an active membership whose account a password may
// open. A person who signs in through their organisation's SSO gets an
// email saying so instead (resetBlocked). The caller tells the person the
// same thing either way, so the form reveals nothing about who has an
// account. The email carries the branding of the person's home account, or
// the one they chose last: never one a request names, so no account can
// send its look to another's people.
//
// The mail throttle counts the person's own reset links, so a request for
// an email nobody has writes nothing at all (DESIGN rule 12). Such a
// request makes the same reads as one for a person, finding nothing, so
// only the writes for a real link (or their absence when the person is
// throttled) differ.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	now := s.clock()
	if !lookupable(email) {
		return nil
	}
	u, err := s.store.FindUserByEmail(ctx, email)
	if err != nil && KindOf(err) != NotFound {
		return err
	}
	n, err := s.store.CountPasswordResets(ctx, u.ID, now.Add(-resetWindow))
	if err != nil {
		return err
	}
	accounts, err := s.activeAccounts(ctx, u.ID)
	if err != nil || len(accounts) == 0 {
		return err
	}
	if n >= maxResetRequests {
		s.log.InfoContext(ctx, "password reset requests throttled", "user_id", u.ID)
		return nil
	}
	account, err := s.mailAccount(ctx, u, accounts)
	if err != nil {
		return err
	}
	blocked, ssoAccount, err := s.resetBlocked(ctx, u)
	if err != nil {
		return err
	}
	if blocked {
		if ssoAccount.ID != "" {
			account = ssoAccount
		}
		// These emails are throttled like reset links: a known person's
		// own counter, so unknown addresses still write nothing.
		key := "sso-mail:" + EmailKey(u.Email)
		if sent, _, err := s.store.CountSignInFailures(ctx, key, now.Add(-resetWindow)); err != nil || sent >= maxResetRequests {
			return err
		}
		err := s.store.Tx(ctx, func(tx Store) error {
			if err := tx.AddSignInFailure(ctx, key, "", now); err != nil {
				return err
			}
			if err := tx.AddMailMessage(ctx, MailMessage{
				ID: newID(), AccountID: account.ID, Kind: MailSSOSignIn, Recipient: u.Email, Data: MailData{SSOLogin: ssoAccount.ID != ""},
				Status: MailQueued, NextAttemptAt: now, CreatedAt: now,
			}); err != nil {
				return err
			}
			return s.record(ctx, tx, change{
				accountID: account.ID, actor: Actor{Source: SourceUser, ID: u.ID, Name: u.Email},
				action: "user.password_reset_refused", targetType: "user", targetID: u.ID,
				data: map[string]any{"reason": "the person signs in through single sign-on"},
			})
		})
		if err != nil {
			return fmt.Errorf("request password reset: %w", err)
		}
		return nil
	}
	reset := PasswordReset{ID: newID(), UserID: u.ID, AccountID: account.ID, ExpiresAt: now.Add(PasswordResetTTL), CreatedAt: now,
		PasswordStamp: linkStamp(u)}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	reset.TokenNonce = base64.RawURLEncoding.EncodeToString(b)
	token, _ := s.resetToken(reset) // no hash yet: the current key's
	reset.TokenHash = hashToken(token)
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.CreatePasswordReset(ctx, reset); err != nil {
			return err
		}
		if err := tx.AddMailMessage(ctx, MailMessage{
			ID: newID(), AccountID: account.ID, Kind: MailPasswordReset, Recipient: u.Email, Data: MailData{ResetID: reset.ID},
			Status: MailQueued, NextAttemptAt: now, CreatedAt: now,
		}); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: account.ID, actor: Actor{Source: SourceUser, ID: u.ID, Name: u.Email},
			action: "user.password_reset_requested", targetType: "user", targetID: u.ID, data: map[string]any{},
		})
	})
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	return nil
}

// mailAccount picks whose branding the person's own email carries, among
// their active accounts: their home account, else the one they chose last,
// else the one they joined first. Never by title or by request: no account
// can put its look (and its reply-to address) on mail to another's people
// by naming itself first.
func (s *Service) mailAccount(ctx context.Context, u User, accounts []Account) (Account, error) {
	for _, a := range accounts {
		if isHome(a, u.Email) {
			return a, nil
		}
	}
	for _, a := range accounts {
		if a.ID == u.LastAccountID {
			return a, nil
		}
	}
	ms, err := s.store.FindMembershipsOfUser(ctx, u.ID)
	if err != nil {
		return Account{}, err
	}
	slices.SortFunc(ms, func(a, b Membership) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, m := range ms {
		for _, a := range accounts {
			if a.ID == m.AccountID {
				return a, nil
			}
		}
	}
	return accounts[0], nil
}

// resetBlocked reports whether a reset would only open a way around the
// person's single sign-on: none of their active accounts would let a
// password in (SSO required for their address), or they have no password
// and every account they could use one in took them from its identity
// provider (SCIM, an SSO login). Then it also returns the account whose SSO
// the email should point to, preferring the home account; none when no
// account of theirs has SSO for them.
func (s *Service) resetBlocked(ctx context.Context, u User) (bool, Account, error) {
	ms, err := s.store.FindMembershipsOfUser(ctx, u.ID)
	if err != nil {
		return false, Account{}, err
	}
	// A reset proves the address, so the password it sets is proven:
	// judge the accounts as for that password.
	proven := u
	proven.PasswordHash, proven.PasswordProven = "set", true
	var ssoAccount Account
	for _, m := range ms {
		if m.Status != StatusActive {
			continue
		}
		a, err := s.store.FindAccount(ctx, m.AccountID)
		if err != nil {
			return false, Account{}, err
		}
		v, err := checkEntry(ctx, s.store, a, proven, m, ByPassword)
		if err != nil {
			return false, Account{}, err
		}
		if v.refusal == nil && (u.HasPassword() || !m.Source.Federated()) {
			return false, Account{}, nil
		}
		if a.OwnsEmailDomain(u.Email) || ssoAccount.ID == "" {
			conns, err := readyConnections(ctx, s.store, a.ID)
			if err != nil {
				return false, Account{}, err
			}
			if _, ok := connectionServing(a, conns, emailDomain(u.Email)); ok {
				ssoAccount = a
			}
		}
	}
	return true, ssoAccount, nil
}

var errResetOutdated = GoneError("This password reset link no longer works: your password was changed after it was sent.")

// passwordStamp identifies the user's current password without being
// anything a password could be checked against: a digest of its hash,
// which a new salt makes new each time any password is set. A timestamp
// would do the same only as well as every replica's clock.
func passwordStamp(u User) string { return hashToken("admit password stamp\x00" + u.PasswordHash) }

// errResetReaddressed: the person's address changed since the link was
// mailed. The old address may be someone else's now (given to a new hire),
// so its link must not set this person's password.
var errResetReaddressed = GoneError("This password reset link no longer works: your email address changed after it was sent. Ask for a new one from the sign-in page.")

// linkStamp is what a reset link is sent for: the password (passwordStamp)
// and the address, as "password.address". Links made before the address
// was stamped hold the password's part only.
func linkStamp(u User) string {
	return passwordStamp(u) + "." + hashToken("admit address stamp\x00"+EmailKey(u.Email))
}

// checkStamp says why a link stamped stamp no longer works for u, if it
// does not.
func checkStamp(stamp string, u User) error {
	password, address, stamped := strings.Cut(stamp, ".")
	if password != passwordStamp(u) {
		return errResetOutdated
	}
	if _, want, _ := strings.Cut(linkStamp(u), "."); stamped && address != want {
		return errResetReaddressed
	}
	return nil
}

// ResetLink is what the reset page shows.
type ResetLink struct {
	Reset   PasswordReset
	User    User
	Account Account
	Policy  PasswordPolicy
}

// OpenResetLink finds the reset of a link token, or says why it no longer works.
func (s *Service) OpenResetLink(ctx context.Context, token string) (ResetLink, error) {
	r, err := s.store.FindPasswordResetByTokenHash(ctx, hashToken(token))
	if KindOf(err) == NotFound || (err == nil && subtle.ConstantTimeCompare([]byte(r.TokenHash), []byte(hashToken(token))) != 1) {
		return ResetLink{}, NotFoundError("This password reset link is not valid. Ask for a new one from the sign-in page.")
	}
	if err != nil {
		return ResetLink{}, err
	}
	if r.UsedAt != nil {
		return ResetLink{}, GoneError("This password reset link has already been used. Sign in with your new password, or ask for another link.")
	}
	if !s.now().Before(r.ExpiresAt) {
		return ResetLink{}, GoneError("This password reset link has expired: links work for one hour. Ask for a new one from the sign-in page.")
	}
	u, err := s.store.FindUser(ctx, r.UserID)
	if err != nil {
		return ResetLink{}, err
	}
	// Every way of setting a password (a change, an admin, another reset
	// link, a first password from an invitation) writes a new hash, so
	// this one comparison ends the link after any of them; and a new
	// address ends it too.
	if err := checkStamp(r.PasswordStamp, u); err != nil {
		return ResetLink{}, err
	}
	a, err := s.store.FindAccount(ctx, r.AccountID)
	if err != nil {
		return ResetLink{}, err
	}
	policy, _, err := s.PolicyForUser(ctx, u.ID)
	if err != nil {
		return ResetLink{}, err
	}
	return ResetLink{Reset: r, User: u, Account: a, Policy: policy}, nil
}

// ResetDone is a completed password reset.
type ResetDone struct {
	User User
	// Device is a device token for the browser that completed the reset
	// (see Client): the link proved the address as a sign-in would. A
	// stranger can keep the person's address locked out indefinitely, five
	// guesses each window; a reset is the person's way out on a browser
	// that never signed in, and must not lead straight back into the
	// stranger's lockout.
	Device string
}

// CompletePasswordReset sets the new password of a reset link, which then
// stops working; every session of the person ends.
func (s *Service) CompletePasswordReset(ctx context.Context, token, password string) (ResetDone, error) {
	link, err := s.OpenResetLink(ctx, token)
	if err != nil {
		return ResetDone{}, err
	}
	if problems := link.Policy.Check(password, link.User.Email); len(problems) > 0 {
		return ResetDone{}, InvalidError(problems...)
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return ResetDone{}, fmt.Errorf("hash password: %w", err)
	}
	_, accounts, err := s.PolicyForUser(ctx, link.User.ID)
	if err != nil {
		return ResetDone{}, err
	}
	now := s.clock()
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.UsePasswordReset(ctx, link.Reset.ID, link.Reset.TokenHash, now); err != nil {
			if KindOf(err) == NotFound {
				return GoneError("This password reset link has just been used. Sign in with your new password.")
			}
			return err
		}
		// The address checked in OpenResetLink must still be theirs, and
		// the password still the one replaced: a change of either that
		// commits in between ends this link too.
		if cur, err := tx.LockUser(ctx, link.User.ID); err != nil {
			return err
		} else if EmailKey(cur.Email) != EmailKey(link.User.Email) {
			return errResetReaddressed
		}
		if err := tx.ReplacePassword(ctx, link.User.ID, link.User.PasswordHash, hash, false, now); err != nil {
			if KindOf(err) == NotFound {
				return errResetOutdated
			}
			return err
		}
		// The link came by email: the new password is the address owner's.
		if err := tx.SetPasswordOrigin(ctx, link.User.ID, true, ""); err != nil {
			return err
		}
		if err := tx.DeleteSessionsOfUser(ctx, link.User.ID, ""); err != nil {
			return err
		}
		if err := tx.ClearSignInFailures(ctx, lockoutOf(link.User, "").key); err != nil {
			return err
		}
		for _, accountID := range accounts {
			if err := s.record(ctx, tx, change{
				accountID: accountID, actor: Actor{Source: SourceUser, ID: link.User.ID, Name: link.User.Email},
				action: "user.password_reset", targetType: "user", targetID: link.User.ID, data: map[string]any{},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ResetDone{}, fmt.Errorf("reset password: %w", err)
	}
	return ResetDone{User: link.User, Device: s.issueDeviceToken(deviceSubject(EmailKey(link.User.Email), hash), now)}, nil
}
