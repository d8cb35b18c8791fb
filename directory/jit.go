package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// SSOSignIn is the outcome of a single sign-on login that the directory let in.
type SSOSignIn struct {
	Member Member
	// What the login did: "created user", "added membership",
	// "activated invitation", "updated" or "signed in" (nothing changed).
	Outcome string
	// RoleFrom names the group that gave the role, when a mapping did.
	RoleFrom string
}

func sso(c Connection) Actor {
	return Actor{Source: SourceSSO, ID: c.ID, Name: c.Name}
}

// allowedDomains are the email domains the connection may sign people in
// with: its own list, each still one of the account's, or the account's.
func allowedDomains(a Account, c Connection) []string {
	if len(c.Domains) == 0 {
		return a.Domains
	}
	var out []string
	for _, d := range c.Domains {
		if slices.Contains(a.Domains, d) {
			out = append(out, d)
		}
	}
	return out
}

// mayAssert reports whether the connection may sign in the address: its
// domain is one of allowedDomains (rule 2).
func mayAssert(a Account, c Connection, email string) bool {
	_, domain, _ := strings.Cut(EmailKey(email), "@")
	return slices.Contains(allowedDomains(a, c), domain)
}

// SignInWithSSO is just-in-time provisioning, shared by SAML and OIDC:
// given an identity the connection's provider asserted (already verified
// by the caller), it decides whether the person may sign in to the
// connection's account, and creates, links or updates them as the
// connection's mode allows.
//
// The rules it keeps:
//   - the email's domain must be one the connection may assert (DESIGN
//     rule 2): a provider can never sign in someone of another company, and
//     an existing user, password or not, is linked only under that rule;
//   - a membership that SCIM or an admin deactivated, or that SCIM deleted,
//     is never brought back by a login (rule 3);
//   - with group-to-role mappings, the groups the provider sends decide
//     the role as they do for SCIM groups; owners are never changed.
//
// Refusals are Forbidden errors whose message can be shown to the person.
func (s *Service) SignInWithSSO(ctx context.Context, c Connection, id Identity) (SSOSignIn, error) {
	return s.signInWithSSO(ctx, c, id, false)
}

// TrySignInWithSSO answers what SignInWithSSO would do with id, and
// changes nothing: an admin's Test sign-in. It runs the very same rules in
// a transaction that is rolled back, so the answer cannot drift from what
// a real login does, and no user, membership, role, audit event or outbox
// message survives it. Its Outcome says what the login would have done.
func (s *Service) TrySignInWithSSO(ctx context.Context, c Connection, id Identity) (SSOSignIn, error) {
	return s.signInWithSSO(ctx, c, id, true)
}

// errTrial rolls back a trial sign-in's transaction.
var errTrial = errors.New("trial sign-in: rolled back")

func (s *Service) signInWithSSO(ctx context.Context, c Connection, id Identity, trial bool) (SSOSignIn, error) {
	if !c.Ready() {
		return SSOSignIn{}, ForbiddenError("Single sign-on through this identity provider is not finished yet.")
	}
	a, err := s.store.FindAccount(ctx, c.AccountID)
	if err != nil {
		return SSOSignIn{}, fmt.Errorf("find account of connection: %w", err)
	}
	if !mayAssert(a, c, id.Email) {
		return SSOSignIn{}, ForbiddenError(fmt.Sprintf("%s may not sign in to %s through this identity provider: its domain is not one of the account's (%s).",
			id.Email, a.Title(), strings.Join(allowedDomains(a, c), ", ")))
	}
	mappings, err := s.store.FindRoleMappings(ctx, a.ID)
	if err != nil {
		return SSOSignIn{}, fmt.Errorf("find role mappings: %w", err)
	}
	var out SSOSignIn
	err = s.store.Tx(ctx, func(tx Store) error {
		out = SSOSignIn{}
		now := s.clock()
		linked, byKey, err := s.followRename(ctx, tx, a, c, id)
		if err != nil {
			return err
		}
		u, err := tx.FindUserByEmail(ctx, id.Email)
		userKnown := err == nil
		if err != nil && KindOf(err) != NotFound {
			return err
		}
		var m Membership
		if userKnown {
			m, err = tx.FindMembership(ctx, a.ID, u.ID)
			if err != nil && KindOf(err) != NotFound {
				return err
			}
			if m.Status == StatusInvited {
				// This login would answer the invitation, and so may a
				// second one (a double click) or the invitation form at
				// the same moment: read it again, locked, so that only the
				// first activates it and the others find it active. Only
				// invitations pay for the lock; a login of an active
				// member reads without one.
				m, err = tx.LockMembership(ctx, a.ID, u.ID)
				if err != nil && KindOf(err) != NotFound {
					return err
				}
			}
		}
		switch {
		case m.ID != "" && m.Status == StatusDeactivated:
			return ForbiddenError(fmt.Sprintf("Your access to %s has been deactivated. Ask your administrator if you believe this is wrong.", a.Title()))
		case m.ID != "" && m.Status == StatusInvited && c.JITMode == JITOff:
			return ForbiddenError(fmt.Sprintf("Your invitation to %s has not been accepted yet: open the link in the invitation email.", a.Title()))
		case m.ID != "" && m.Status == StatusInvited:
			if m, err = tx.ActivateMembership(ctx, a.ID, u.ID, now); err != nil {
				return err
			}
			// The invitation is answered: its link must not work afterwards.
			inv, err := tx.FindOpenInvitation(ctx, a.ID, u.ID)
			if err == nil {
				err = tx.AcceptInvitation(ctx, inv.ID, inv.TokenHash, now)
			}
			if err != nil && KindOf(err) != NotFound {
				return err
			}
			out.Outcome = "activated invitation"
			if err := s.record(ctx, tx, change{
				accountID: a.ID, actor: sso(c), action: "membership.activated", targetType: "membership", targetID: u.ID,
				data:   map[string]any{"email": u.Email},
				events: []publication{membershipEvent(EventMembershipActivated, u.Email, m)},
			}); err != nil {
				return err
			}
		case m.ID != "":
			// An active member: the usual case.
		case userKnown && c.JITMode == JITOff, !userKnown && c.JITMode != JITCreate:
			return ForbiddenError(fmt.Sprintf("%s is not a member of %s, and this identity provider may not add people. Ask your administrator to add you.", id.Email, a.Title()))
		default:
			if userKnown {
				deleted, err := tx.SCIMDeleted(ctx, a.ID, u.ID)
				if err != nil {
					return err
				}
				if deleted {
					return ForbiddenError(fmt.Sprintf("Your access to %s was removed by your organisation's identity provider.", a.Title()))
				}
			} else {
				first, last := id.FirstName, id.LastName
				u = User{ID: newID(), Email: id.Email, FirstName: first, LastName: last, CreatedAt: now, UpdatedAt: now}
				var created bool
				if u, created, err = tx.FindOrCreateUser(ctx, u); err != nil {
					return err
				}
				if created {
					out.Outcome = "created user"
					if err := s.record(ctx, tx, change{
						accountID: a.ID, actor: sso(c), action: "user.created", targetType: "user", targetID: u.ID,
						data:   map[string]any{"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName, "password_set": false},
						events: []publication{userEvent(EventUserCreated, u)},
					}); err != nil {
						return err
					}
				}
			}
			m = Membership{ID: newID(), AccountID: a.ID, UserID: u.ID, Role: RoleMember, Status: StatusActive, Source: SourceOfSSO, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateMembership(ctx, u, m); err != nil {
				return err
			}
			if out.Outcome == "" {
				out.Outcome = "added membership"
			}
			if err := s.record(ctx, tx, change{
				accountID: a.ID, actor: sso(c), action: "membership.created", targetType: "membership", targetID: u.ID,
				data:   map[string]any{"email": u.Email, "role": m.Role, "status": m.Status},
				events: []publication{membershipEvent(EventMembershipCreated, u.Email, m)},
			}); err != nil {
				return err
			}
		}
		// The connection vouches for an address in the account's verified
		// domains (rule 2), so the account is the person's home: a
		// password someone else set for them ends now.
		if u, err = s.takeIn(ctx, tx, a, u, sso(c)); err != nil {
			return err
		}
		if c.JITMode != JITOff {
			if err := s.updateFromIdentity(ctx, tx, c, id, mappings, &u, &m, &out); err != nil {
				return err
			}
		}
		if attribute, subject, ok := linkKey(id); ok && (linked != u.ID || !byKey) {
			if err := tx.LinkSSOSubject(ctx, c.ID, attribute, subject, u.ID, now); err != nil {
				return err
			}
		}
		if out.Outcome == "" {
			out.Outcome = "signed in"
		}
		out.Member = Member{User: u, Membership: m}
		if trial {
			return errTrial
		}
		return nil
	})
	if trial && errors.Is(err, errTrial) {
		err = nil
	}
	if err != nil {
		return SSOSignIn{}, fmt.Errorf("sign in with SSO: %w", err)
	}
	return out, nil
}

// maxLinkedSubject bounds the subjects admit links logins by: an OIDC sub
// is at most 255 characters, and a longer NameID names no one better.
const maxLinkedSubject = 1024

// linkKey is what logins are linked to the person by: the attribute the
// lasting subject was read from ("" for the NameID or OIDC sub) and the
// subject; ok is false when the login has none. A link is found only
// under the attribute it was made with: an attribute's value never meets
// a NameID (which a provider's user may choose, where it is a username)
// or another attribute's value.
//
// The attribute is kept in lower case (ASCII letters, as migration 00056
// folded the links before it): claims are matched by name without regard
// to case, so a connection whose attribute changes only in case
// (employeeNumber to EmployeeNumber) reads the same values, and must find
// the same people.
func linkKey(id Identity) (attribute, subject string, ok bool) {
	if id.Attribute != "" {
		return foldASCII(id.Attribute), id.AttributeSubject, linkable(id.AttributeSubject)
	}
	return "", id.Subject, id.Lasting && linkable(id.Subject)
}

// foldASCII is s with its ASCII capitals in lower case, and nothing else
// changed: what SQLite's lower() does, and so what a migration can do alike
// on both databases.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// linkable reports whether subject can key a link. A longer one than
// maxLinkedSubject names no one better; and PostgreSQL's text holds no NUL
// and no invalid UTF-8, which an OIDC sub, being JSON, may carry ("\u0000"):
// such a login is signed in by its address, unlinked, as on SQLite, not
// answered with a server error.
func linkable(subject string) bool {
	return subject != "" && len(subject) <= maxLinkedSubject && utf8.ValidString(subject) && !strings.ContainsRune(subject, 0)
}

// followRename finds the person the connection signed in before under
// id's lasting subject (linkKey). When the provider now gives them another
// address in the account's verified domains (it renamed jane.doe@ to
// jane.smith@: the login has passed rule 2's domain check), the address
// follows, as a SCIM change of it would (changeFromHome), so that the login
// finds the same person instead of making a second. It returns the linked
// person's id ("" when there is none), and whether they were found under
// linkKey itself.
//
// A connection that has just begun to link by an attribute (its
// provider's Entra ID object id, or a subject attribute set since) has its
// people linked by their persistent NameID: while the attribute finds no
// one, that link is followed, as it was before, and the login then links
// the person by the attribute instead.
func (s *Service) followRename(ctx context.Context, tx Store, a Account, c Connection, id Identity) (string, bool, error) {
	attribute, subject, ok := linkKey(id)
	if !ok {
		return "", false, nil
	}
	// Read, not locked: nearly every login finds the address unchanged,
	// and a lock is a write on PostgreSQL. Locked, and read again, only to
	// rename.
	u, err := tx.FindSSOLink(ctx, c.ID, attribute, subject)
	byKey := err == nil
	if KindOf(err) == NotFound && attribute != "" && id.Lasting && linkable(id.Subject) {
		u, err = tx.FindSSOLink(ctx, c.ID, "", id.Subject)
	}
	if KindOf(err) == NotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	userID := u.ID
	// A person the connection may not sign in at their address (the
	// account's SCIM or admins moved them out of its domains since) is not
	// its to rename: the link is followed no further.
	if EmailKey(u.Email) == EmailKey(id.Email) || !mayAssert(a, c, u.Email) {
		return userID, byKey, nil
	}
	if u, err = tx.LockUser(ctx, userID); err != nil {
		return "", false, err
	}
	if EmailKey(u.Email) == EmailKey(id.Email) || !mayAssert(a, c, u.Email) {
		return userID, byKey, nil
	}
	_, err = s.changeFromHome(ctx, tx, a, sso(c), u, "", "", id.Email)
	if KindOf(err) == Conflict {
		return "", false, ForbiddenError(fmt.Sprintf("Your organisation's identity provider now gives your address as %s, which %s already knows as another person. Ask your administrator to remove one of them.", id.Email, a.Title()))
	}
	return userID, byKey, err
}

// updateFromIdentity brings the person's name, groups and role in line with
// what the provider said. The name is the person's own, shared by their
// accounts: the provider may set it because it vouches for an address in
// its own company's domain (rule 2), which no other account's provider can.
func (s *Service) updateFromIdentity(ctx context.Context, tx Store, c Connection, id Identity, mappings []RoleMapping, u *User, m *Membership, out *SSOSignIn) error {
	now := s.clock()
	first, last := u.FirstName, u.LastName
	if id.FirstName != "" {
		first = id.FirstName
	}
	if id.LastName != "" {
		last = id.LastName
	}
	if first != u.FirstName || last != u.LastName {
		if err := tx.UpdateUserName(ctx, u.ID, first, last, now); err != nil {
			return err
		}
		u.FirstName, u.LastName = first, last
		if err := s.recordPersonChange(ctx, tx, m.AccountID, sso(c), "user.updated", *u, ""); err != nil {
			return err
		}
		if out.Outcome == "" {
			out.Outcome = "updated"
		}
	}
	role := m.Role
	if id.Groups != nil && len(mappings) > 0 && m.Role != RoleOwner {
		// The groups SCIM put the person in count as well as the ones the
		// login sent, as they do when SCIM changes a group: whichever
		// source spoke last, the role is the best both give.
		scimGroups, err := tx.FindGroupKeysOfMember(ctx, m.AccountID, u.ID)
		if err != nil {
			return err
		}
		role, out.RoleFrom = mappedRoleOf(append(slices.Clone(id.Groups), scimGroups...), mappings)
	}
	if role != m.Role {
		// The membership was read without a lock (most logins change no
		// role): lock it, and read the role again, so that an admin's
		// change meanwhile is kept, not written over (an owner made
		// since stays one, as mappings never change owners).
		locked, err := tx.LockMembership(ctx, m.AccountID, u.ID)
		if err != nil {
			return err
		}
		if m.Role = locked.Role; m.Role == RoleOwner {
			role, out.RoleFrom = RoleOwner, ""
		}
	}
	if role != m.Role || id.Groups != nil {
		changed, err := tx.UpdateSSOMembership(ctx, m.AccountID, u.ID, m.Role, role, id.Groups, now)
		if err != nil {
			return err
		}
		if role != m.Role {
			if err := s.record(ctx, tx, change{
				accountID: m.AccountID, actor: sso(c), action: "membership.role_changed", targetType: "membership", targetID: u.ID,
				data:   map[string]any{"role": role, "by": "group-to-role mapping", "group": out.RoleFrom},
				events: []publication{roleChangedEvent(u.ID, role, "group-to-role mapping")},
			}); err != nil {
				return err
			}
			m.Role = role
		}
		if changed && out.Outcome == "" {
			out.Outcome = "updated"
		}
	}
	return nil
}

// mappedRoleOf returns the role the best mapping among groups gives, and
// that mapping's group; member when none maps. mappings are in priority
// order, best first.
func mappedRoleOf(groups []string, mappings []RoleMapping) (Role, string) {
	for _, mp := range mappings {
		if mp.Role == RoleOwner {
			continue
		}
		for _, g := range groups {
			if groupKey(g) == groupKey(mp.Group) {
				return mp.Role, mp.Group
			}
		}
	}
	return RoleMember, ""
}
