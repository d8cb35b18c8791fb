package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file is the one home of the trust rules between accounts (DESIGN
// rule 10): which account a person answers to, which credential opens which
// account, and what an account that requires single sign-on refuses.
//
// The attack they stop is the pre-hijack: the admin of one account adds
// victim@b.example with a password they know, and waits until the victim's
// company provisions them. A password the person never proved (through an
// emailed link) opens only the account whose admin set it, and it ends when
// the account that verified the address's domain takes the person in.

// SignInPolicy is how an account's people may sign in to it.
type SignInPolicy struct {
	// SSORequired refuses password sign-in, password resets and switching
	// in from another sign-in to members whose address is in one of the
	// account's verified domains that a connection serves: they come
	// through the company's identity provider (its MFA, its leaver process).
	SSORequired bool `json:"sso_required,omitempty"`
	// BreakGlassOwners lets owners still sign in with a password when the
	// identity provider is down; each such sign-in is audited.
	BreakGlassOwners bool `json:"break_glass_owners,omitempty"`
}

// SignInMethod is how a browser proved who it is.
type SignInMethod string

const (
	MethodPassword SignInMethod = "password"
	MethodSSO      SignInMethod = "sso"
)

// Credential is how a session was opened: with the person's password, or
// through one connection.
type Credential struct {
	Method       SignInMethod
	ConnectionID string // with MethodSSO
	// SAML is, for a SAML sign-in, the identity provider's session the
	// assertion spoke of: single logout finds and ends the session by it.
	// Left out of JSON when zero: a Credential travels sealed in the
	// authorization request an app's sign-in carries through admit's
	// sign-in pages (its return_to, at most 1,024 bytes), which must not
	// grow by an empty subject.
	SAML SAMLSubject `json:",omitzero"`
}

// SAMLSubject is what a SAML assertion said of the person's session at
// the identity provider: its NameID as sent (value, Format, NameQualifier,
// SPNameQualifier) and the SessionIndex of its AuthnStatement. The
// provider's LogoutRequest names the sessions to end by them (saml-core
// 3.7.3.2), and admit's own LogoutRequest repeats them as the assertion
// had them: ADFS refuses one whose NameID differs in Format or qualifiers.
type SAMLSubject struct {
	NameID          string
	Format          string
	NameQualifier   string
	SPNameQualifier string
	SessionIndex    string
}

// ByPassword is the credential of a password sign-in.
var ByPassword = Credential{Method: MethodPassword}

// BySSO is the credential of a login through the connection c.
func BySSO(c Connection) Credential { return Credential{Method: MethodSSO, ConnectionID: c.ID} }

// BySAML is the credential of a SAML login through the connection c, with
// what its assertion said of the session at the identity provider.
func BySAML(c Connection, subject SAMLSubject) Credential {
	return Credential{Method: MethodSSO, ConnectionID: c.ID, SAML: subject}
}

// entry is what deciding whether a credential opens an account needs.
type entry struct {
	account    Account
	user       User
	membership Membership
	credential Credential
	// ssoDomains are the account's verified domains that one of its
	// connections serves; filled only when the account requires SSO.
	ssoDomains []string
	// viaAccount is the account of the connection that signed the
	// browser in, for SSO credentials.
	viaAccount string
}

// enterVerdict is the outcome of mayEnter: allowed, allowed as an owner's
// break-glass password sign-in, or refused with a message for the person.
type enterVerdict struct {
	breakGlass bool
	refusal    error
}

// mayEnter decides whether the credential opens the account for the person.
// The membership must already be active; that is checked where it is read.
func mayEnter(e entry) enterVerdict {
	a, u, m := e.account, e.user, e.membership
	// The account's identity provider answers for how the person signs in
	// when the account requires it, or when that provider brought the
	// person in (SCIM, an SSO login) to their own home account: a password
	// there would let a leaver disabled only at the provider keep access.
	ssoOnly := slices.Contains(e.ssoDomains, emailDomain(u.Email)) &&
		(a.SignIn.SSORequired || m.Source.Federated() && isHome(a, u.Email))
	switch e.credential.Method {
	case MethodSSO:
		if ssoOnly && e.viaAccount != a.ID {
			return enterVerdict{refusal: ForbiddenError(fmt.Sprintf("%s requires signing in through its own single sign-on.", a.Title()))}
		}
		return enterVerdict{}
	case MethodPassword:
		// Checked first: no policy, break-glass included, lets a password
		// the person never proved into an account that did not set it.
		if u.HasPassword() && !u.PasswordProven && u.PasswordSetBy != a.ID {
			return enterVerdict{refusal: ForbiddenError(fmt.Sprintf("Your password was set by another organisation's administrator, so it does not open %s. Confirm that the address is yours: reset your password from the sign-in page.", a.Title()))}
		}
		if ssoOnly {
			if m.Role == RoleOwner && a.SignIn.BreakGlassOwners {
				return enterVerdict{breakGlass: true}
			}
			return enterVerdict{refusal: ForbiddenError(fmt.Sprintf("%s signs you in through its single sign-on, not with a password. Use “Continue with %s”.", a.Title(), a.Title()))}
		}
		return enterVerdict{}
	}
	return enterVerdict{refusal: UnauthenticatedError("Please sign in.")}
}

func emailDomain(email string) string {
	_, d, _ := strings.Cut(EmailKey(email), "@")
	return d
}

// ssoDomains returns the account's verified domains that one of its ready
// connections serves. A connection still waiting for its identity provider
// serves none: counting it would lock everyone in its domains out of a
// password they can use for a login that cannot finish yet.
func ssoDomains(ctx context.Context, st Store, a Account) ([]string, error) {
	conns, err := readyConnections(ctx, st, a.ID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range conns {
		for _, d := range allowedDomains(a, c) {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// checkEntry reads what mayEnter needs beyond the account, user, membership
// and credential, and decides. The account's connections are read only when
// its identity provider may be the one to answer (most requests need no
// query beyond what the caller has).
func checkEntry(ctx context.Context, st Store, a Account, u User, m Membership, cred Credential) (enterVerdict, error) {
	e := entry{account: a, user: u, membership: m, credential: cred}
	if a.SignIn.SSORequired || m.Source.Federated() && isHome(a, u.Email) {
		var err error
		if e.ssoDomains, err = ssoDomains(ctx, st, a); err != nil {
			return enterVerdict{}, err
		}
	}
	if cred.Method == MethodSSO && len(e.ssoDomains) > 0 {
		// The connection may have been removed since: then it proves
		// nothing about this account.
		if c, err := st.FindConnection(ctx, a.ID, cred.ConnectionID); err == nil {
			e.viaAccount = c.AccountID
		} else if KindOf(err) != NotFound {
			return enterVerdict{}, err
		}
	}
	return mayEnter(e), nil
}

// isHome reports whether a is the account that verified the email's domain.
func isHome(a Account, email string) bool { return a.OwnsEmailDomain(email) }

// takeIn is called whenever account a provisions or links the person u
// (SCIM, SSO just-in-time, an accepted invitation). When a is the person's
// home account, a password that another account's admin set and the person
// never proved ends, and so does every session of theirs: whoever set it
// may know it. It returns the user as it is afterwards.
func (s *Service) takeIn(ctx context.Context, tx Store, a Account, u User, actor Actor) (User, error) {
	if !isHome(a, u.Email) || !u.HasPassword() || u.PasswordProven || u.PasswordSetBy == a.ID {
		return u, nil
	}
	return s.revokeUnproven(ctx, tx, a.ID, u, actor, "the account that verified the address's domain took the person in")
}

// revokeUnproven ends an unproven password and every session of the person,
// audited in the account acting and in the account that set the password.
func (s *Service) revokeUnproven(ctx context.Context, tx Store, accountID string, u User, actor Actor, why string) (User, error) {
	now := s.clock()
	setBy := u.PasswordSetBy
	// Only the password that was judged unproven goes: if the person set
	// their own through a reset link meanwhile, it stays.
	if err := tx.ReplacePassword(ctx, u.ID, u.PasswordHash, "", false, now); KindOf(err) == NotFound {
		return tx.FindUser(ctx, u.ID)
	} else if err != nil {
		return u, err
	}
	if err := tx.SetPasswordOrigin(ctx, u.ID, false, ""); err != nil {
		return u, err
	}
	if err := tx.DeleteSessionsOfUser(ctx, u.ID, ""); err != nil {
		return u, err
	}
	for _, id := range slices.Compact([]string{accountID, setBy}) {
		if id == "" {
			continue
		}
		if err := s.record(ctx, tx, change{
			accountID: id, actor: actor, action: "user.credentials_revoked", targetType: "user", targetID: u.ID, aside: id != accountID,
			data: map[string]any{"email": u.Email, "password_set_by": setBy, "reason": why},
		}); err != nil {
			return u, err
		}
	}
	u.PasswordHash, u.PasswordMustChange, u.PasswordProven, u.PasswordSetBy = "", false, false, ""
	return u, nil
}

// mayShapeIdentity reports whether account a may set the identity fields
// (name, credentials) of a person with this email: when a verified the
// address's domain, or when no account did (there is then no one with a
// better claim). Any other account holds a membership only.
func mayShapeIdentity(ctx context.Context, st Store, a Account, email string) (bool, error) {
	if isHome(a, email) {
		return true, nil
	}
	_, err := homeAccount(ctx, st, email)
	if KindOf(err) == NotFound {
		return true, nil
	}
	return false, err
}

// newUserFor returns the account and the user to create for an email that
// nobody has yet, named only when the account may shape the person's
// identity; shape says whether it may.
func newUserFor(ctx context.Context, tx Store, accountID, email, first, last string, now time.Time) (a Account, u User, shape bool, err error) {
	if a, err = tx.FindAccount(ctx, accountID); err != nil {
		return a, u, false, err
	}
	if shape, err = mayShapeIdentity(ctx, tx, a, email); err != nil {
		return a, u, false, err
	}
	u = User{ID: newID(), Email: email, CreatedAt: now, UpdatedAt: now}
	if shape {
		u.FirstName, u.LastName = first, last
	}
	return a, u, shape, nil
}

// SetSignInPolicy changes whether the account requires single sign-on,
// and whether owners keep a break-glass password.
func (s *Service) SetSignInPolicy(ctx context.Context, accountID string, actor Actor, p SignInPolicy) (Account, error) {
	var a Account
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = tx.FindAccount(ctx, accountID); err != nil {
			return err
		}
		if p.SSORequired {
			domains, err := ssoDomains(ctx, tx, a)
			if err != nil {
				return err
			}
			if len(domains) == 0 {
				return InvalidError("the account has no single sign-on connection serving a verified domain (one waiting for its identity provider's metadata does not count): add one (admit sso add-saml|add-oidc) or finish one (admit sso set-metadata) before requiring it")
			}
		}
		old := a.SignIn
		a.SignIn, a.UpdatedAt = p, s.clock()
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.ID, actor: actor, action: "account.sign_in_policy_changed", targetType: "account", targetID: a.ID,
			data: map[string]any{"old": old, "new": p},
		})
	})
	if err != nil {
		return Account{}, fmt.Errorf("set sign-in policy: %w", err)
	}
	return a, nil
}
