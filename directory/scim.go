package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// SCIMProfile is what an account's identity provider says of a member,
// kept per account: nothing one account pushes changes what another sees.
type SCIMProfile struct {
	UserName    string
	ExternalID  string
	DisplayName string
	GivenName   string
	FamilyName  string
	// Email is the address the identity provider gives (the primary one,
	// else the work one, else the first): what emails.value filters match
	// in this account. The person's own email, which signs them in to
	// every account, follows it only from their home account, within its
	// verified domains (changeFromHome).
	Email string
	// EmailType, EmailPrimary and EmailDisplay are what the identity
	// provider says of that address among its emails (type and display as
	// sent; "", false, "" when it sent none of them for it): what
	// emails.type, emails.primary and emails.display filters match.
	EmailType    string
	EmailPrimary bool
	EmailDisplay string
	// Attributes is the resource as the client last sent it, so that a
	// GET returns every attribute it set, including ones admit does not use.
	Attributes json.RawMessage
}

// SCIMUser is one account's view of a member, as SCIM serves it.
type SCIMUser struct {
	Membership Membership // Membership.ID is the SCIM id
	Email      string     // the person's email, the same in every account
	// FirstName and LastName are the person's own name, the same in every
	// account: what the account's admins see of them. Only the account
	// that verified the email's domain, and the person, change it (rule
	// 10); another account's identity provider keeps its names in Profile.
	FirstName, LastName string
	Profile             SCIMProfile
	Version             int // increases with every change: the ETag
}

// Described reports whether an identity provider has described the
// member through SCIM; a member added by hand, by invitation or by an SSO
// login has no SCIM description until the provider sends one.
func (u SCIMUser) Described() bool {
	a := strings.TrimSpace(string(u.Profile.Attributes))
	return a != "" && a != "{}"
}

// Active reports whether the member may sign in to the account.
func (u SCIMUser) Active() bool { return u.Membership.Status == StatusActive }

// SCIMUserInput is a user as a SCIM client sends it.
type SCIMUserInput struct {
	Profile SCIMProfile
	Email   string // the address the person signs in with
	Active  bool
}

// check checks a user as a client sent it. was is the user's profile
// before a change (nil for a new user): a value the client sends back
// unchanged is not checked again, so that a rule made stricter since it
// was stored never refuses a change to something else, least of all the
// deactivation that ends someone's access.
func (in *SCIMUserInput) check(was *SCIMProfile) error {
	var problems []string
	var old SCIMProfile
	if was != nil {
		old = *was
	}
	kept := func(v, old string) bool { return was != nil && v == old }
	in.Profile.UserName = strings.TrimSpace(in.Profile.UserName)
	if in.Profile.UserName == "" {
		problems = append(problems, "userName is required")
	} else if !kept(in.Profile.UserName, old.UserName) && (len([]rune(in.Profile.UserName)) > 256 || hasControl(in.Profile.UserName)) {
		problems = append(problems, "userName must be at most 256 characters, without control characters")
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		problems = append(problems, "a user needs an email address (in emails, or a userName that is one): "+Message(err))
	}
	in.Email = email
	in.Profile.Email = email
	for _, f := range []struct{ name, v, old string }{
		{"externalId", in.Profile.ExternalID, old.ExternalID}, {"displayName", in.Profile.DisplayName, old.DisplayName},
		{"name.givenName", in.Profile.GivenName, old.GivenName}, {"name.familyName", in.Profile.FamilyName, old.FamilyName},
	} {
		if !kept(f.v, f.old) && (len([]rune(f.v)) > 256 || hasControl(f.v)) {
			problems = append(problems, f.name+" must be at most 256 characters, without control characters")
		}
	}
	if len(in.Profile.Attributes) > 64<<10 {
		problems = append(problems, "the user resource is larger than 64 KiB")
	}
	if len(in.Profile.Attributes) == 0 {
		in.Profile.Attributes = json.RawMessage(`{}`)
	}
	if len(problems) > 0 {
		return InvalidError(problems...)
	}
	return nil
}

func scimActor(t SCIMToken) Actor {
	return Actor{Source: SourceSCIM, ID: t.ID, Name: t.Name}
}

func statusOf(active bool) Status {
	if active {
		return StatusActive
	}
	return StatusDeactivated
}

// CreateSCIMUser adds a person to the account as its identity provider
// pushed them. A person admit already knows (from another account) keeps
// their user, password and name; only a membership is added. A userName
// or person already in the account is a Conflict (SCIM "uniqueness").
func (s *Service) CreateSCIMUser(ctx context.Context, accountID string, token SCIMToken, in SCIMUserInput) (SCIMUser, error) {
	if err := in.check(nil); err != nil {
		return SCIMUser{}, err
	}
	now := s.clock()
	var out SCIMUser
	err := s.store.Tx(ctx, func(tx Store) error {
		// Another company's person gets no name from this account: it
		// stays in this account's SCIM profile (rule 10).
		a, candidate, _, err := newUserFor(ctx, tx, accountID, in.Email, in.Profile.GivenName, in.Profile.FamilyName, now)
		if err != nil {
			return err
		}
		u, created, err := tx.FindOrCreateUser(ctx, candidate)
		if err != nil {
			return err
		}
		m := Membership{ID: newID(), AccountID: accountID, UserID: u.ID, Role: RoleMember, Status: statusOf(in.Active), Source: SourceOfSCIM, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateMembership(ctx, u, m); err != nil {
			return err
		}
		if u, err = s.takeIn(ctx, tx, a, u, scimActor(token)); err != nil {
			return err
		}
		if !created && isHome(a, u.Email) {
			if u, err = s.changeFromHome(ctx, tx, a, scimActor(token), u, in.Profile.GivenName, in.Profile.FamilyName, u.Email); err != nil {
				return err
			}
		}
		version, err := tx.UpdateSCIMProfile(ctx, accountID, m.ID, in.Profile, now)
		if err != nil {
			return err
		}
		out = SCIMUser{Membership: m, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Profile: in.Profile, Version: version}
		var events []publication
		if created {
			events = append(events, userEvent(EventUserCreated, u))
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: scimActor(token), action: "membership.created", targetType: "membership", targetID: u.ID,
			data:   map[string]any{"scim_id": m.ID, "email": u.Email, "user_name": in.Profile.UserName, "external_id": in.Profile.ExternalID, "active": in.Active},
			events: append(events, membershipEvent(EventMembershipCreated, u.Email, m)),
		})
	})
	if KindOf(err) == Conflict {
		return SCIMUser{}, ConflictError(fmt.Sprintf("a user with userName %q or email %s already exists in this account", in.Profile.UserName, in.Email))
	}
	if err != nil {
		return SCIMUser{}, fmt.Errorf("create SCIM user: %w", err)
	}
	return out, nil
}

// changeFromHome gives the person u the name and address their home
// account a's identity provider sends (rule 10: only it, and the person,
// shape their identity), and tells every account of theirs. A name part
// the provider leaves out stays as it is. The address changes only when a
// verified the domains of both the old address and the new one: a person
// renamed at their company (jane.doe@ to jane.smith@) stays one person,
// whom the next single sign-on finds by the new address; an address in a
// domain a does not hold is not a's to give (its mail, and with it the
// password reset of every account of the person's, would go elsewhere).
// An address another person has is a Conflict. It returns the user as it
// is afterwards.
func (s *Service) changeFromHome(ctx context.Context, tx Store, a Account, actor Actor, u User, given, family, email string) (User, error) {
	if !isHome(a, u.Email) {
		return u, nil
	}
	first, last := homeName(u.FirstName, u.LastName, given, family)
	previous := ""
	if email != u.Email && isHome(a, email) {
		ok, err := mayReaddress(ctx, tx, a, u, email)
		if err != nil {
			return u, err
		}
		if ok {
			previous = u.Email
		}
	}
	if first == u.FirstName && last == u.LastName && previous == "" {
		return u, nil
	}
	now := s.clock()
	if previous != "" {
		err := tx.UpdateUserEmail(ctx, u.ID, email, now)
		if KindOf(err) == Conflict {
			return u, ConflictError(fmt.Sprintf("%s cannot become %s: that address is another person's in admit (merge or remove one of them first)", u.Email, email))
		}
		if err != nil {
			return u, err
		}
		u.Email = email
		if err := s.resendReaddressed(ctx, tx, actor, u.ID, now); err != nil {
			return u, err
		}
	}
	if first != u.FirstName || last != u.LastName {
		if err := tx.UpdateUserName(ctx, u.ID, first, last, now); err != nil {
			return u, err
		}
		u.FirstName, u.LastName = first, last
	}
	return u, s.recordPersonChange(ctx, tx, a.ID, actor, "user.updated", u, previous)
}

// mayReaddress reports whether the home account a may give u the address
// email (in a domain a verified). For a person of a alone, yes. For a
// person of other accounts too, only when a's single sign-on serves the
// new address's domain: then a signs them in to those accounts anyway (a
// session of its SSO enters them), and renaming them gives it nothing
// more. Otherwise a SCIM token, which a provisioning tool may hold without
// any sign-in, could give the person an address its holder reads, have
// the password reset link mailed there, and so hold the password of every
// account of theirs (rule 4).
func mayReaddress(ctx context.Context, tx Store, a Account, u User, email string) (bool, error) {
	if EmailKey(email) == EmailKey(u.Email) {
		return true, nil // the same address, other letters
	}
	elsewhere, err := belongsElsewhere(ctx, tx, a.ID, u.ID)
	if err != nil || !elsewhere {
		return !elsewhere, err
	}
	served, err := ssoDomains(ctx, tx, a)
	if err != nil {
		return false, err
	}
	return slices.Contains(served, emailDomain(email)), nil
}

// belongsElsewhere reports whether the user holds a membership of an
// account other than accountID, whatever its status, or is an operator:
// an operator enters every account's console, so whoever could reset
// their password would hold all of them.
func belongsElsewhere(ctx context.Context, tx Store, accountID, userID string) (bool, error) {
	ms, err := tx.FindMembershipsOfUser(ctx, userID)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(ms, func(m Membership) bool { return m.AccountID != accountID }) {
		return true, nil
	}
	return isOperator(ctx, tx, userID)
}

// homeName is the name of a person named first last after their home
// account's identity provider sends given and family. A part that names
// no one now (a value stored before a rule refused it, which a client may
// send back unchanged: SCIMUserInput.check) is left out: it stays in the
// SCIM profile it came from, and never becomes the person's name, which
// the console, mail and apps' claims show.
func homeName(first, last, given, family string) (string, string) {
	if given = strings.TrimSpace(given); given != "" && nameable(given) {
		first = given
	}
	if family = strings.TrimSpace(family); family != "" && nameable(family) {
		last = family
	}
	return first, last
}

// nameable reports whether v may be a name part a SCIM client gives.
func nameable(v string) bool { return len([]rune(v)) <= 256 && !hasControl(v) }

// SCIMUser returns one of the account's users by SCIM id; another
// account's id is NotFound.
func (s *Service) SCIMUser(ctx context.Context, accountID, id string) (SCIMUser, error) {
	return s.store.FindSCIMUser(ctx, accountID, id)
}

// ReplaceSCIMUser replaces what the identity provider says of a member
// (PUT), if the member's version meets cond (If-Match). active=false
// deactivates the membership and ends its sessions at once; active=true
// reactivates it. The person's email and password are theirs, across
// accounts, and are not changed here.
func (s *Service) ReplaceSCIMUser(ctx context.Context, accountID string, token SCIMToken, id string, in SCIMUserInput, cond IfVersion) (SCIMUser, error) {
	u, err := s.changeSCIMUser(ctx, accountID, token, id, cond, func(SCIMUser) (SCIMUserInput, error) { return in, nil })
	if err != nil {
		return SCIMUser{}, fmt.Errorf("replace SCIM user: %w", err)
	}
	return u, nil
}

// PatchSCIMUser changes a member as ReplaceSCIMUser does, with what patch
// makes of the member as stored (PATCH, RFC 7644 §3.5.2). patch is called
// inside the transaction, on the member read and locked there, so that a
// concurrent change (a deactivation) is never written over with what was
// read before it. patch may be called more than once (a transaction that
// is retried), so it must not change anything but its result.
func (s *Service) PatchSCIMUser(ctx context.Context, accountID string, token SCIMToken, id string, cond IfVersion, patch func(SCIMUser) (SCIMUserInput, error)) (SCIMUser, error) {
	u, err := s.changeSCIMUser(ctx, accountID, token, id, cond, patch)
	if err != nil {
		return SCIMUser{}, fmt.Errorf("patch SCIM user: %w", err)
	}
	return u, nil
}

func (s *Service) changeSCIMUser(ctx context.Context, accountID string, token SCIMToken, id string, cond IfVersion, apply func(SCIMUser) (SCIMUserInput, error)) (SCIMUser, error) {
	var out SCIMUser
	err := s.store.Tx(ctx, func(tx Store) error {
		cur, err := tx.LockSCIMUser(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := cond.check(cur.Version, "user"); err != nil {
			return err
		}
		in, err := apply(cur)
		if err != nil {
			return err
		}
		if in.Email = strings.TrimSpace(in.Email); in.Email == "" {
			in.Email = cur.Email
		}
		if err := in.check(&cur.Profile); err != nil {
			return err
		}
		now := s.clock()
		v, err := tx.UpdateSCIMProfile(ctx, accountID, id, in.Profile, now)
		if err != nil {
			return err
		}
		// UpdateSCIMProfile set the membership's updated_at, which is
		// meta.lastModified: the answer shows what a read then shows.
		cur.Membership.UpdatedAt = now
		a, err := tx.FindAccount(ctx, accountID)
		if err != nil {
			return err
		}
		// The person's name and address as read with the member: most
		// changes (Entra's deactivation, a title) leave them, and need not
		// read the person.
		first, last := homeName(cur.FirstName, cur.LastName, in.Profile.GivenName, in.Profile.FamilyName)
		if isHome(a, cur.Email) && (first != cur.FirstName || last != cur.LastName || in.Email != cur.Email) {
			u, err := tx.FindUser(ctx, cur.Membership.UserID)
			if err != nil {
				return err
			}
			if u, err = s.changeFromHome(ctx, tx, a, scimActor(token), u, in.Profile.GivenName, in.Profile.FamilyName, in.Email); err != nil {
				return err
			}
			cur.Email, cur.FirstName, cur.LastName = u.Email, u.FirstName, u.LastName
		}
		m := cur.Membership
		var events []publication
		if want := statusOf(in.Active); m.Status != want && m.Status != StatusInvited {
			if m, err = tx.SetMembershipStatus(ctx, accountID, m.UserID, want, now); err != nil {
				return err
			}
			typ := EventMembershipActivated
			if want == StatusDeactivated {
				if err := tx.DeleteSessionsOfMembership(ctx, accountID, m.UserID); err != nil {
					return err
				}
				if err := s.endAppAccess(ctx, tx, accountID, m.UserID); err != nil {
					return err
				}
				typ = EventMembershipDeactivated
			}
			events = append(events, membershipEvent(typ, cur.Email, m))
		}
		out = SCIMUser{Membership: m, Email: cur.Email, FirstName: cur.FirstName, LastName: cur.LastName, Profile: in.Profile, Version: v}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: scimActor(token), action: "membership.updated", targetType: "membership", targetID: m.UserID,
			data:   map[string]any{"scim_id": id, "user_name": in.Profile.UserName, "external_id": in.Profile.ExternalID, "active": in.Active},
			events: events,
		})
	})
	return out, err
}

// IfVersion is a condition on the version of what a change is made to:
// SCIM's If-Match (RFC 7644 §3.14, RFC 7232 §3.1). The zero value holds
// for every version (no If-Match, or "*"); VersionIn holds only for the
// versions it names.
type IfVersion struct {
	set      bool
	versions []int
}

// VersionIn holds when the current version is one of versions. With none
// it never holds: an If-Match that names no version of admit's (another
// server's entity tag, or no entity tag at all) matches nothing, so the
// change fails rather than going ahead unchecked.
func VersionIn(versions ...int) IfVersion {
	return IfVersion{set: true, versions: versions}
}

// check refuses a change to what is at version current unless c holds.
func (c IfVersion) check(current int, what string) error {
	if !c.set || slices.Contains(c.versions, current) {
		return nil
	}
	if len(c.versions) == 1 {
		return PreconditionFailedError(fmt.Sprintf("the %s changed since you read it: it is at version %d, not %d; read it again", what, current, c.versions[0]))
	}
	return PreconditionFailedError(fmt.Sprintf("the %s is at version %d, which the change's condition does not name; read it again", what, current))
}

// DeleteSCIMUser removes the person from the account, if the member's
// version meets cond (If-Match): the membership, its sessions and group
// memberships go; the person stays if they belong to other accounts.
func (s *Service) DeleteSCIMUser(ctx context.Context, accountID string, token SCIMToken, id string, cond IfVersion) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		find := tx.FindSCIMUser
		if cond.set {
			// Locked: a change committed between the check and the
			// deletion would be deleted unseen.
			find = tx.LockSCIMUser
		}
		cur, err := find(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := cond.check(cur.Version, "user"); err != nil {
			return err
		}
		if err := s.endAppAccess(ctx, tx, accountID, cur.Membership.UserID); err != nil {
			return err
		}
		if err := tx.DeleteMembership(ctx, accountID, cur.Membership.UserID); err != nil {
			return err
		}
		if err := tx.RecordSCIMDeletion(ctx, accountID, cur.Membership.UserID, s.clock()); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: scimActor(token), action: "membership.deleted", targetType: "membership", targetID: cur.Membership.UserID,
			data:   map[string]any{"scim_id": id, "email": cur.Email, "user_name": cur.Profile.UserName},
			events: []publication{membershipEvent(EventMembershipDeleted, cur.Email, cur.Membership)},
		})
	})
	if err != nil {
		return fmt.Errorf("delete SCIM user: %w", err)
	}
	return nil
}

// DeletedBySCIM reports whether the account's identity provider deleted
// the person with this email through SCIM, and no one has added them to
// the account since. Just-in-time provisioning refuses such a person: the
// identity provider's deletion stands until it, or an admin, adds them
// again (DESIGN rule 3).
func (s *Service) DeletedBySCIM(ctx context.Context, accountID, email string) (bool, error) {
	u, err := s.store.FindUserByEmail(ctx, email)
	if KindOf(err) == NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.store.SCIMDeleted(ctx, accountID, u.ID)
}

// SCIMPage is one page of a SCIM listing.
type SCIMPage struct {
	Total int // every match, not just this page
	Users []SCIMUser
}

// ListSCIMUsers returns the account's users matching filter (all when
// nil), count of them from the 1-based startIndex, ordered by SCIM id.
func (s *Service) ListSCIMUsers(ctx context.Context, accountID string, filter *Filter, startIndex, count int) (SCIMPage, error) {
	total, users, err := listPage(ctx, s, accountID, "User", filter, startIndex, count, true,
		func() (int, error) { return s.store.CountSCIMUsers(ctx, accountID, filter) },
		func(pos Position, limit int) ([]SCIMUser, error) {
			return s.store.FindSCIMUsers(ctx, accountID, filter, pos, limit)
		},
		func(u SCIMUser) string { return u.Membership.ID })
	return SCIMPage{Total: total, Users: users}, err
}
