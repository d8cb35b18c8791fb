package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// InvitationStatus is where an invitation stands.
type InvitationStatus string

const (
	InvitationPending       InvitationStatus = "pending"
	InvitationAccepted      InvitationStatus = "accepted"
	InvitationRevoked       InvitationStatus = "revoked"
	InvitationUndeliverable InvitationStatus = "undeliverable" // the mail server refused the address
)

// Invitation asks a person by email to join an account with a role. Its
// link carries a single-use token that expires.
type Invitation struct {
	ID           string
	AccountID    string
	UserID       string
	Email        string
	Role         Role
	InviterID    string // the member who invited (told when the email bounces); empty for operators
	Status       InvitationStatus
	TokenHash    string // SHA-256 of the link token, hex
	TokenNonce   string // with the server key, rebuilds the link token (see invitationToken)
	Sends        int    // 1 + the number of resends
	BounceReason string
	ExpiresAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Bounced reports whether the invitation's email bounced (and it was not
// sent again since); UpdatedAt is then when.
func (i Invitation) Bounced() bool { return i.Status == InvitationUndeliverable }

// Open reports whether the invitation can still be accepted or resent.
func (i Invitation) Open() bool {
	return i.Status == InvitationPending || i.Status == InvitationUndeliverable
}

// Invitation lifetimes: the default, and the bounds an admin may choose.
const (
	DefaultInvitationTTL = 7 * 24 * time.Hour
	MinInvitationTTL     = time.Hour
	MaxInvitationTTL     = 30 * 24 * time.Hour
)

// NewInvitation is what an admin gives to invite someone.
type NewInvitation struct {
	Email string
	Role  Role // empty means member
	// FirstName and LastName, when the admin knows them, are kept for a
	// person new to admit and offered on the invitation page for them to
	// confirm; a person who already has a user keeps their own.
	FirstName string
	LastName  string
	// InviterEmail names the member on whose behalf the invitation goes
	// out: they are told if the address bounces. Optional for operators.
	InviterEmail string
	TTL          time.Duration // zero means DefaultInvitationTTL
}

// invitationToken derives the link token of an invitation from the server
// key and the invitation's current nonce: 256 bits no one can compute
// without the key. Rotating the nonce (resend) kills the old link. ok is
// false when neither key makes the token the invitation holds the hash of
// (see linkToken).
func (s *Service) invitationToken(inv Invitation) (token string, ok bool) {
	return s.linkToken("admit invitation\x00"+inv.ID+"\x00"+inv.TokenNonce, inv.TokenHash)
}

// linkToken derives the token of a link from what identifies it, with
// the token key, or with an accepted one while the server key is rotated
// when that is the key whose token the row holds the hash of: a link made
// before the rotation and emailed after it still opens, as does one a
// replica already on the new key made. ok is
// false when no key makes the token storedHash is the hash of: the
// link was made with a key this process no longer has, and mailing it
// would send a link that opens nothing.
func (s *Service) linkToken(what, storedHash string) (string, bool) {
	token := func(key []byte) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(what))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	current := token(s.tokenKey)
	if storedHash == "" || hashToken(current) == storedHash {
		return current, true
	}
	for _, k := range s.acceptedTokenKeys {
		if other := token(k); hashToken(other) == storedHash {
			return other, true
		}
	}
	return current, false
}

// errLinkKey is why mail whose link was made with a key this process
// does not have is not sent: a dead link would be. It is retried, not
// dropped: during a rolling restart of a key rotation another replica may
// have the key (see docs/operations.md); otherwise it fails when mail
// gives up, with this reason.
var errLinkKey = errors.New("its link was made with a secret key this process does not have: a replica with that key sends it; once none has it, send it again")

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newTokenNonce gives an invitation a fresh nonce and the hash of the token
// it yields.
func (s *Service) newTokenNonce(inv *Invitation) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	inv.TokenNonce, inv.TokenHash = base64.RawURLEncoding.EncodeToString(b), "" // a new link: made with the current key
	token, _ := s.invitationToken(*inv)
	inv.TokenHash = hashToken(token)
}

func checkTTL(ttl time.Duration) (time.Duration, error) {
	if ttl == 0 {
		return DefaultInvitationTTL, nil
	}
	if ttl < MinInvitationTTL || ttl > MaxInvitationTTL {
		return 0, InvalidError(fmt.Sprintf("an invitation must last between %v and %d days", MinInvitationTTL, MaxInvitationTTL/(24*time.Hour)))
	}
	return ttl, nil
}

// Invite invites a person to the account: the user is created if the email
// is new, with a membership in the invited state, and the invitation email
// is queued in the same transaction.
func (s *Service) Invite(ctx context.Context, accountID string, actor Actor, in NewInvitation) (Invitation, error) {
	var problems []string
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		problems = append(problems, Message(err))
	}
	ttl, err := checkTTL(in.TTL)
	if err != nil {
		problems = append(problems, Message(err))
	}
	if in.Role == "" {
		in.Role = RoleMember
	}
	in.FirstName, in.LastName = strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName)
	for _, n := range []struct{ field, v string }{{"first name", in.FirstName}, {"last name", in.LastName}} {
		if n.v != "" {
			problems = appendProblem(problems, validateName(n.field, n.v))
		}
	}
	roles, err := s.Roles(ctx, accountID)
	if err != nil {
		return Invitation{}, err
	}
	if !containsRole(roles, in.Role) {
		problems = append(problems, fmt.Sprintf("role %q does not exist in this account (roles: %s)", in.Role, joinRoles(roles)))
	}
	if len(problems) > 0 {
		return Invitation{}, InvalidError(problems...)
	}
	inviterID, err := s.inviter(ctx, accountID, in.InviterEmail)
	if err != nil {
		return Invitation{}, err
	}
	now := s.clock()
	var inv Invitation
	err = s.store.Tx(ctx, func(tx Store) error {
		var err error
		inv, err = s.inviteIn(ctx, tx, accountID, actor, email, in, inviterID, ttl, now)
		return err
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("invite: %w", err)
	}
	return inv, nil
}

// inviteIn invites the person inside tx: Invite's work, also done for each
// row of an import in invitation mode. in's name is already checked.
func (s *Service) inviteIn(ctx context.Context, tx Store, accountID string, actor Actor, email string, in NewInvitation, inviterID string, ttl time.Duration, now time.Time) (Invitation, error) {
	// The name given here is only a suggestion for the acceptance
	// form, and another company's person gets none from us (rule 10).
	_, candidate, _, err := newUserFor(ctx, tx, accountID, email, in.FirstName, in.LastName, now)
	if err != nil {
		return Invitation{}, err
	}
	u, created, err := tx.FindOrCreateUser(ctx, candidate)
	if err != nil {
		return Invitation{}, err
	}
	var invited []publication
	if created {
		invited = append(invited, userEvent(EventUserCreated, u))
	}
	switch m, err := tx.FindMembership(ctx, accountID, u.ID); {
	case KindOf(err) == NotFound:
		m = Membership{ID: newID(), AccountID: accountID, UserID: u.ID, Role: in.Role, Status: StatusInvited, Source: SourceOfInvitation, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateMembership(ctx, u, m); err != nil {
			return Invitation{}, err
		}
		invited = append(invited, membershipEvent(EventMembershipCreated, u.Email, m))
	case err != nil:
		return Invitation{}, err
	case m.Status == StatusInvited:
		return Invitation{}, ConflictError(fmt.Sprintf("%s is already invited; resend the invitation instead", email))
	case m.Status == StatusDeactivated:
		return Invitation{}, ConflictError(fmt.Sprintf("%s is a deactivated member of this account; reactivate them instead", email))
	default:
		return Invitation{}, ConflictError(fmt.Sprintf("%s is already a member of this account", email))
	}
	inv := Invitation{
		ID: newID(), AccountID: accountID, UserID: u.ID, Email: u.Email, Role: in.Role, InviterID: inviterID,
		Status: InvitationPending, Sends: 1, ExpiresAt: now.Add(ttl), CreatedAt: now, UpdatedAt: now,
	}
	s.newTokenNonce(&inv)
	if err := tx.CreateInvitation(ctx, inv); err != nil {
		return Invitation{}, err
	}
	invited = append(invited, invitationEvent(EventInvitationSent, inv))
	if err := s.queueMail(ctx, tx, accountID, MailInvitation, u.Email, inv.ID); err != nil {
		return Invitation{}, err
	}
	return inv, s.record(ctx, tx, change{
		accountID: accountID, actor: actor, action: "invitation.created", targetType: "invitation", targetID: inv.ID,
		data:   map[string]any{"email": inv.Email, "role": inv.Role, "expires_at": inv.ExpiresAt},
		events: invited,
	})
}

// inviter finds the member who is inviting, by email; "" when none is named.
func (s *Service) inviter(ctx context.Context, accountID, email string) (string, error) {
	if strings.TrimSpace(email) == "" {
		return "", nil
	}
	m, err := s.Member(ctx, accountID, email)
	if KindOf(err) == NotFound || (err == nil && m.Membership.Status != StatusActive) {
		return "", InvalidError(fmt.Sprintf("inviter %s is not an active member of this account", email))
	}
	if err != nil {
		return "", err
	}
	return m.User.ID, nil
}

// openInvitation finds the person's open invitation to the account.
func (s *Service) openInvitation(ctx context.Context, tx Store, accountID, email string) (Invitation, error) {
	notFound := NotFoundError(fmt.Sprintf("%s has no open invitation to this account", strings.TrimSpace(email)))
	u, err := tx.FindUserByEmail(ctx, email)
	if KindOf(err) == NotFound {
		return Invitation{}, notFound
	}
	if err != nil {
		return Invitation{}, err
	}
	inv, err := tx.FindOpenInvitation(ctx, accountID, u.ID)
	if KindOf(err) != NotFound {
		return inv, err
	}
	if m, err := tx.FindMembership(ctx, accountID, u.ID); err == nil && m.Status != StatusInvited {
		return Invitation{}, ConflictError(fmt.Sprintf("%s is already a member and has signed in; there is nothing to resend", u.Email))
	}
	return Invitation{}, notFound
}

// Resend sends the invitation again with a new link (the old one stops
// working) and a new expiry. Only people who have not accepted can be sent
// one.
func (s *Service) Resend(ctx context.Context, accountID string, actor Actor, email string, ttl time.Duration) (Invitation, error) {
	ttl, err := checkTTL(ttl)
	if err != nil {
		return Invitation{}, err
	}
	var inv Invitation
	err = s.store.Tx(ctx, func(tx Store) error {
		var err error
		if inv, err = s.openInvitation(ctx, tx, accountID, email); err != nil {
			return err
		}
		now := s.clock()
		inv.ExpiresAt = now.Add(ttl)
		inv, err = s.sendAgain(ctx, tx, actor, inv, now)
		return err
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("resend invitation: %w", err)
	}
	return inv, nil
}

// sendAgain mails an open invitation again, to its address, with a new
// link: the one mailed before stops working.
func (s *Service) sendAgain(ctx context.Context, tx Store, actor Actor, inv Invitation, now time.Time) (Invitation, error) {
	inv.Status, inv.Sends, inv.BounceReason, inv.UpdatedAt = InvitationPending, inv.Sends+1, "", now
	s.newTokenNonce(&inv)
	if err := tx.UpdateInvitation(ctx, inv); err != nil {
		return inv, err
	}
	if err := s.queueMail(ctx, tx, inv.AccountID, MailInvitation, inv.Email, inv.ID); err != nil {
		return inv, err
	}
	return inv, s.record(ctx, tx, change{
		accountID: inv.AccountID, actor: actor, action: "invitation.resent", targetType: "invitation", targetID: inv.ID,
		data:   map[string]any{"email": inv.Email, "sends": inv.Sends, "expires_at": inv.ExpiresAt},
		events: []publication{invitationEvent(EventInvitationSent, inv)},
	})
}

// resendReaddressed sends the person's open invitations again to their
// new address (the store moved them there), each with a new link: the
// link mailed to the old address, which may be a stranger's (a typo an
// admin corrected), must not still accept as this person.
func (s *Service) resendReaddressed(ctx context.Context, tx Store, actor Actor, userID string, now time.Time) error {
	open, err := tx.FindOpenInvitationsOfUser(ctx, userID)
	if err != nil {
		return err
	}
	for _, inv := range open {
		if !inv.ExpiresAt.After(now) {
			continue // a resend gives it a new expiry; nothing to kill
		}
		if _, err := s.sendAgain(ctx, tx, actor, inv, now); err != nil {
			return err
		}
	}
	return nil
}

// Revoke withdraws an open invitation: its link stops working and the
// invited membership is removed.
func (s *Service) Revoke(ctx context.Context, accountID string, actor Actor, email string) (Invitation, error) {
	var inv Invitation
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if inv, err = s.openInvitation(ctx, tx, accountID, email); err != nil {
			return err
		}
		inv.Status, inv.UpdatedAt = InvitationRevoked, s.clock()
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return err
		}
		if err := tx.DeleteInvitedMembership(ctx, accountID, inv.UserID); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "invitation.revoked", targetType: "invitation", targetID: inv.ID,
			data: map[string]any{"email": inv.Email},
			events: []publication{
				invitationEvent(EventInvitationRevoked, inv),
				membershipEvent(EventMembershipDeleted, inv.Email, Membership{AccountID: accountID, UserID: inv.UserID, Role: inv.Role, Status: StatusInvited}),
			},
		})
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("revoke invitation: %w", err)
	}
	return inv, nil
}

// Invitations returns the account's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, accountID string) ([]Invitation, error) {
	return s.store.FindInvitations(ctx, accountID)
}

// InvitationLink is what the invitation page needs to show: whose
// invitation it is, and what the person must do to accept.
type InvitationLink struct {
	Invitation Invitation
	Account    Account
	// HasPassword says the person already has an admit password (from
	// another account): they accept by signing in with it, and their name
	// and password are left as they are.
	HasPassword bool
	// Policy is the password policy a new password must meet: the
	// strictest of every account the person belongs to or is invited to.
	Policy PasswordPolicy
	// FirstName and LastName are what admit knows of the person's name,
	// to fill in the form.
	FirstName, LastName string
}

// OpenInvitationLink finds the invitation of a link token, or says why the
// link no longer works.
func (s *Service) OpenInvitationLink(ctx context.Context, token string) (InvitationLink, error) {
	inv, err := s.store.FindInvitationByTokenHash(ctx, hashToken(token))
	if KindOf(err) == NotFound || (err == nil && subtle.ConstantTimeCompare([]byte(inv.TokenHash), []byte(hashToken(token))) != 1) {
		return InvitationLink{}, NotFoundError("This invitation link is not valid. It may have been replaced by a newer invitation: use the link in the most recent email, or ask for a new one.")
	}
	if err != nil {
		return InvitationLink{}, err
	}
	a, err := s.store.FindAccount(ctx, inv.AccountID)
	if err != nil {
		return InvitationLink{}, err
	}
	switch {
	case inv.Status == InvitationAccepted:
		return InvitationLink{}, GoneError(fmt.Sprintf("This invitation to %s has already been used. Sign in with your email and password.", a.Title()))
	case inv.Status == InvitationRevoked:
		return InvitationLink{}, GoneError(fmt.Sprintf("This invitation to %s was withdrawn. If you think that is a mistake, ask the person who invited you.", a.Title()))
	case !s.now().Before(inv.ExpiresAt):
		return InvitationLink{}, GoneError(fmt.Sprintf("This invitation to %s has expired. Ask the person who invited you to send it again.", a.Title()))
	}
	u, err := s.store.FindUser(ctx, inv.UserID)
	if err != nil {
		return InvitationLink{}, err
	}
	policy, _, err := s.PolicyForUser(ctx, u.ID)
	if err != nil {
		return InvitationLink{}, err
	}
	return InvitationLink{Invitation: inv, Account: a, HasPassword: keepsPassword(u, inv.AccountID), Policy: policy, FirstName: u.FirstName, LastName: u.LastName}, nil
}

// keepsPassword reports whether accepting an invitation to the account
// asks for the person's existing password. A password another account's
// admin set and the person never proved does not count: the emailed link
// proves the address, which beats a password someone else may know, so the
// person chooses a new one and the old one ends (rule 10).
func keepsPassword(u User, accountID string) bool {
	return u.HasPassword() && (u.PasswordProven || u.PasswordSetBy == accountID)
}

// Acceptance is what the invited person gives: a name and a new password,
// or, when they already have a password, just that password.
type Acceptance struct {
	FirstName string
	LastName  string
	Password  string
}

// AcceptInvitation makes the invited membership active. A person new to
// admit sets their name and password (a name that differs from the one
// admit had is told to every account of theirs, user.updated); a person
// who already has a password proves it, and nothing about them changes.
// The link then stops working.
func (s *Service) AcceptInvitation(ctx context.Context, token string, in Acceptance) (Member, error) {
	link, err := s.OpenInvitationLink(ctx, token)
	if err != nil {
		return Member{}, err
	}
	inv := link.Invitation
	u, err := s.store.FindUser(ctx, inv.UserID)
	if err != nil {
		return Member{}, err
	}
	replaceUnproven := u.HasPassword() && !link.HasPassword
	var hash string
	if link.HasPassword {
		// The same guessing limit as the sign-in page: the invitation
		// page must not be a way around it.
		lockout := []throttle{lockoutOf(u, EmailKey(u.Email))}
		attempt, _, err := s.chargeAttempt(ctx, s.clock(), lockout)
		if err != nil {
			return Member{}, err
		}
		ok, _, err := s.hasher.Verify(ctx, u.PasswordHash, in.Password)
		if err != nil {
			return Member{}, errors.Join(fmt.Errorf("verify password: %w", err), s.refund(ctx, attempt, lockout))
		}
		if !ok { // the failure stays counted
			return Member{}, UnauthenticatedError("That is not the password of " + u.Email + ". Use the password you sign in with elsewhere, or reset it.")
		}
		if err := s.refund(ctx, attempt, lockout); err != nil {
			return Member{}, err
		}
	} else {
		in.FirstName, in.LastName = strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName)
		var problems []string
		problems = appendProblem(problems, validateName("first name", in.FirstName))
		problems = appendProblem(problems, validateName("last name", in.LastName))
		for _, p := range link.Policy.Check(in.Password, u.Email) {
			problems = append(problems, "password: "+p)
		}
		if len(problems) > 0 {
			return Member{}, InvalidError(problems...)
		}
		if hash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			return Member{}, fmt.Errorf("hash password: %w", err)
		}
	}
	now := s.clock()
	var m Membership
	err = s.store.Tx(ctx, func(tx Store) error {
		// Only one acceptance wins: the update matches the token the
		// person holds and an open status.
		if err := tx.AcceptInvitation(ctx, inv.ID, inv.TokenHash, now); err != nil {
			if KindOf(err) == NotFound {
				return GoneError("This invitation has just been used or replaced. Sign in, or use the link in the most recent email.")
			}
			return err
		}
		actor := Actor{Source: SourceUser, ID: u.ID, Name: u.Email}
		if replaceUnproven {
			var err error
			if u, err = s.revokeUnproven(ctx, tx, inv.AccountID, u, actor, "the address's owner accepted an invitation and chose their own password"); err != nil {
				return err
			}
		}
		if hash != "" {
			// The name as it is now, not as the page read it, held until
			// the commit: a change waiting to commit (an identity
			// provider's rename) would otherwise be overwritten by a name
			// compared with the one before it, and not announced.
			cur, err := tx.LockUser(ctx, u.ID)
			if err != nil {
				return err
			}
			if err := tx.SetProfileAndPassword(ctx, u.ID, in.FirstName, in.LastName, hash, now); err != nil {
				return err
			}
			u.FirstName, u.LastName, u.PasswordHash, u.PasswordProven = in.FirstName, in.LastName, hash, true
			// A name the person gives (or confirms, when the admin's
			// differs) is told to every account of theirs, as a change on
			// /me is: the user.created the invitation announced had the
			// admin's name, or none.
			if cur.FirstName != u.FirstName || cur.LastName != u.LastName {
				if err := s.recordPersonChange(ctx, tx, inv.AccountID, actor, "user.name_changed", u, ""); err != nil {
					return err
				}
			}
		} else if !u.PasswordProven {
			// Knowing the password and holding the emailed link: the
			// password is the address owner's.
			if err := tx.SetPasswordOrigin(ctx, u.ID, true, ""); err != nil {
				return err
			}
			u.PasswordProven, u.PasswordSetBy = true, ""
		}
		var err error
		if m, err = tx.ActivateMembership(ctx, inv.AccountID, u.ID, now); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: inv.AccountID, actor: Actor{Source: SourceUser, ID: u.ID, Name: u.Email},
			action: "invitation.accepted", targetType: "invitation", targetID: inv.ID,
			data: map[string]any{"email": u.Email, "role": m.Role, "new_password": hash != ""},
			events: []publication{
				invitationEvent(EventInvitationAccepted, inv),
				membershipEvent(EventMembershipActivated, u.Email, m),
			},
		})
	})
	if err != nil {
		return Member{}, fmt.Errorf("accept invitation: %w", err)
	}
	return Member{User: u, Membership: m}, nil
}

func containsRole(roles []Role, r Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}
