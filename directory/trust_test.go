package directory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// hijackSetup is the pre-hijack of Sudhodanan and Paverd: the admin of evil
// adds victim@b.example with a password before b's company (account bee)
// has verified its domain, signs in with it and changes it. It returns the
// attacker's session token and the password they now know.
func hijackSetup(t *testing.T, svc *directory.Service) (evil, bee directory.Account, victim directory.User, token, password string) {
	t.Helper()
	ctx := context.Background()
	evil = mustAccount(t, svc, "evil")
	bee = mustAccount(t, svc, "bee")
	victim = addWithPassword(t, svc, evil.ID, "victim@b.example", "evil knows this one")
	in, err := svc.SignIn(ctx, "victim@b.example", "evil knows this one", directory.Client{Addr: "192.0.2.1"})
	if err != nil {
		t.Fatalf("attacker signs in to evil: %v", err)
	}
	token, _, err = svc.StartSession(ctx, in.User.ID, evil.ID, directory.ByPassword)
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	// Changing the password proves nothing about the address.
	if _, _, err := svc.ChangePassword(ctx, v, "evil knows this one", "evil changed it since"); err != nil {
		t.Fatal(err)
	}
	// bee takes the person in before it verified b.example: a guest
	// membership, which the planted password does not open.
	if _, err := svc.AddUser(ctx, bee.ID, operator, directory.NewUser{Email: "victim@b.example", FirstName: "V", LastName: "W"}); err != nil {
		t.Fatal(err)
	}
	if in, err := svc.SignIn(ctx, "victim@b.example", "evil changed it since", directory.Client{Addr: "192.0.2.1"}); err != nil || len(in.Accounts) != 1 || in.Accounts[0].ID != evil.ID {
		t.Fatalf("the planted password offers %v, %v; want evil only", in.Accounts, err)
	}
	if _, _, err := svc.StartSession(ctx, victim.ID, bee.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
		t.Fatalf("a session in bee with the planted password: %v; want Forbidden", err)
	}
	// bee's operator vouches for b.example.
	if _, err := svc.AddDomain(ctx, bee.ID, operator, "b.example", true); err != nil {
		t.Fatal(err)
	}
	return evil, bee, victim, token, "evil changed it since"
}

// assertHijackFails checks that, once bee took the victim in, the attacker
// has no session and no password, and that both accounts' audit trails say so.
func assertHijackFails(t *testing.T, svc *directory.Service, s *store.Store, evil, bee directory.Account, victim directory.User, token, password string) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
		t.Errorf("the attacker's session: %v; want it ended", err)
	}
	if _, err := svc.SignIn(ctx, "victim@b.example", password, directory.Client{Addr: "192.0.2.1"}); directory.KindOf(err) != directory.Unauthenticated {
		t.Errorf("the attacker's password still signs in: %v", err)
	}
	if u, _ := s.FindUser(ctx, victim.ID); u.HasPassword() {
		t.Errorf("the planted password survived: %+v", u)
	}
	for _, a := range []directory.Account{bee, evil} {
		if !slices.Contains(auditActions(t, svc, a.ID), "user.credentials_revoked") {
			t.Errorf("%s's audit trail does not record the revocation: %v", a.Slug, auditActions(t, svc, a.ID))
		}
	}
}

func TestPreHijackBySCIM(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		evil, bee, victim, token, password := hijackSetup(t, svc)
		// bee's SCIM provisions the person it already had as a guest.
		_, beeSCIM, err := svc.CreateSCIMToken(ctx, bee.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteSCIMUser(ctx, bee.ID, beeSCIM, memberID(t, svc, bee.ID, "victim@b.example"), directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSCIMUser(ctx, bee.ID, beeSCIM, scimInput("victim@b.example", "victim@b.example", "00u1", "Vic", "Tim", true)); err != nil {
			t.Fatal(err)
		}
		assertHijackFails(t, svc, s, evil, bee, victim, token, password)

		// The same through SCIM, for a domain verified after the plant.
		evil2, cee := mustAccount(t, svc, "evil2"), mustAccount(t, svc, "cee")
		planted := addWithPassword(t, svc, evil2.ID, "victim2@c.example", "planted password two")
		if planted.PasswordSetBy != evil2.ID || planted.PasswordProven {
			t.Fatalf("planted = %+v; want unproven, set by evil2", planted)
		}
		tok, _, err := svc.StartSession(ctx, planted.ID, evil2.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddDomain(ctx, cee.ID, operator, "c.example", true); err != nil {
			t.Fatal(err)
		}
		// Now that cee verified c.example, no other account may plant.
		if _, err := svc.AddUser(ctx, evil2.ID, operator, directory.NewUser{Email: "victim3@c.example", FirstName: "V", LastName: "W", Password: "another planted one"}); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("a password for another company's verified domain: %v; want Forbidden", err)
		}
		_, scim, err := svc.CreateSCIMToken(ctx, cee.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSCIMUser(ctx, cee.ID, scim, scimInput("victim2@c.example", "victim2@c.example", "00u2", "Vic", "Tim", true)); err != nil {
			t.Fatal(err)
		}
		assertHijackFails(t, svc, s, evil2, cee, planted, tok, "planted password two")
		// bee's identity provider names its people.
		if u, _ := s.FindUser(ctx, planted.ID); u.FirstName != "Vic" || u.LastName != "Tim" {
			t.Errorf("name = %q %q; want bee's SCIM to set it", u.FirstName, u.LastName)
		}
	})
}

func TestPreHijackBySSO(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		evil, bee, victim, token, password := hijackSetup(t, svc)
		c := connection(t, svc, bee.ID, "okta", directory.JITCreate, "b.example")
		in, err := svc.SignInWithSSO(ctx, c, directory.Identity{Subject: "v", Email: "victim@b.example", FirstName: "Vic", LastName: "Tim"})
		if err != nil || in.Member.Membership.Status != directory.StatusActive {
			t.Fatalf("JIT: %+v, %v", in, err)
		}
		assertHijackFails(t, svc, s, evil, bee, victim, token, password)
		// The victim's own SSO session works, in bee; and evil's
		// membership stays (a guest is not an attack), reachable again
		// once the victim proves the address with a reset.
		if _, _, err := svc.StartSession(ctx, victim.ID, bee.ID, directory.BySSO(c)); err != nil {
			t.Errorf("the victim's SSO session: %v", err)
		}
		if m, err := svc.Member(ctx, evil.ID, "victim@b.example"); err != nil || m.Membership.Status != directory.StatusActive {
			t.Errorf("evil's membership: %+v, %v", m.Membership, err)
		}
	})
}

func TestPreHijackByInvitation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		evil, bee, victim, token, password := hijackSetup(t, svc)
		removeMember(t, svc, bee.ID, "victim@b.example")
		if _, err := svc.Invite(ctx, bee.ID, operator, directory.NewInvitation{Email: "victim@b.example"}); err != nil {
			t.Fatal(err)
		}
		link := linkOf(t, svc, "victim@b.example")
		l, err := svc.OpenInvitationLink(ctx, link)
		if err != nil || l.HasPassword {
			t.Fatalf("link = %+v, %v; want the person to choose a password, not to type the planted one", l.HasPassword, err)
		}
		if _, err := svc.AcceptInvitation(ctx, link, directory.Acceptance{FirstName: "Vic", LastName: "Tim", Password: "a passphrase of my own"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the attacker's session: %v; want it ended", err)
		}
		if _, err := svc.SignIn(ctx, "victim@b.example", password, directory.Client{Addr: "192.0.2.1"}); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the attacker's password: %v; want refused", err)
		}
		u, _ := s.FindUser(ctx, victim.ID)
		if !u.PasswordProven {
			t.Errorf("the password chosen through the emailed link is not proven: %+v", u)
		}
		in, err := svc.SignIn(ctx, "victim@b.example", "a passphrase of my own", directory.Client{Addr: "192.0.2.2"})
		if err != nil || len(in.Accounts) != 2 {
			t.Errorf("the victim's own password: %v, %v; want both accounts", in.Accounts, err)
		}
		if !slices.Contains(auditActions(t, svc, evil.ID), "user.credentials_revoked") {
			t.Error("evil's audit trail does not show the revocation")
		}
	})
}

// TestPlantingIsConfinedToTheMembership: another account may hold a
// membership of a person in a verified domain, but not name them.
func TestPlantingIsConfinedToTheMembership(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "aaa")
		mustAccount(t, svc, "bee", "b.example")
		_, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.CreateSCIMUser(ctx, a.ID, tok, scimInput("ceo@b.example", "ceo@b.example", "x", "Fake", "Name", true))
		if err != nil {
			t.Fatal(err)
		}
		u, _ := s.FindUser(ctx, got.Membership.UserID)
		if u.FirstName != "" || u.LastName != "" {
			t.Errorf("aaa's SCIM named bee's person %q %q for everyone", u.FirstName, u.LastName)
		}
		if got, _ := svc.SCIMUser(ctx, a.ID, got.Membership.ID); got.Profile.GivenName != "Fake" {
			t.Errorf("aaa's own view lost its profile: %+v", got.Profile)
		}
		// A later SCIM update from aaa changes aaa's view only.
		in := scimInput("ceo@b.example", "ceo@b.example", "x", "Other", "Fake", true)
		if _, err := svc.ReplaceSCIMUser(ctx, a.ID, tok, got.Membership.ID, in, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.FindUser(ctx, got.Membership.UserID); u.FirstName != "" {
			t.Errorf("a replace from aaa renamed bee's person: %q", u.FirstName)
		}
		// Invitations and manual adds name no one either.
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "cfo@b.example", FirstName: "Fake", LastName: "Name"}); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.FindUserByEmail(ctx, "cfo@b.example"); u.FirstName != "" {
			t.Errorf("aaa's admin named bee's person %q", u.FirstName)
		}
		// An address no account verified is named by whoever adds it.
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "pat@gmail.example", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.FindUserByEmail(ctx, "pat@gmail.example"); u.FirstName != "Pat" {
			t.Errorf("unverified domain: name %q; want the admin's", u.FirstName)
		}
	})
}

// resetMail returns the kinds of mail queued for email, and drains the queue.
func resetMail(t *testing.T, svc *directory.Service, email string) []directory.MailKind {
	t.Helper()
	ctx := context.Background()
	msgs, err := svc.ClaimMail(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []directory.MailKind
	for _, m := range msgs {
		if m.Recipient == email {
			kinds = append(kinds, m.Kind)
		}
		_ = svc.MailDelivered(ctx, m.ID, true)
	}
	return kinds
}

func TestResetForSSOOnlyPerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		bee := mustAccount(t, svc, "bee", "b.example")
		c := connection(t, svc, bee.ID, "okta", directory.JITCreate)
		_, tok, err := svc.CreateSCIMToken(ctx, bee.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSCIMUser(ctx, bee.ID, tok, scimInput("scim@b.example", "scim@b.example", "1", "S", "C", true)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignInWithSSO(ctx, c, directory.Identity{Subject: "j", Email: "jit@b.example", FirstName: "J", LastName: "T"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, bee.ID, operator, directory.NewUser{Email: "manual@b.example", FirstName: "M", LastName: "A"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			email string
			want  directory.MailKind
		}{
			{"scim@b.example", directory.MailSSOSignIn},
			{"jit@b.example", directory.MailSSOSignIn},
			// Added by an admin without a password: a reset sets their
			// first one, as an invitation would.
			{"manual@b.example", directory.MailPasswordReset},
		} {
			if err := svc.RequestPasswordReset(ctx, tc.email); err != nil {
				t.Fatal(err)
			}
			if got := resetMail(t, svc, tc.email); !slices.Equal(got, []directory.MailKind{tc.want}) {
				t.Errorf("%s: mail %v; want %v", tc.email, got, tc.want)
			}
		}
		if !slices.Contains(auditActions(t, svc, bee.ID), "user.password_reset_refused") {
			t.Error("no audit event for the refused reset")
		}
	})
}

func TestSSORequired(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		bee := mustAccount(t, svc, "bee", "b.example")
		other := mustAccount(t, svc, "other")
		if _, err := svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("SSO required without a connection: %v; want Invalid", err)
		}
		c := connection(t, svc, bee.ID, "okta", directory.JITCreate)
		member := addWithPassword(t, svc, bee.ID, "m@b.example", "member password 1")
		owner, err := svc.AddUser(ctx, bee.ID, operator, directory.NewUser{Email: "o@b.example", FirstName: "O", LastName: "W", Role: directory.RoleOwner, Password: "owner password 1"})
		if err != nil {
			t.Fatal(err)
		}
		guest := addWithPassword(t, svc, bee.ID, "guest@contractor.example", "visiting passphrase 1")
		if _, err := svc.AddUser(ctx, other.ID, operator, directory.NewUser{Email: "m@b.example", FirstName: "M", LastName: "B"}); err != nil {
			t.Fatal(err)
		}
		for i, e := range []string{"m@b.example", "o@b.example", "guest@contractor.example"} {
			proveAddress(t, svc, e, fmt.Sprintf("a proven passphrase %d", i))
		}
		// A member's session opened before the policy.
		before, _, err := svc.StartSession(ctx, member.ID, bee.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, before); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("a password session from before: %v; want ended", err)
		}
		// Password sign-in: bee is not offered to its domain's people,
		// owners included; a guest from another domain keeps it.
		in, err := svc.SignIn(ctx, "m@b.example", "a proven passphrase 0", directory.Client{Addr: "192.0.2.1"})
		if err != nil || len(in.Accounts) != 1 || in.Accounts[0].ID != other.ID {
			t.Errorf("member: %v, %v; want only other", in.Accounts, err)
		}
		if _, err := svc.SignIn(ctx, "o@b.example", "a proven passphrase 1", directory.Client{Addr: "192.0.2.1"}); directory.KindOf(err) != directory.Forbidden || !strings.Contains(directory.Message(err), "single sign-on") {
			t.Errorf("owner without break-glass: %v; want Forbidden naming SSO", err)
		}
		if in, err := svc.SignIn(ctx, "guest@contractor.example", "a proven passphrase 2", directory.Client{Addr: "192.0.2.1"}); err != nil || len(in.Accounts) != 1 {
			t.Errorf("guest: %v, %v; want bee", in.Accounts, err)
		}
		// Switching in from another account's password session is refused.
		tok, _, err := svc.StartSession(ctx, member.ID, other.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := svc.Authenticate(ctx, tok)
		if err := svc.SwitchAccount(ctx, v, bee.ID); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("switch into bee from a password session: %v; want Forbidden", err)
		}
		if accounts, _ := svc.AccountsOf(ctx, v); len(accounts) != 1 {
			t.Errorf("accounts offered to a password session: %v; want other only", accounts)
		}
		// bee's own SSO opens bee, and from there other.
		ssoTok, _, err := svc.StartSession(ctx, member.ID, bee.ID, directory.BySSO(c))
		if err != nil {
			t.Fatalf("SSO session: %v", err)
		}
		v, _ = svc.Authenticate(ctx, ssoTok)
		if err := svc.SwitchAccount(ctx, v, other.ID); err != nil {
			t.Errorf("switch from bee's SSO to other: %v", err)
		}
		// Resets: the domain's people get the SSO email; the guest a link.
		for email, want := range map[string]directory.MailKind{"o@b.example": directory.MailSSOSignIn, "guest@contractor.example": directory.MailPasswordReset} {
			if err := svc.RequestPasswordReset(ctx, email); err != nil {
				t.Fatal(err)
			}
			if got := resetMail(t, svc, email); !slices.Equal(got, []directory.MailKind{want}) {
				t.Errorf("reset for %s: %v; want %v", email, got, want)
			}
		}
		// m@b.example is also in other, where a password works: a reset is
		// fair, and the password it sets still does not open bee.
		if err := svc.RequestPasswordReset(ctx, "m@b.example"); err != nil {
			t.Fatal(err)
		}
		if got := resetMail(t, svc, "m@b.example"); !slices.Equal(got, []directory.MailKind{directory.MailPasswordReset}) {
			t.Errorf("reset for a member of other too: %v", got)
		}

		// Break-glass: owners only, audited on each use.
		if _, err := svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true, BreakGlassOwners: true}); err != nil {
			t.Fatal(err)
		}
		in, err = svc.SignIn(ctx, "o@b.example", "a proven passphrase 1", directory.Client{Addr: "192.0.2.1"})
		if err != nil || len(in.Accounts) != 1 {
			t.Fatalf("owner with break-glass: %v, %v", in.Accounts, err)
		}
		for range 2 {
			if _, _, err := svc.StartSession(ctx, owner.Member.User.ID, bee.ID, directory.ByPassword); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for _, a := range auditActions(t, svc, bee.ID) {
			if a == "user.break_glass_sign_in" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("break-glass sign-ins audited %d times; want 2", n)
		}
		if _, _, err := svc.StartSession(ctx, member.ID, bee.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("member with break-glass on: %v; want Forbidden", err)
		}
		// Every refusal of a right password is in the account's audit trail.
		refused := 0
		for _, a := range auditActions(t, svc, bee.ID) {
			if a == "user.sign_in_refused" {
				refused++
			}
		}
		if refused < 4 {
			t.Errorf("user.sign_in_refused recorded %d times in bee; want one per refusal (at least 4)", refused)
		}
		_ = guest
	})
}

// TestResetMailCarriesTheHomeAccountsBranding: a reset email's account is
// the person's home (or the one they chose last), never one a request names.
func TestResetMailCarriesTheHomeAccountsBranding(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		evil := mustAccount(t, svc, "evil")
		bee := mustAccount(t, svc, "bee", "b.example")
		if _, err := svc.AddUser(ctx, evil.ID, operator, directory.NewUser{Email: "p@b.example", FirstName: "P", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, bee.ID, operator, directory.NewUser{Email: "p@b.example", FirstName: "P", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		if err := svc.RequestPasswordReset(ctx, "p@b.example"); err != nil {
			t.Fatal(err)
		}
		msgs, err := svc.ClaimMail(ctx, 10)
		if err != nil || len(msgs) != 1 || msgs[0].AccountID != bee.ID {
			t.Fatalf("reset mail = %+v, %v; want one, branded as bee", msgs, err)
		}
	})
}

// removeMember takes the person out of the account, as its SCIM would.
func removeMember(t *testing.T, svc *directory.Service, accountID, email string) {
	t.Helper()
	ctx := context.Background()
	_, tok, err := svc.CreateSCIMToken(ctx, accountID, operator, "cleanup")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteSCIMUser(ctx, accountID, tok, memberID(t, svc, accountID, email), directory.IfVersion{}); err != nil {
		t.Fatal(err)
	}
}

func memberID(t *testing.T, svc *directory.Service, accountID, email string) string {
	t.Helper()
	m, err := svc.Member(context.Background(), accountID, email)
	if err != nil {
		t.Fatal(err)
	}
	return m.Membership.ID
}

// TestAdminOfHomeAccountEndsPlantedPassword: the home account's admin
// adding the person is taking them in too.
func TestAdminOfHomeAccountEndsPlantedPassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := newService(t, s)
		evil, bee, victim, token, password := hijackSetup(t, svc)
		removeMember(t, svc, bee.ID, "victim@b.example")
		if _, err := svc.AddUser(context.Background(), bee.ID, operator, directory.NewUser{Email: "victim@b.example", FirstName: "V", LastName: "W"}); err != nil {
			t.Fatal(err)
		}
		assertHijackFails(t, svc, s, evil, bee, victim, token, password)
	})
}

// TestVerifyingADomainEndsPlantedPasswords: an account that verifies its
// domain takes in the members it already has there (review finding R1).
func TestVerifyingADomainEndsPlantedPasswords(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		evil, bee := mustAccount(t, svc, "evil"), mustAccount(t, svc, "bee")
		ceo := addWithPassword(t, svc, evil.ID, "ceo@b.example", "evil knows this one")
		if _, err := svc.AddUser(ctx, bee.ID, operator, directory.NewUser{Email: "ceo@b.example", FirstName: "C", LastName: "E", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		tok, _, err := svc.StartSession(ctx, ceo.ID, evil.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddDomain(ctx, bee.ID, operator, "b.example", true); err != nil {
			t.Fatal(err)
		}
		assertHijackFails(t, svc, s, evil, bee, ceo, tok, "evil knows this one")
	})
}

// TestBreakGlassNeedsAProvenPassword: the owners' break-glass never lets in
// a password another account set (review finding R1).
func TestBreakGlassNeedsAProvenPassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		evil, bee := mustAccount(t, svc, "evil"), mustAccount(t, svc, "bee", "b.example")
		connection(t, svc, bee.ID, "okta", directory.JITCreate)
		// Planted in a domain nobody verified, then bee owns it.
		ceo := addWithPassword(t, svc, evil.ID, "ceo@c.example", "evil knows this one")
		if _, err := svc.AddUser(ctx, bee.ID, operator, directory.NewUser{Email: "ceo@c.example", FirstName: "C", LastName: "E", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true, BreakGlassOwners: true}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.StartSession(ctx, ceo.ID, bee.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("break-glass with a planted password: %v; want Forbidden", err)
		}
	})
}

// TestIdentityProviderPeopleSignInThroughIt: a person whom the home
// account's identity provider brought in (SCIM, an SSO login) cannot open
// that account with a password, even one they proved elsewhere: a leaver
// disabled only at the provider must not keep access (review finding R3).
func TestIdentityProviderPeopleSignInThroughIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		bee, other := mustAccount(t, svc, "bee", "b.example"), mustAccount(t, svc, "other")
		c := connection(t, svc, bee.ID, "okta", directory.JITCreate)
		_, tok, err := svc.CreateSCIMToken(ctx, bee.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		created, err := svc.CreateSCIMUser(ctx, bee.ID, tok, scimInput("p@b.example", "p@b.example", "1", "P", "Q", true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, other.ID, operator, directory.NewUser{Email: "p@b.example", FirstName: "P", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		// other's admin added p without a password: a reset sets one, for other.
		proveAddress(t, svc, "p@b.example", "a passphrase of their own")
		in, err := svc.SignIn(ctx, "p@b.example", "a passphrase of their own", directory.Client{Addr: "192.0.2.1"})
		if err != nil || len(in.Accounts) != 1 || in.Accounts[0].ID != other.ID {
			t.Errorf("password sign-in offers %v, %v; want other only", in.Accounts, err)
		}
		if _, _, err := svc.StartSession(ctx, created.Membership.UserID, bee.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("a password session in bee: %v; want Forbidden", err)
		}
		if _, _, err := svc.StartSession(ctx, created.Membership.UserID, bee.ID, directory.BySSO(c)); err != nil {
			t.Errorf("bee's own SSO: %v", err)
		}
	})
}

// TestPasswordChangesDoNotUndoAReset: a change made with a password that
// was replaced meanwhile (by the address owner's reset) is refused, and a
// person without a password gets a clear answer (review findings R10, R9).
func TestPasswordChangesDoNotUndoAReset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "alpha")
		u := addWithPassword(t, svc, a.ID, "pat@example.com", "an initial passphrase")
		tok, _, err := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		stale, err := svc.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "pat@example.com", "the owner's own passphrase")
		if _, _, err := svc.ChangePassword(ctx, stale, "an initial passphrase", "the attacker's next one"); directory.KindOf(err) == directory.Internal || err == nil {
			t.Fatalf("a change over a replaced password: %v; want refused", err)
		}
		if _, err := svc.SignIn(ctx, "pat@example.com", "the owner's own passphrase", directory.Client{Addr: "192.0.2.1"}); err != nil {
			t.Errorf("the owner's password after the refused change: %v", err)
		}
		stale.User.PasswordHash = ""
		if _, _, err := svc.ChangePassword(ctx, stale, "", "whatever it is now"); directory.KindOf(err) != directory.Invalid {
			t.Errorf("change without a password: %v; want Invalid", err)
		}
	})
}

// TestUnusableAddressesAreNobodys: NUL bytes and invalid UTF-8 in a typed
// address are answered like an unknown address, not with a database error
// (review finding R7).
func TestUnusableAddressesAreNobodys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		for _, bad := range []string{"a\x00@b.example", "a@b\x00.example", "\xff@b.example"} {
			if _, err := svc.SignIn(ctx, bad, "x", directory.Client{Addr: "192.0.2.1"}); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("SignIn(%q): %v; want Unauthenticated", bad, err)
			}
			if err := svc.RequestPasswordReset(ctx, bad); err != nil {
				t.Errorf("RequestPasswordReset(%q): %v", bad, err)
			}
			if _, _, err := svc.ConnectionForDomainOf(ctx, bad); directory.KindOf(err) != directory.NotFound {
				t.Errorf("ConnectionForDomainOf(%q): %v; want NotFound", bad, err)
			}
		}
	})
}

// TestResetMailIsNotBrandedByTitle: without a home account or a choice,
// the account the person joined first brands their mail, not the one whose
// name sorts first (review finding R4).
func TestResetMailIsNotBrandedByTitle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		first := mustAccount(t, svc, "zulu")
		addWithPassword(t, svc, first.ID, "pat@gmail.example", "pat's own passphrase")
		proveAddress(t, svc, "pat@gmail.example", "pat's own passphrase")
		aaa := mustAccount(t, svc, "aaa") // "AAA" sorts first
		if _, err := svc.AddUser(ctx, aaa.ID, operator, directory.NewUser{Email: "pat@gmail.example", FirstName: "P", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		if err := svc.RequestPasswordReset(ctx, "pat@gmail.example"); err != nil {
			t.Fatal(err)
		}
		msgs, err := svc.ClaimMail(ctx, 10)
		if err != nil || len(msgs) != 1 || msgs[0].AccountID != first.ID {
			t.Fatalf("reset mail = %+v, %v; want one, branded as zulu", msgs, err)
		}
	})
}
