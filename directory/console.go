package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Action is something done in an account's admin console.
type Action string

const (
	// ViewMembers is the Users page, a person's page and their audit trail.
	ViewMembers Action = "view_members"
	// AddMembers is adding a user, inviting, and resending invitations.
	AddMembers Action = "add_members"
	// ManageMembers is changing a role, deactivating, reactivating,
	// removing, and sending a password reset link.
	ManageMembers Action = "manage_members"
	// ManageOwners is any of those done to an owner, and giving someone
	// the owner role: an admin cannot lock the owners out, nor raise
	// anyone (themself included) above their own role.
	ManageOwners Action = "manage_owners"
	// ManageSSO is setting up single sign-on: adding, changing, testing
	// and removing connections, and mapping groups to roles. Owners only:
	// a connection may sign in anyone of the account's verified domains,
	// owners included, and through them the person's other accounts, so
	// an admin who could point one at an identity provider of their own
	// would be anyone (as with domains and SCIM tokens).
	ManageSSO Action = "manage_sso"
	// ManageSecurity is changing the account's password and sign-in
	// policy: who may sign in how is the owners' decision.
	ManageSecurity Action = "manage_security"
	// ManageBranding is changing how the account's pages and emails look.
	ManageBranding Action = "manage_branding"
	// ManageProvisioning is creating and revoking SCIM tokens: a token
	// adds, changes and removes people on its own.
	ManageProvisioning Action = "manage_provisioning"
	// ManageDomains is claiming, verifying and withdrawing email domains:
	// a verified domain makes the account the home of its people.
	ManageDomains Action = "manage_domains"
	// ManageWebhooks is adding, rotating, enabling and removing the
	// account's webhook endpoints, and seeing and resending their
	// deliveries: an endpoint receives every change to the account's
	// people.
	ManageWebhooks Action = "manage_webhooks"
)

// Permission is one row of the table of who may do what.
type Permission struct {
	Action      Action
	Description string
	Roles       []Role
}

// permissions is the one table of who may do what in the console. Roles
// an account defines for itself have no console rights, like member.
var permissions = []Permission{
	{ViewMembers, "see the people of the account, their details and audit trail", []Role{RoleOwner, RoleAdmin}},
	{AddMembers, "add people, invite them, resend invitations", []Role{RoleOwner, RoleAdmin}},
	{ManageMembers, "change roles, deactivate, reactivate, remove, send a password reset link", []Role{RoleOwner, RoleAdmin}},
	{ManageOwners, "do any of that to an owner, or make someone an owner", []Role{RoleOwner}},
	{ManageSSO, "set up single sign-on: add, change, test and remove connections, map groups to roles", []Role{RoleOwner}},
	{ManageSecurity, "change the password policy and whether single sign-on is required", []Role{RoleOwner}},
	{ManageBranding, "change the account's branding (name shown, logo, colour, sender name)", []Role{RoleOwner, RoleAdmin}},
	{ManageProvisioning, "create and revoke SCIM tokens", []Role{RoleOwner}},
	{ManageDomains, "claim, verify and withdraw the account's email domains", []Role{RoleOwner}},
	{ManageWebhooks, "add, rotate, enable and remove the account's webhooks; see and resend their deliveries; send them test events", []Role{RoleOwner}},
}

// Permissions returns the table of who may do what in the console.
func Permissions() []Permission {
	out := slices.Clone(permissions)
	for i := range out {
		out[i].Roles = slices.Clone(out[i].Roles)
	}
	return out
}

// Can reports whether a member with role may do action in the console.
func Can(role Role, action Action) bool {
	for _, p := range permissions {
		if p.Action == action {
			return slices.Contains(p.Roles, role)
		}
	}
	return false
}

// Admin is a signed-in person at an account's console.
type Admin struct {
	Account    Account
	User       User
	Membership Membership
	// Elsewhere says the person's session is open in another account: they
	// administer this one too, and must switch to it (as on /me) first.
	Elsewhere bool
	// Key is the API key acting, when the admin is a program using the
	// JSON API (KeyAdmin); User is then empty.
	Key *APIKey
	// Operator says the person is here as a platform operator, not as a
	// member: they may do everything, and are audited as the operator.
	// Membership is then their membership here, if they have one.
	Operator bool
}

// Can reports whether the admin may do action.
func (a Admin) Can(action Action) bool { return a.Operator || Can(a.Membership.Role, action) }

// Actor is the admin as their changes are audited.
// Assignable are the roles of roles this admin may give: the owner role only
// to those who may manage owners. Forms offer these; the directory checks
// the rule again on every change.
func (a Admin) Assignable(roles []Role) []Role {
	if a.Can(ManageOwners) {
		return roles
	}
	return slices.DeleteFunc(slices.Clone(roles), func(r Role) bool { return r == RoleOwner })
}

func (a Admin) Actor() Actor {
	if a.Key != nil {
		return a.Key.Actor()
	}
	if a.Operator {
		return Actor{Source: SourceOperator, ID: a.User.ID, Name: a.User.Email}
	}
	return Actor{Source: SourceAdmin, ID: a.User.ID, Name: a.User.Email}
}

// errNoConsole is the answer for an account the person is not an active
// member of: the same as for an account that does not exist, so the
// console tells nobody which accounts exist.
var errNoConsole = NotFoundError("There is no page at this address.")

// Console opens the console of the account with slug for the visit's
// person. An account they are not an active member of is NotFound, one
// where their role has no console rights Forbidden. When their session is
// in another account the Admin is Elsewhere: nothing may be done in it
// until they switch. An operator enters any account's console at once,
// except the one their session is in when they administer it as a member.
func (s *Service) Console(ctx context.Context, v Visit, slug string) (Admin, error) {
	if v.Handoff() {
		return Admin{}, errHandedOff
	}
	adm := Admin{Account: v.Account, User: v.User, Membership: v.Membership}
	if slug == v.Account.Slug && adm.Can(ViewMembers) {
		return adm, nil
	}
	if !lookupable(slug) {
		return Admin{}, errNoConsole
	}
	operator, err := s.IsOperator(ctx, v.User.ID)
	if err != nil {
		return Admin{}, err
	}
	if slug != v.Account.Slug {
		a, err := s.store.FindAccountBySlug(ctx, slug)
		if KindOf(err) == NotFound {
			return Admin{}, errNoConsole
		}
		if err != nil {
			return Admin{}, err
		}
		m, err := s.store.FindMembership(ctx, a.ID, v.User.ID)
		if KindOf(err) == NotFound || (err == nil && m.Status != StatusActive) {
			if operator {
				return Admin{Account: a, User: v.User, Operator: true}, nil
			}
			return Admin{}, errNoConsole
		}
		if err != nil {
			return Admin{}, err
		}
		adm = Admin{Account: a, User: v.User, Membership: m, Elsewhere: true}
	}
	if operator {
		adm.Elsewhere, adm.Operator = false, true
		return adm, nil
	}
	if !adm.Can(ViewMembers) {
		return Admin{}, ForbiddenError(fmt.Sprintf("Only the owners and admins of %s manage it.", adm.Account.Title()))
	}
	return adm, nil
}

// Allowed refuses an Admin whose session is elsewhere, or whose role may
// not do action: for pages whose changes another package makes (single
// sign-on setup is package sso's protocol work).
func (a Admin) Allowed(action Action) error { return a.ready(action) }

// ready refuses an Admin whose session is elsewhere, or whose role may not
// do action.
func (a Admin) ready(action Action) error {
	if a.Elsewhere {
		return ForbiddenError(fmt.Sprintf("Switch to %s first.", a.Account.Title()))
	}
	if !a.Can(action) {
		return refusedRole(a.Account, action)
	}
	return nil
}

// refusedRole says who may do action in the account, from the table of
// who may do what, so that a refusal tells the person whom to ask.
func refusedRole(a Account, action Action) error {
	for _, p := range permissions {
		if p.Action == action {
			who := make([]string, len(p.Roles))
			for i, r := range p.Roles {
				who[i] = string(r) + "s"
			}
			return ForbiddenError(fmt.Sprintf("Only the %s of %s may do this.", strings.Join(who, " and "), a.Title()))
		}
	}
	return ForbiddenError("Your role does not allow this here.")
}

// MemberDetail is a person as the console's page of them shows them.
type MemberDetail struct {
	Member
	// ExternalID is the identity provider's id of the person (SCIM).
	ExternalID string
	// Connection is the connection of the person's last sign-in, when it
	// was through single sign-on and the connection still exists.
	Connection *Connection
	// Elsewhere says the person belongs to other accounts too: then no
	// admin changes their address (ChangeMember), only their identity
	// provider.
	Elsewhere bool
	// Invitation is the person's open invitation to the account, while
	// they are invited: its expiry, and whether the address bounced.
	Invitation *Invitation
}

// AdminMember returns the account's member with that membership id.
func (s *Service) AdminMember(ctx context.Context, adm Admin, id string) (MemberDetail, error) {
	if err := adm.ready(ViewMembers); err != nil {
		return MemberDetail{}, err
	}
	m, err := s.findMember(ctx, s.store, adm.Account.ID, id)
	if err != nil {
		return MemberDetail{}, err
	}
	d := MemberDetail{Member: m}
	if d.Elsewhere, err = belongsElsewhere(ctx, s.store, adm.Account.ID, m.User.ID); err != nil {
		return MemberDetail{}, err
	}
	if su, err := s.store.FindSCIMUser(ctx, adm.Account.ID, m.Membership.ID); err == nil {
		d.ExternalID = su.Profile.ExternalID
	} else if KindOf(err) != NotFound {
		return MemberDetail{}, err
	}
	if m.Membership.Status == StatusInvited {
		if inv, err := s.store.FindOpenInvitation(ctx, adm.Account.ID, m.User.ID); err == nil {
			d.Invitation = &inv
		} else if KindOf(err) != NotFound {
			return MemberDetail{}, err
		}
	}
	if cid := m.Membership.LastConnectionID; cid != "" {
		if c, err := s.store.FindConnection(ctx, adm.Account.ID, cid); err == nil {
			d.Connection = &c
		} else if KindOf(err) != NotFound {
			return MemberDetail{}, err
		}
	}
	return d, nil
}

// Bounced returns the open invitations of those of members whose email
// bounced, by user id: the Users table marks them, so that the admin sees
// why someone never arrived.
func (s *Service) Bounced(ctx context.Context, accountID string, members []Member) (map[string]Invitation, error) {
	var ids []string
	for _, m := range members {
		if m.Membership.Status == StatusInvited {
			ids = append(ids, m.User.ID)
		}
	}
	invs, err := s.store.FindUndeliverableInvitations(ctx, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("find bounced invitations: %w", err)
	}
	out := make(map[string]Invitation, len(invs))
	for _, inv := range invs {
		out[inv.UserID] = inv
	}
	return out, nil
}

// findMember finds the account's member by membership id, or by user id
// (as events name people: a platform acting on one needs no lookup
// first); another account's is NotFound like one that does not exist.
func (s *Service) findMember(ctx context.Context, tx Store, accountID, id string) (Member, error) {
	if !lookupable(id) {
		return Member{}, NotFoundError("There is no such person in this account.")
	}
	m, err := tx.FindMember(ctx, accountID, id)
	if KindOf(err) == NotFound {
		ms, merr := tx.FindMembership(ctx, accountID, id)
		if merr == nil {
			m, err = tx.FindMember(ctx, accountID, ms.ID)
		} else if KindOf(merr) != NotFound {
			return Member{}, merr
		}
	}
	if KindOf(err) == NotFound {
		return Member{}, NotFoundError("There is no such person in this account.")
	}
	return m, err
}

// target finds the member an admin acts on with action and checks that the
// admin may: owners answer only to owners, and nobody deactivates, removes
// or changes the role of themself (the console would lock them out).
//
// Inside a transaction both memberships are read again and locked: a role
// taken from the admin since their page loaded no longer acts, and two
// owners demoting or removing each other at the same moment cannot leave
// the account without one (the second sees the first's change).
func (s *Service) target(ctx context.Context, tx Store, adm *Admin, id string, action Action, onSelf bool) (Member, error) {
	if err := adm.ready(action); err != nil {
		return Member{}, err
	}
	if adm.Key != nil {
		// A key has no membership to read again: a revoked key was
		// refused when the request began.
		return s.targetMember(ctx, tx, adm, id, onSelf)
	}
	if adm.Operator {
		// Operator rights taken away since the page loaded no longer act.
		if ok, err := isOperator(ctx, tx, adm.User.ID); err != nil || !ok {
			if err != nil {
				return Member{}, err
			}
			return Member{}, ForbiddenError("You are no longer an operator.")
		}
	} else {
		me, err := tx.LockMembership(ctx, adm.Account.ID, adm.User.ID)
		if KindOf(err) == NotFound || (err == nil && me.Status != StatusActive) {
			return Member{}, ForbiddenError("You are no longer an active member of this account.")
		}
		if err != nil {
			return Member{}, err
		}
		adm.Membership = me
		if err := adm.ready(action); err != nil {
			return Member{}, err
		}
	}
	return s.targetMember(ctx, tx, adm, id, onSelf)
}

// targetMember finds and locks the member of target for a ready admin.
func (s *Service) targetMember(ctx context.Context, tx Store, adm *Admin, id string, onSelf bool) (Member, error) {
	m, err := s.findMember(ctx, tx, adm.Account.ID, id)
	if err != nil {
		return Member{}, err
	}
	if m.User.ID != adm.User.ID {
		if m.Membership, err = tx.LockMembership(ctx, adm.Account.ID, m.User.ID); err != nil {
			return Member{}, err
		}
	}
	if m.Membership.Role == RoleOwner && !adm.Can(ManageOwners) {
		return Member{}, ForbiddenError(fmt.Sprintf("%s is an owner: only an owner can do that.", m.User.Email))
	}
	if !onSelf && m.User.ID == adm.User.ID {
		return Member{}, ForbiddenError("You cannot do that to yourself; ask another owner or admin.")
	}
	return m, nil
}

// AddMember adds a person by hand (AddUser) as the admin.
func (s *Service) AddMember(ctx context.Context, adm Admin, in NewUser) (Added, error) {
	if err := adm.ready(AddMembers); err != nil {
		return Added{}, err
	}
	if Role(strings.TrimSpace(string(in.Role))) == RoleOwner && !adm.Can(ManageOwners) {
		return Added{}, ForbiddenError("Only an owner can make someone an owner.")
	}
	return s.AddUser(ctx, adm.Account.ID, adm.Actor(), in)
}

// InviteMember invites a person (Invite) as the admin, who is told if the
// address bounces.
func (s *Service) InviteMember(ctx context.Context, adm Admin, in NewInvitation) (Invitation, error) {
	if err := adm.ready(AddMembers); err != nil {
		return Invitation{}, err
	}
	if Role(strings.TrimSpace(string(in.Role))) == RoleOwner && !adm.Can(ManageOwners) {
		return Invitation{}, ForbiddenError("Only an owner can make someone an owner.")
	}
	in.InviterEmail = adm.User.Email
	return s.Invite(ctx, adm.Account.ID, adm.Actor(), in)
}

// onMember runs change on the member id names, found and checked by
// target inside one transaction: every console action on a person. A
// change that may take away an owner (takesOwner) locks the account's
// owners first when its member is one (lockOwnersFor), and hands them to
// change for the last-owner rule.
func (s *Service) onMember(ctx context.Context, adm Admin, id, what string, takesOwner bool, change func(tx Store, m Member, o owners) (Member, error)) (Member, error) {
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		var o owners
		if takesOwner {
			var err error
			peek := func() (Member, error) { return s.findMember(ctx, tx, adm.Account.ID, id) }
			if o, err = lockOwnersFor(ctx, tx, adm.Account.ID, peek); err != nil {
				return err
			}
		}
		// The person first: another account's id is NotFound whatever
		// the change asks for.
		m, err := s.target(ctx, tx, &adm, id, ManageMembers, false)
		if err != nil {
			return err
		}
		if takesOwner {
			if o, err = o.lockOwnersAgain(ctx, tx, adm.Account.ID, m); err != nil {
				return err
			}
		}
		out, err = change(tx, m, o)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ChangeRole gives the member another of the account's roles.
func (s *Service) ChangeRole(ctx context.Context, adm Admin, id string, role Role) (Member, error) {
	return s.ChangeMember(ctx, adm, id, MemberChange{Role: &role})
}

// ChangePerson changes a member's name or address (ChangeMember).
func (s *Service) ChangePerson(ctx context.Context, adm Admin, id string, in PersonChange) (Member, error) {
	return s.ChangeMember(ctx, adm, id, MemberChange{Person: in})
}

// MemberChange is what an admin changes of a member at once: a nil field
// stays as it is.
type MemberChange struct {
	Role   *Role
	Person PersonChange
}

// PersonChange is what an admin changes of a person's identity.
type PersonChange struct {
	FirstName, LastName, Email *string
}

func (p PersonChange) empty() bool { return p.FirstName == nil && p.LastName == nil && p.Email == nil }

// ChangeMember makes the changes of in to the member id names, all or
// none.
//
// The person's name and address change only as the admin of their home
// account, the account that verified their address's domain (rule 10):
// the person is one user across their accounts, and every account of
// theirs sees the change (user.updated). A new address must be in a
// domain the account verified too, as for its identity provider (SCIM):
// the home account already answers for everyone there (its SSO signs them
// in), and for no one else. Another account's admins hold a membership
// only, and are refused.
func (s *Service) ChangeMember(ctx context.Context, adm Admin, id string, in MemberChange) (Member, error) {
	if in.Role == nil && in.Person.empty() {
		return Member{}, InvalidError(`give what changes: the role, or the person's first name, last name or email`)
	}
	var first, last, email string
	var problems []string
	if p := in.Person.FirstName; p != nil {
		first = strings.TrimSpace(*p)
		problems = appendProblem(problems, validateName("first name", first))
	}
	if p := in.Person.LastName; p != nil {
		last = strings.TrimSpace(*p)
		problems = appendProblem(problems, validateName("last name", last))
	}
	if p := in.Person.Email; p != nil {
		var err error
		if email, err = NormalizeEmail(*p); err != nil {
			problems = append(problems, Message(err))
		}
	}
	if len(problems) > 0 {
		return Member{}, InvalidError(problems...)
	}
	return s.onMember(ctx, adm, id, "change member", in.Role != nil, func(tx Store, m Member, o owners) (Member, error) {
		var err error
		if !in.Person.empty() {
			if m, err = s.changePerson(ctx, tx, adm, m, first, last, email); err != nil {
				return Member{}, err
			}
		}
		if in.Role != nil {
			if m, err = s.changeRole(ctx, tx, adm, m, o, Role(strings.TrimSpace(string(*in.Role)))); err != nil {
				return Member{}, err
			}
		}
		return m, nil
	})
}

// changePerson gives the member m's person the name and address given
// ("" keeps a part), as ChangeMember says.
func (s *Service) changePerson(ctx context.Context, tx Store, adm Admin, m Member, first, last, email string) (Member, error) {
	a := adm.Account
	if !isHome(a, m.User.Email) {
		return Member{}, ForbiddenError(fmt.Sprintf("Only the account that verified %s changes %s's name or address: this account did not, so it holds their membership only.", emailDomain(m.User.Email), m.User.Email))
	}
	if email == "" {
		email = m.User.Email
	} else if !isHome(a, email) {
		return Member{}, InvalidError(fmt.Sprintf("%s is not in a domain %s verified (%s): a person's address may change only within them", email, a.Title(), strings.Join(a.Domains, ", ")))
	}
	u, err := tx.LockUser(ctx, m.User.ID)
	if err != nil {
		return Member{}, err
	}
	if EmailKey(email) != EmailKey(u.Email) {
		// Rule 4: an admin who gives a person of other accounts an address
		// whose mail they read (theirs with a +tag) has the reset link,
		// and so the password of every account of the person's. Their
		// identity provider, which signs them in anyway, changes it.
		elsewhere, err := belongsElsewhere(ctx, tx, a.ID, u.ID)
		if err != nil {
			return Member{}, err
		}
		if elsewhere {
			return Member{}, ForbiddenError(fmt.Sprintf("%s also belongs to another account (or is one of the platform's operators), so an admin cannot change their address (whoever reads the new one could reset the password of every account of theirs): change it at your identity provider, which tells admit through SCIM.", u.Email))
		}
	}
	m.User, err = s.changeFromHome(ctx, tx, a, adm.Actor(), u, first, last, email)
	return m, err
}

// changeRole gives the member m another of the account's roles as the
// admin (setRole): owner only when they manage owners.
func (s *Service) changeRole(ctx context.Context, tx Store, adm Admin, m Member, o owners, role Role) (Member, error) {
	return s.setRole(ctx, tx, adm.Account.ID, adm.Actor(), m, o, role, adm.Can(ManageOwners))
}

// setRole gives the member m, locked in tx, another of the account's
// roles: one the account has, owner only when makesOwners, and never
// taking away the last of its active owners o.
func (s *Service) setRole(ctx context.Context, tx Store, accountID string, actor Actor, m Member, o owners, role Role, makesOwners bool) (Member, error) {
	roles, err := s.Roles(ctx, accountID)
	if err != nil {
		return Member{}, err
	}
	if !slices.Contains(roles, role) {
		return Member{}, InvalidError(fmt.Sprintf("role %q does not exist in this account (roles: %s)", role, joinRoles(roles)))
	}
	if role == RoleOwner && !makesOwners {
		return Member{}, ForbiddenError("Only an owner can make someone an owner.")
	}
	if m.Membership.Role == role {
		return m, nil
	}
	if err := o.keep(m, "demoting"); err != nil {
		return Member{}, err
	}
	out := m
	if out.Membership, err = tx.SetMembershipRole(ctx, accountID, m.User.ID, role, s.clock()); err != nil {
		return Member{}, err
	}
	return out, s.record(ctx, tx, change{
		accountID: accountID, actor: actor, action: "membership.role_changed", targetType: "membership", targetID: m.User.ID,
		data:   map[string]any{"email": m.User.Email, "old": m.Membership.Role, "new": role},
		events: []publication{roleChangedEvent(m.User.ID, role, "admin")},
	})
}

// DeactivateMember suspends the member (Deactivate).
func (s *Service) DeactivateMember(ctx context.Context, adm Admin, id string) (Member, error) {
	return s.onMember(ctx, adm, id, "deactivate", true, func(tx Store, m Member, o owners) (Member, error) {
		if err := o.keep(m, "deactivating"); err != nil {
			return Member{}, err
		}
		return s.deactivate(ctx, tx, adm.Actor(), m)
	})
}

// ReactivateMember lets a deactivated member in again (Reactivate).
func (s *Service) ReactivateMember(ctx context.Context, adm Admin, id string) (Member, error) {
	return s.onMember(ctx, adm, id, "reactivate", false, func(tx Store, m Member, _ owners) (Member, error) {
		return s.reactivate(ctx, tx, adm.Actor(), m)
	})
}

// RemoveMember takes the person out of the account as the admin (Remove).
func (s *Service) RemoveMember(ctx context.Context, adm Admin, id string) (Member, error) {
	return s.onMember(ctx, adm, id, "remove member", true, func(tx Store, m Member, o owners) (Member, error) {
		return s.remove(ctx, tx, adm.Actor(), m, o)
	})
}

// RevokeMemberInvitation withdraws the invitation of a member who has not
// accepted it, and so takes them out of the account, as Remove does (the
// console's "Revoke the invitation"). Once they have accepted, it is
// refused and nothing changes: an admin who meant to withdraw an
// invitation never removes a person who has just joined.
func (s *Service) RevokeMemberInvitation(ctx context.Context, adm Admin, id string) (Member, error) {
	return s.onMember(ctx, adm, id, "revoke invitation", true, func(tx Store, m Member, o owners) (Member, error) {
		if m.Membership.Status != StatusInvited {
			return Member{}, ConflictError(fmt.Sprintf("%s is no longer only invited (their membership is %s): there is no invitation to revoke. Deactivate or remove them instead.", m.User.Email, m.Membership.Status))
		}
		return s.remove(ctx, tx, adm.Actor(), m, o)
	})
}

// remove is Remove of the member m, found and locked in tx after the
// account's active owners o.
func (s *Service) remove(ctx context.Context, tx Store, actor Actor, m Member, o owners) (Member, error) {
	if err := o.keep(m, "removing"); err != nil {
		return Member{}, err
	}
	accountID := m.Membership.AccountID
	events := []publication{}
	if inv, err := tx.FindOpenInvitation(ctx, accountID, m.User.ID); err == nil {
		inv.Status, inv.UpdatedAt = InvitationRevoked, s.clock()
		if err := tx.UpdateInvitation(ctx, inv); err != nil {
			return Member{}, err
		}
		events = append(events, invitationEvent(EventInvitationRevoked, inv))
	} else if KindOf(err) != NotFound {
		return Member{}, err
	}
	// The apps the person signed in to hear of it (back-channel
	// logout), as with a deactivation.
	if err := s.endAppAccess(ctx, tx, accountID, m.User.ID); err != nil {
		return Member{}, err
	}
	if err := tx.DeleteMembership(ctx, accountID, m.User.ID); err != nil {
		return Member{}, err
	}
	return m, s.record(ctx, tx, change{
		accountID: accountID, actor: actor, action: "membership.deleted", targetType: "membership", targetID: m.User.ID,
		data:   map[string]any{"email": m.User.Email, "role": m.Membership.Role, "status": m.Membership.Status},
		events: append(events, membershipEvent(EventMembershipDeleted, m.User.Email, m.Membership)),
	})
}

// ResendInvitation sends the member's open invitation again (Resend).
func (s *Service) ResendInvitation(ctx context.Context, adm Admin, id string) (Invitation, error) {
	if err := adm.ready(AddMembers); err != nil {
		return Invitation{}, err
	}
	m, err := s.target(ctx, s.store, &adm, id, AddMembers, true)
	if err != nil {
		return Invitation{}, err
	}
	return s.Resend(ctx, adm.Account.ID, adm.Actor(), m.User.Email, 0)
}

// SendResetLink emails the member a password reset link, under the rules
// of a reset they ask for themselves (RequestPasswordReset): the link goes
// to their own address, so the admin learns and sets nothing, and a person
// who signs in through their company's SSO gets a note saying so instead.
// The admin's request is audited in the account.
func (s *Service) SendResetLink(ctx context.Context, adm Admin, id string) (Member, error) {
	m, err := s.target(ctx, s.store, &adm, id, ManageMembers, true)
	if err != nil {
		return Member{}, err
	}
	if m.Membership.Status != StatusActive {
		return Member{}, ConflictError(fmt.Sprintf("%s is %s here: a reset link would open nothing", m.User.Email, m.Membership.Status))
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		return s.record(ctx, tx, change{
			accountID: adm.Account.ID, actor: adm.Actor(), action: "user.password_reset_sent", targetType: "user", targetID: m.User.ID,
			data: map[string]any{"email": m.User.Email},
		})
	})
	if err != nil {
		return Member{}, fmt.Errorf("send reset link: %w", err)
	}
	if err := s.RequestPasswordReset(ctx, m.User.Email); err != nil {
		return Member{}, fmt.Errorf("send reset link: %w", err)
	}
	return m, nil
}

// Bulk actions of the console.
const (
	BulkResend     = "resend"
	BulkDeactivate = "deactivate"
	BulkReactivate = "reactivate"
	BulkRemove     = "remove"
)

// BulkResult is what a bulk action did: how many it changed, and why it
// left the others.
type BulkResult struct {
	Done int
	// Emails are the addresses of the people it changed, the first
	// MaxBulk of them (a resend to everyone may reach thousands).
	Emails   []string
	Problems []string
}

// done counts a person the action changed.
func (r *BulkResult) done(email string) {
	r.Done++
	if len(r.Emails) < MaxBulk {
		r.Emails = append(r.Emails, email)
	}
}

// MaxBulk is the most people one bulk action takes: one page.
const MaxBulk = MaxPageSize

// Bulk does one action to several members, each on its own (one refusal
// does not undo the others).
func (s *Service) Bulk(ctx context.Context, adm Admin, action string, ids []string) (BulkResult, error) {
	var do func(id string) (string, error)
	member := func(m Member, err error) (string, error) { return m.User.Email, err }
	switch action {
	case BulkResend:
		do = func(id string) (string, error) { inv, err := s.ResendInvitation(ctx, adm, id); return inv.Email, err }
	case BulkDeactivate:
		do = func(id string) (string, error) { return member(s.DeactivateMember(ctx, adm, id)) }
	case BulkReactivate:
		do = func(id string) (string, error) { return member(s.ReactivateMember(ctx, adm, id)) }
	case BulkRemove:
		do = func(id string) (string, error) { return member(s.RemoveMember(ctx, adm, id)) }
	default:
		return BulkResult{}, InvalidError(fmt.Sprintf("there is no action %q", action))
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	switch {
	case len(ids) == 0:
		return BulkResult{}, InvalidError("select at least one person")
	case len(ids) > MaxBulk:
		return BulkResult{}, InvalidError(fmt.Sprintf("select at most %d people at a time", MaxBulk))
	}
	var out BulkResult
	for _, id := range ids {
		switch email, err := do(id); {
		case err == nil:
			out.done(email)
		case KindOf(err) == Internal:
			return out, err
		default:
			out.Problems = append(out.Problems, Message(err))
		}
	}
	return out, nil
}

// neverSignedIn selects the people a "resend to everyone who never signed
// in" reaches: invited people, who have not accepted (an invitation is
// how they sign in the first time).
var neverSignedIn = MemberFilter{Status: StatusInvited, NeverSignedIn: true}

// CountNeverSignedIn counts the people ResendToNeverSignedIn would reach.
func (s *Service) CountNeverSignedIn(ctx context.Context, adm Admin) (int, error) {
	if err := adm.ready(AddMembers); err != nil {
		return 0, err
	}
	return s.CountMembersBy(ctx, adm.Account.ID, neverSignedIn)
}

// ResendToNeverSignedIn resends the invitation of every invited person of
// the account, a page at a time (each resend is its own transaction).
func (s *Service) ResendToNeverSignedIn(ctx context.Context, adm Admin) (BulkResult, error) {
	if err := adm.ready(AddMembers); err != nil {
		return BulkResult{}, err
	}
	var out BulkResult
	after := ""
	for {
		page, err := s.ListMembersBy(ctx, adm.Account.ID, neverSignedIn, after, MaxPageSize)
		if err != nil {
			return out, err
		}
		for _, m := range page.Members {
			switch _, err := s.ResendInvitation(ctx, adm, m.Membership.ID); {
			case err == nil:
				out.done(m.User.Email)
			case KindOf(err) == Internal:
				return out, err
			default:
				out.Problems = append(out.Problems, Message(err))
			}
		}
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

// Consoles returns the accounts whose console the visit's person may open,
// ordered by name: where they are an active member with console rights
// and the way they signed in opens the account (the ones they can switch
// to, as on /me).
func (s *Service) Consoles(ctx context.Context, v Visit) ([]Account, error) {
	accounts, err := s.AccountsOf(ctx, v)
	if err != nil {
		return nil, err
	}
	ms, err := s.store.FindMembershipsOfUser(ctx, v.User.ID)
	if err != nil {
		return nil, err
	}
	roles := make(map[string]Role, len(ms))
	for _, m := range ms {
		roles[m.AccountID] = m.Role
	}
	return slices.DeleteFunc(accounts, func(a Account) bool { return !Can(roles[a.ID], ViewMembers) }), nil
}
