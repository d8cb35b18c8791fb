package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func connection(t testing.TB, svc *directory.Service, accountID, name string, mode directory.JITMode, domains ...string) directory.Connection {
	t.Helper()
	c, err := svc.CreateConnection(context.Background(), accountID, operator, directory.NewConnection{
		Protocol: directory.ProtocolSAML, Name: name, JITMode: mode, Domains: domains, Metadata: "<md/>", // ready, not waiting
	})
	if err != nil {
		t.Fatalf("create connection %s: %v", name, err)
	}
	return c
}

// TestSignInWithSSORules is the table of what a login may do, by the
// connection's mode and what admit already knows of the person.
func TestSignInWithSSORules(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example", "acme-labs.example")
		other := mustAccount(t, svc, "other", "other.example")
		create := connection(t, svc, acme.ID, "create", directory.JITCreate)
		link := connection(t, svc, acme.ID, "link", directory.JITLink)
		off := connection(t, svc, acme.ID, "off", directory.JITOff)
		labsOnly := connection(t, svc, acme.ID, "labs", directory.JITCreate, "acme-labs.example")
		if _, _, err := svc.MapGroupToRole(ctx, acme.ID, operator, "Admins", directory.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
		add := func(accountID, email string, role directory.Role) {
			if _, err := svc.AddUser(ctx, accountID, operator, directory.NewUser{Email: email, FirstName: "Old", LastName: "Name", Role: role}); err != nil {
				t.Fatal(err)
			}
		}
		add(other.ID, "known@acme.example", "")     // a user of admit, not of acme
		add(acme.ID, "member@acme.example", "")     // an active member of acme
		add(acme.ID, "owner@acme.example", "owner") // never changed by a mapping
		add(acme.ID, "gone@acme.example", "")
		if _, err := svc.Deactivate(ctx, acme.ID, operator, "gone@acme.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: "invited@acme.example"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: "invited-off@acme.example"}); err != nil {
			t.Fatal(err)
		}

		cases := []struct {
			name    string
			conn    directory.Connection
			email   string
			groups  []string
			outcome string         // "" when refused
			role    directory.Role // when signed in
			first   string         // the first name afterwards
		}{
			{"create: a new person is created", create, "new@acme.example", nil, "created user", directory.RoleMember, "Ann"},
			{"create: a user of another account is added", create, "known@acme.example", nil, "added membership", directory.RoleMember, "Ann"},
			{"create: a mapped group gives its role", create, "member@acme.example", []string{"admins"}, "updated", directory.RoleAdmin, "Ann"},
			{"create: the owner stays owner", create, "owner@acme.example", []string{"Users"}, "updated", directory.RoleOwner, "Ann"},
			{"create: a deactivated member is refused", create, "gone@acme.example", nil, "", "", ""},
			{"create: another company's address is refused", create, "x@other.example", nil, "", "", ""},
			{"create: an invited person accepts by signing in", create, "invited@acme.example", nil, "activated invitation", directory.RoleMember, "Ann"},
			{"link: a new person is refused", link, "new2@acme.example", nil, "", "", ""},
			{"link: a known user is added", link, "new@acme.example", nil, "signed in", directory.RoleMember, "Ann"},
			{"off: a known user who is not a member is refused", off, "known2@acme.example", nil, "", "", ""},
			{"off: a member signs in and nothing changes", off, "member@acme.example", []string{"Other"}, "signed in", directory.RoleAdmin, "Ann"},
			{"off: an invited person is refused", off, "invited-off@acme.example", nil, "", "", ""},
			{"a connection limited to one domain refuses the account's other", labsOnly, "member@acme.example", nil, "", "", ""},
			{"a connection limited to one domain takes its own", labsOnly, "lab@acme-labs.example", nil, "created user", directory.RoleMember, "Ann"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in, err := svc.SignInWithSSO(ctx, tc.conn, directory.Identity{Email: tc.email, FirstName: "Ann", LastName: "Lee", Groups: tc.groups})
				if tc.outcome == "" {
					if directory.KindOf(err) != directory.Forbidden {
						t.Fatalf("got %+v, %v; want Forbidden", in, err)
					}
					if m, err := svc.Member(ctx, acme.ID, tc.email); err == nil && m.Membership.Status == directory.StatusActive && tc.email != "member@acme.example" {
						t.Errorf("a refused login left an active membership: %+v", m.Membership)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if in.Outcome != tc.outcome || in.Member.Membership.Role != tc.role || in.Member.User.FirstName != tc.first ||
					in.Member.Membership.Status != directory.StatusActive {
					t.Errorf("got %q role %s first name %q status %s; want %q role %s first name %q",
						in.Outcome, in.Member.Membership.Role, in.Member.User.FirstName, in.Member.Membership.Status, tc.outcome, tc.role, tc.first)
				}
			})
		}
		// The login that activated the invitation used it up: the link is dead.
		invs, _ := svc.Invitations(ctx, acme.ID)
		for _, inv := range invs {
			if inv.Email == "invited@acme.example" && inv.Status != directory.InvitationAccepted {
				t.Errorf("invitation after an SSO login: %s", inv.Status)
			}
		}
		// An existing user in link mode got a membership only: the person
		// created in another case kept their user.
		if m, err := svc.Member(ctx, other.ID, "known@acme.example"); err != nil || m.Membership.Status != directory.StatusActive {
			t.Errorf("the other account's membership: %+v %v", m, err)
		}
	})
}

func TestConnectionForEmail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example", "labs.example")
		general := connection(t, svc, acme.ID, "general", directory.JITCreate)
		labs := connection(t, svc, acme.ID, "labs", directory.JITCreate, "labs.example")
		for email, want := range map[string]string{
			"ann@labs.example": labs.Name,    // named by a connection, though an older one serves every domain
			"ann@ACME.example": general.Name, // the account's, served by the connection without its own list
			"ann@else.example": "",
		} {
			got, err := svc.ConnectionForEmail(ctx, acme.ID, email)
			if got.Name != want || (want == "" && directory.KindOf(err) != directory.NotFound) {
				t.Errorf("%s: %q, %v; want %q", email, got.Name, err, want)
			}
		}

		// Home realm discovery: from the address alone, across accounts.
		globex := mustAccount(t, svc, "globex", "globex.example", "legacy.example")
		connection(t, svc, globex.ID, "okta", directory.JITCreate, "globex.example")
		mustAccount(t, svc, "plain", "plain.example")
		for email, want := range map[string]string{
			"ann@labs.example":    "acme/labs",
			"ann@acme.example":    "acme/general",
			"bo@GLOBEX.example":   "globex/okta",
			"bo@legacy.example":   "", // globex's, but its only connection names another domain
			"cy@plain.example":    "", // an account without single sign-on
			"cy@nobody.example":   "",
			"not an address":      "",
			"ann@labs.example.ru": "",
		} {
			a, c, err := svc.ConnectionForDomainOf(ctx, email)
			got := ""
			if err == nil {
				got = a.Slug + "/" + c.Name
			}
			if got != want || (want == "" && directory.KindOf(err) != directory.NotFound) {
				t.Errorf("ConnectionForDomainOf(%q) = %q, %v; want %q", email, got, err, want)
			}
		}
	})
}

// TestSSOStateExpiresAndIsSwept covers what a login leaves in the
// database: answered requests and the replay cache, each until it expires,
// and the login log.
func TestSSOStateExpiresAndIsSwept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		other := connection(t, svc, acme.ID, "entra", directory.JITCreate)

		pendingUntil := clk.Now().Add(directory.SSORequestLifetime)
		if err := svc.FinishSSO(ctx, c, "req-1", pendingUntil); err != nil {
			t.Fatal(err)
		}
		if err := svc.FinishSSO(ctx, c, "req-1", pendingUntil); directory.KindOf(err) != directory.Conflict {
			t.Errorf("a request was answered twice: %v; want Conflict", err)
		}
		if err := svc.FinishSSO(ctx, other, "req-1", pendingUntil); err != nil {
			t.Errorf("another connection's request of the same id: %v", err)
		}
		if err := svc.FinishSSO(ctx, c, "", pendingUntil); directory.KindOf(err) != directory.Invalid {
			t.Errorf("an empty request id: %v; want Invalid", err)
		}

		until := clk.Now().Add(time.Minute)
		if err := svc.AcceptAssertionOnce(ctx, c, "assertion-1", until); err != nil {
			t.Fatal(err)
		}
		if err := svc.AcceptAssertionOnce(ctx, c, "assertion-1", until); directory.KindOf(err) != directory.Conflict {
			t.Errorf("replay: %v; want Conflict", err)
		}

		clk.Add(directory.SSORequestLifetime + directory.MaxClockSkew*3)
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		// Once expired and swept, the ids are forgotten (an answer that
		// old is refused by the sealed request's own expiry and by the
		// assertion's validity window).
		if err := svc.AcceptAssertionOnce(ctx, c, "assertion-1", clk.Now().Add(time.Minute)); err != nil {
			t.Errorf("the replay record outlived its assertion: %v", err)
		}
		if err := svc.FinishSSO(ctx, c, "req-1", clk.Now().Add(time.Minute)); err != nil {
			t.Errorf("the answered request outlived its expiry: %v", err)
		}
	})
}

// TestLoginLogKeepsRealAttempts: junk answers (unverified: anyone can post
// them) and real ones (verified) are capped apart, so a flood of junk
// leaves the newest real attempts in the log, and neither class ever holds
// more than LoginLogSize rows, even between sweeps.
func TestLoginLogKeepsRealAttempts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		record := func(verified bool, reason string) {
			t.Helper()
			if err := svc.RecordLoginAttempt(ctx, directory.LoginAttempt{ConnectionID: c.ID, Outcome: "refused", Reason: reason, Verified: verified, Detail: json.RawMessage(`{"n":1}`)}); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Millisecond)
		}
		for i := range directory.LoginLogSize + 5 {
			record(true, fmt.Sprint("real ", i))
		}
		for i := range junkAttempts {
			record(false, fmt.Sprint("junk ", i))
		}
		count := func(verified bool) int {
			t.Helper()
			var n int
			if err := s.DB().GetContext(ctx, &n, s.DB().Rebind(`SELECT count(*) FROM sso_attempts WHERE verified = ?`), verified); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if real, junk := count(true), count(false); real != directory.LoginLogSize || junk != directory.LoginLogSize {
			t.Errorf("rows: %d verified, %d unverified; want %d each", real, junk, directory.LoginLogSize)
		}
		all, err := svc.LoginAttempts(ctx, acme.ID, c.ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range all {
			got = append(got, a.Reason)
		}
		want := []string{fmt.Sprint("junk ", junkAttempts-1), fmt.Sprint("junk ", junkAttempts-2), fmt.Sprint("junk ", junkAttempts-3),
			fmt.Sprint("real ", directory.LoginLogSize+4), fmt.Sprint("real ", directory.LoginLogSize+3), fmt.Sprint("real ", directory.LoginLogSize+2)}
		if !slices.Equal(got, want) {
			t.Errorf("the log shows %q; want %q", got, want)
		}
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if real, junk := count(true), count(false); real != directory.LoginLogSize || junk != directory.LoginLogSize {
			t.Errorf("after the sweep: %d verified, %d unverified; want %d each", real, junk, directory.LoginLogSize)
		}
	})
}

// TestRolesFromSCIMAndSSOGroups: when an account maps roles and both SCIM
// and SSO logins tell the person's groups, the role is the best either
// gives, whichever spoke last (Entra ID, for one, sends SCIM all groups
// but a SAML token at most 150).
func TestRolesFromSCIMAndSSOGroups(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme", "acme.example")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		c := connection(t, svc, a.ID, "okta", directory.JITCreate)
		ids := scimUsers(t, svc, a.ID, tok, "u", 2) // u0@acme.example, u1@acme.example
		role := func(id string) directory.Role { return scimRole(t, svc, a.ID, id) }
		login := func(email string, groups ...string) directory.SSOSignIn {
			t.Helper()
			in, err := svc.SignInWithSSO(ctx, c, directory.Identity{Email: email, FirstName: "P", LastName: "Q", Groups: groups})
			if err != nil {
				t.Fatal(err)
			}
			return in
		}
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "Admins", directory.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Staff", Members: ids}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Admins", ExternalID: "oid-7", Members: ids[:1]}); err != nil {
			t.Fatal(err)
		}

		// SCIM made u0 admin; a login whose groups leave Admins out keeps it.
		if in := login("u0@acme.example", "Staff"); in.Member.Membership.Role != directory.RoleAdmin || in.RoleFrom != "Admins" {
			t.Errorf("u0 after a login without Admins: %s from %q; want admin from Admins", in.Member.Membership.Role, in.RoleFrom)
		}
		// A login made u1 admin; a SCIM change to another of u1's groups keeps it.
		if in := login("u1@acme.example", "admins"); in.Member.Membership.Role != directory.RoleAdmin {
			t.Fatalf("u1 after a login with admins: %s", in.Member.Membership.Role)
		}
		// SCIM adds u1 to Finance, mapped to a lesser role: the role is
		// worked out again, and the login's Admins still counts.
		if err := svc.CreateRole(ctx, a.ID, operator, "billing"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "Finance", "billing", nil); err != nil {
			t.Fatal(err)
		}
		finance, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Finance"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, finance.Group.ID, directory.GroupChange{Steps: []directory.MemberStep{{Op: directory.MembersAdd, Members: ids[1:]}}}, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if got := role(ids[1]); got != directory.RoleAdmin {
			t.Errorf("u1 after SCIM added Finance: %s; want admin from the login's groups", got)
		}
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, finance.Group.ID, directory.GroupChange{Steps: []directory.MemberStep{{Op: directory.MembersRemove, Members: ids[1:]}}}, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		// When neither source gives it any more, the role goes.
		login("u1@acme.example", "Staff")
		if got := role(ids[1]); got != directory.RoleMember {
			t.Errorf("u1 with Admins in neither source: %s; want member", got)
		}
		// A mapping made later applies at once to those whose last login
		// sent the group, not only to SCIM groups' members.
		if err := svc.CreateRole(ctx, a.ID, operator, "auditor"); err != nil {
			t.Fatal(err)
		}
		login("u1@acme.example", "Staff", "Auditors")
		if _, n, err := svc.MapGroupToRole(ctx, a.ID, operator, "auditors", "auditor", nil); err != nil || n != 1 || role(ids[1]) != "auditor" {
			t.Errorf("mapping a group only an SSO login sent: %d changed, %v, role %s; want 1, auditor", n, err, role(ids[1]))
		}
	})
}

// TestUpdateConnection: a connection's domains, mode and settings change
// under the rules that held when it was made, and a refused change leaves
// it (and the account's domains) as it was.
func TestUpdateConnection(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		mustAccount(t, svc, "globex", "globex.example")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		link := directory.JITLink
		newDomains := []string{"Labs.Acme.example"}
		settings := c.Settings
		settings.AllowIDPInitiated = true
		up, err := svc.UpdateConnection(ctx, acme.ID, operator, c.ID, directory.ConnectionChange{Domains: &newDomains, JITMode: &link, Settings: &settings})
		if err != nil {
			t.Fatal(err)
		}
		again, err := svc.Connection(ctx, acme.ID, c.ID)
		if err != nil || again.JITMode != directory.JITLink || !again.Settings.AllowIDPInitiated || strings.Join(again.Domains, ",") != "labs.acme.example" || up.Name != "okta" {
			t.Fatalf("after update: %+v, %v", again, err)
		}
		if a, _ := svc.Account(ctx, "acme"); !slices.Contains(a.Domains, "labs.acme.example") {
			t.Errorf("the new domain was not added to the account: %v", a.Domains)
		}
		for name, ch := range map[string]directory.ConnectionChange{
			"another account's domain": {Domains: &[]string{"globex.example"}},
			"an unknown mode":          {JITMode: ptr(directory.JITMode("sometimes"))},
			"OIDC settings on SAML":    {Settings: &directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: "https://idp.example", ClientID: "c"}}},
		} {
			if _, err := svc.UpdateConnection(ctx, acme.ID, operator, c.ID, ch); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if now, _ := svc.Connection(ctx, acme.ID, c.ID); now.JITMode != directory.JITLink || strings.Join(now.Domains, ",") != "labs.acme.example" || now.Settings.OIDC != nil {
			t.Errorf("a refused update changed the connection: %+v", now)
		}
		if _, err := svc.UpdateConnection(ctx, acme.ID, operator, "no-such-id", directory.ConnectionChange{JITMode: &link}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("unknown connection: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// junkAttempts is the flood of TestLoginLogKeepsRealAttempts: twice the
// cap shows the cap holds, since every attempt past it trims the oldest
// (the 10,000 pass too, in 2 s on SQLite and 30 s on PostgreSQL
// here, too long for every run).
const junkAttempts = 2 * directory.LoginLogSize

// TestTrySignInWithSSOChangesNothing: an admin's Test sign-in gets the
// answer a real login would, and leaves no user, membership, role,
// invitation or audit event behind.
func TestTrySignInWithSSOChangesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		conn := connection(t, svc, acme.ID, "create", directory.JITCreate)
		if _, _, err := svc.MapGroupToRole(ctx, acme.ID, operator, "Admins", directory.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "member@acme.example", FirstName: "Old", LastName: "Name"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: "invited@acme.example"}); err != nil {
			t.Fatal(err)
		}
		trail := func() int {
			evs, err := svc.AuditTrail(ctx, acme.ID, "", "", time.Time{}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		before := trail()
		cases := []struct {
			name, email string
			groups      []string
			outcome     string // "" when refused
			role        directory.Role
		}{
			{"a new person would be created", "new@acme.example", nil, "created user", directory.RoleMember},
			{"an invited person would accept", "invited@acme.example", nil, "activated invitation", directory.RoleMember},
			{"a mapped group would give its role", "member@acme.example", []string{"admins"}, "updated", directory.RoleAdmin},
			{"another company's address would be refused", "x@other.example", nil, "", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in, err := svc.TrySignInWithSSO(ctx, conn, directory.Identity{Email: tc.email, FirstName: "Ann", LastName: "Lee", Groups: tc.groups})
				if tc.outcome == "" {
					if directory.KindOf(err) != directory.Forbidden {
						t.Fatalf("got %+v, %v; want Forbidden", in, err)
					}
					return
				}
				if err != nil || in.Outcome != tc.outcome || in.Member.Membership.Role != tc.role {
					t.Fatalf("got %q role %s, %v; want %q role %s", in.Outcome, in.Member.Membership.Role, err, tc.outcome, tc.role)
				}
			})
		}
		if _, err := svc.Member(ctx, acme.ID, "new@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the trial created a member: %v", err)
		}
		if m, err := svc.Member(ctx, acme.ID, "member@acme.example"); err != nil || m.Membership.Role != directory.RoleMember || m.User.FirstName != "Old" {
			t.Errorf("the trial changed a member: %+v %v", m, err)
		}
		if m, err := svc.Member(ctx, acme.ID, "invited@acme.example"); err != nil || m.Membership.Status != directory.StatusInvited {
			t.Errorf("the trial accepted an invitation: %+v %v", m, err)
		}
		if after := trail(); after != before {
			t.Errorf("the trial left %d audit events", after-before)
		}
	})
}
