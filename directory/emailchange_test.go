package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestHomeAccountChangesTheEmail: when the identity provider of the
// account that verified a person's domain renames their address (Okta or
// Entra ID after a marriage or a rebrand), the person's own address
// changes, in every account, if the account verified the new address's
// domain too; the next single sign-on with the new address then finds the
// same person instead of making a second. Anything else leaves the
// person's address as it was (rule 10) and keeps the new one in the
// account's SCIM profile only; an address another person has is a
// Conflict that changes nothing.
func TestHomeAccountChangesTheEmail(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// via is the account whose SCIM sends the change ("acme", the home
		// account, or "globex"); from is the person's address before it.
		via, from, to string
		want          string // the person's address afterwards; "" for a Conflict
	}{
		{"the home account, to a domain it verified", "acme", "ada@acme.example", "ada.king@acme.example", "ada.king@acme.example"},
		{"the home account, to its other verified domain", "acme", "ada@acme.example", "ada@acme-group.example", "ada@acme-group.example"},
		{"the home account, the same address in other letters", "acme", "ada@acme.example", "Ada.Lovelace@acme.example", "Ada.Lovelace@acme.example"},
		{"the home account, to a domain it does not hold", "acme", "ada@acme.example", "ada@gmail.example", "ada@acme.example"},
		{"the home account, to a domain another account verified", "acme", "ada@acme.example", "ada@globex.example", "ada@acme.example"},
		{"the home account, to another person's address", "acme", "ada@acme.example", "bob@acme.example", ""},
		{"an account that is not the home, to the home's domain", "globex", "ada@acme.example", "ada.king@acme.example", "ada@acme.example"},
		{"an account, of a person in a domain nobody verified", "acme", "ada@unverified.example", "ada@acme.example", "ada@unverified.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				svc, _ := newClockService(t, s)
				acme, globex := mustAccount(t, svc, "acme", "acme.example", "acme-group.example"), mustAccount(t, svc, "globex", "globex.example")
				conn := connection(t, svc, acme.ID, "okta", directory.JITCreate, "acme.example", "acme-group.example")
				members := map[string]directory.SCIMUser{}
				tokens := map[string]directory.SCIMToken{}
				for _, a := range []directory.Account{acme, globex} {
					_, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
					if err != nil {
						t.Fatal(err)
					}
					tokens[a.Slug] = tok
					if members[a.Slug], err = svc.CreateSCIMUser(ctx, a.ID, tok, scimInput("ada", tc.from, "ext-ada", "Ada", "Lovelace", true)); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := svc.CreateSCIMUser(ctx, acme.ID, tokens["acme"], scimInput("bob", "bob@acme.example", "ext-bob", "Bob", "B", true)); err != nil {
					t.Fatal(err)
				}
				_, cursor := publishedSince(t, svc, 0)
				before := members[tc.via]

				got, err := svc.ReplaceSCIMUser(ctx, s2a(tc.via, acme, globex).ID, tokens[tc.via], before.Membership.ID, scimInput("ada", tc.to, "ext-ada", "Ada", "Lovelace", true), directory.IfVersion{})

				if tc.want == "" {
					if directory.KindOf(err) != directory.Conflict {
						t.Fatalf("err = %v; want a Conflict", err)
					}
					after, err := svc.SCIMUser(ctx, acme.ID, before.Membership.ID)
					if err != nil {
						t.Fatal(err)
					}
					if after.Email != tc.from || after.Version != before.Version || after.Profile.Email != tc.from {
						t.Errorf("after a refused change: email %s, profile %s, version %d; want %s, %s, %d (nothing changed)", after.Email, after.Profile.Email, after.Version, tc.from, tc.from, before.Version)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.Email != tc.want || got.Profile.Email != tc.to {
					t.Errorf("answer: email %s, profile email %s; want %s, %s", got.Email, got.Profile.Email, tc.want, tc.to)
				}
				// Every account of the person lists them by their address.
				for _, a := range []directory.Account{acme, globex} {
					if _, err := svc.Member(ctx, a.ID, tc.want); err != nil {
						t.Errorf("%s: member %s: %v", a.Slug, tc.want, err)
					}
					page, err := svc.ListMembers(ctx, a.ID, tc.want, "", 10)
					if err != nil || len(page.Members) != 1 || page.Members[0].User.Email != tc.want {
						t.Errorf("%s: searching %s finds %+v, %v; want the person", a.Slug, tc.want, page.Members, err)
					}
				}
				changed := tc.want != tc.from
				evs, _ := publishedSince(t, svc, cursor)
				told := map[string]string{}
				for _, ev := range evs {
					if ev.Type != directory.EventUserUpdated {
						continue
					}
					var d struct {
						UserID string `json:"user_id"`
						Email  string `json:"email"`
					}
					if err := json.Unmarshal(ev.Data, &d); err != nil {
						t.Fatal(err)
					}
					if d.UserID == before.Membership.UserID {
						told[ev.Account] = d.Email
					}
				}
				if changed && (told[acme.ID] != tc.want || told[globex.ID] != tc.want) {
					t.Errorf("user.updated told acme %q, globex %q; want %s to both", told[acme.ID], told[globex.ID], tc.want)
				}
				if !changed && len(told) != 0 {
					t.Errorf("user.updated sent (%v) for an address that did not change", told)
				}
				// The next single sign-on with the new address is the same
				// person (or, when it did not change, is refused or someone
				// else: never the person under two addresses).
				if changed && directory.EmailKey(tc.to) != directory.EmailKey(tc.from) {
					in, err := svc.SignInWithSSO(ctx, conn, directory.Identity{Email: tc.to, FirstName: "Ada", LastName: "Lovelace"})
					if err != nil || in.Member.User.ID != before.Membership.UserID {
						t.Errorf("SSO with %s: %+v, %v; want the same person (%s)", tc.to, in.Member.User, err, before.Membership.UserID)
					}
					if _, err := svc.Member(ctx, acme.ID, tc.from); directory.KindOf(err) != directory.NotFound {
						t.Errorf("the old address %s still finds a member: %v", tc.from, err)
					}
				}
			})
		})
	}
}

// s2a is the account of slug.
func s2a(slug string, accounts ...directory.Account) directory.Account {
	for _, a := range accounts {
		if a.Slug == slug {
			return a
		}
	}
	panic("no account " + slug)
}

// TestSSOFollowsARename: a connection's logins are linked to the person
// by a lasting subject (an OIDC sub, a persistent NameID), so when the
// identity provider renames the address, the next login finds the same
// person and their address follows (within the account's verified
// domains, as for SCIM) instead of making a second person. A transient
// subject links nothing; a subject's newest person replaces the last; an
// address another person has refuses the login and changes nothing.
func TestSSOFollowsARename(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example", "acme-group.example")
		conn := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		login := func(subject string, lasting bool, email string) (directory.SSOSignIn, error) {
			return svc.SignInWithSSO(ctx, conn, directory.Identity{Subject: subject, Lasting: lasting, Email: email, FirstName: "Ada", LastName: "L"})
		}
		first, err := login("00u1ada", true, "ada@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		ada := first.Member.User.ID

		for _, step := range []struct {
			name    string
			subject string
			lasting bool
			email   string
			want    string // the user signed in: "ada", "new", or "" for a refusal
			adaAt   string // Ada's address afterwards
		}{
			{"renamed by the provider", "00u1ada", true, "ada.king@acme.example", "ada", "ada.king@acme.example"},
			{"to the account's other domain", "00u1ada", true, "ada@acme-group.example", "ada", "ada@acme-group.example"},
			{"a transient subject links nothing", "_t1", false, "ada.t@acme.example", "new", "ada@acme-group.example"},
			{"to another person's address", "00u1ada", true, "ada.t@acme.example", "", "ada@acme-group.example"},
			{"the same person under a new subject", "00u9ada", true, "ada@acme-group.example", "ada", "ada@acme-group.example"},
			{"the old subject no longer links", "00u1ada", true, "ada.again@acme.example", "new", "ada@acme-group.example"},
		} {
			in, err := login(step.subject, step.lasting, step.email)
			switch {
			case step.want == "" && directory.KindOf(err) != directory.Forbidden:
				t.Errorf("%s: %+v, %v; want the login refused", step.name, in.Member.User, err)
			case step.want == "ada" && (err != nil || in.Member.User.ID != ada || in.Member.User.Email != step.email):
				t.Errorf("%s: %+v, %v; want Ada at %s", step.name, in.Member.User, err, step.email)
			case step.want == "new" && (err != nil || in.Member.User.ID == ada):
				t.Errorf("%s: %+v, %v; want another person", step.name, in.Member.User, err)
			}
			m, err := svc.Member(ctx, acme.ID, step.adaAt)
			if err != nil || m.User.ID != ada {
				t.Errorf("%s: afterwards %s is %+v, %v; want Ada", step.name, step.adaAt, m.User, err)
			}
		}
		if n, err := svc.CountMembers(ctx, acme.ID, ""); err != nil || n != 3 {
			t.Errorf("%d members, %v; want 3: Ada, the transient login and the login after the old subject was replaced", n, err)
		}
	})
}

// TestRenameReaddressesOpenInvitations: another account's open invitation
// of a renamed person follows them to their new address. It was kept
// under the old one, so a resend (found by the new address, or by the
// invitation as the API and console list it) mailed the link to the old
// address, and whoever holds that address now (the new hire given it)
// accepted as the renamed person, chose their password and signed in to
// every account of theirs. An invitation mail still queued for the old
// address is not sent.
func TestRenameReaddressesOpenInvitations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, acme, globex, tok, ada := renameWorld(t, s, true)
		if _, err := svc.Invite(ctx, globex.ID, operator, directory.NewInvitation{Email: "ada@acme.example"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, ada.Membership.ID, scimInput("ada.king@acme.example", "ada.king@acme.example", "ext-ada", "Ada", "King", true), directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		// The address is free again: acme gives it to a new hire.
		if _, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput("ada@acme.example", "ada@acme.example", "ext-ada2", "Ada", "Newhire", true)); err != nil {
			t.Fatal(err)
		}

		// The rename sent the invitation again, to the new address (queued
		// in the same instant as the first: in either order).
		queued, err := svc.ClaimMail(ctx, 10)
		if err != nil || len(queued) != 2 {
			t.Fatalf("queued mail: %+v, %v; want the first invitation and one to ada.king@acme.example", queued, err)
		}
		for _, m := range queued {
			_, err := svc.MailBodyOf(ctx, m)
			switch m.Recipient {
			case "ada@acme.example":
				if directory.KindOf(err) != directory.Gone {
					t.Errorf("the invitation queued for %s before the rename: %v; want Gone (not sent)", m.Recipient, err)
				}
			case "ada.king@acme.example":
				if err != nil {
					t.Errorf("the invitation sent again to %s: %v", m.Recipient, err)
				}
			default:
				t.Errorf("mail queued for %s", m.Recipient)
			}
		}

		invs, err := svc.Invitations(ctx, globex.ID)
		if err != nil || len(invs) != 1 || invs[0].Email != "ada.king@acme.example" {
			t.Fatalf("globex's invitations: %+v, %v; want one, to ada.king@acme.example", invs, err)
		}
		// The API and console resend by the invitation's address.
		if _, err := svc.Resend(ctx, globex.ID, operator, invs[0].Email, 0); err != nil {
			t.Fatalf("resend: %v", err)
		}
		sent, err := svc.ClaimMail(ctx, 10)
		if err != nil || len(sent) != 1 || sent[0].Recipient != "ada.king@acme.example" {
			t.Fatalf("the resent invitation: %+v, %v; want one mail, to ada.king@acme.example", sent, err)
		}
		if _, err := svc.MailBodyOf(ctx, sent[0]); err != nil {
			t.Errorf("the resent invitation cannot be rendered: %v", err)
		}
	})
}

// TestReaddressEndsTheOldLink: an invitation mailed to an address that
// was then corrected (an admin's typo, or a rename at the company) went on
// accepting as the person through the link the old address got, whoever
// reads that mailbox: they chose the person's password. The correction
// sends the invitation again, to the new address, with a new link; the
// old one opens nothing.
func TestReaddressEndsTheOldLink(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, acme, globex, tok, ada := renameWorld(t, s, true)
		if _, err := svc.Invite(ctx, globex.ID, operator, directory.NewInvitation{Email: "ada@acme.example"}); err != nil {
			t.Fatal(err)
		}
		old := linkOf(t, svc, "ada@acme.example")
		if _, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, ada.Membership.ID, scimInput("ada.king@acme.example", "ada.king@acme.example", "ext-ada", "Ada", "King", true), directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.OpenInvitationLink(ctx, old); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the link mailed to the old address: %v; want NotFound", err)
		}
		fresh := linkOf(t, svc, "ada.king@acme.example")
		if link, err := svc.OpenInvitationLink(ctx, fresh); err != nil || link.Invitation.Email != "ada.king@acme.example" {
			t.Errorf("the link mailed to the new address: %+v, %v; want the invitation", link, err)
		}
	})
}

// TestAdminsDoNotRenameAPersonOfOtherAccounts: the home account's admins
// (an API key, which has no single sign-on to use) may not change the
// address of a person who also belongs to another account (rule 4). The
// key holder renamed ada to a mailbox they read (their own address with a
// +tag), had her password reset link mailed there, chose her password and
// signed in to globex as her: a password of a person of another account,
// set by an admin, which no single sign-on of the key's gave it. A person
// of the home account alone may still be renamed, and names still change.
func TestAdminsDoNotRenameAPersonOfOtherAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, acme, globex, tok, ada := renameWorld(t, s, true)
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L"}); err != nil {
			t.Fatal(err)
		}
		lone, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput("lin@acme.example", "lin@acme.example", "ext-lin", "Lin", "Po", true))
		if err != nil {
			t.Fatal(err)
		}
		adm := keyAdmin(t, svc, acme)
		str := func(s string) *string { return &s }

		_, err = svc.ChangePerson(ctx, adm, ada.Membership.ID, directory.PersonChange{Email: str("eve+ada@acme.example")})
		if err == nil {
			// The attack the rule stops, carried on to show what it gave.
			if err := svc.RequestPasswordReset(ctx, "eve+ada@acme.example"); err != nil {
				t.Fatal(err)
			}
			msgs, _ := svc.ClaimMail(ctx, 10)
			for _, m := range msgs {
				body, err := svc.MailBodyOf(ctx, m)
				if err != nil || m.Kind != directory.MailPasswordReset {
					continue
				}
				if _, err := svc.CompletePasswordReset(ctx, body.Token, "chosen by the key holder 7!"); err != nil {
					t.Fatal(err)
				}
				in, err := svc.SignIn(ctx, "eve+ada@acme.example", "chosen by the key holder 7!", directory.Client{})
				t.Errorf("the key renamed ada, who belongs to globex too, to a mailbox its holder reads; then a reset let them sign in as her to %d accounts (%v)", len(in.Accounts), err)
			}
			t.Fatalf("the key changed the address of a person of another account; want Forbidden")
		}
		if directory.KindOf(err) != directory.Forbidden {
			t.Fatalf("renaming a person of another account: %v; want Forbidden", err)
		}
		if m, err := svc.Member(ctx, globex.ID, "ada@acme.example"); err != nil || m.User.ID != ada.Membership.UserID {
			t.Errorf("after the refusal globex finds %+v, %v; want ada unchanged", m.User, err)
		}
		// Her name is still the home account's to change.
		if got, err := svc.ChangePerson(ctx, adm, ada.Membership.ID, directory.PersonChange{LastName: str("King")}); err != nil || got.User.LastName != "King" {
			t.Errorf("renaming her last name: %+v, %v", got.User, err)
		}
		// A person of acme alone: the admin could set their password anyway.
		if got, err := svc.ChangePerson(ctx, adm, lone.Membership.ID, directory.PersonChange{Email: str("lin.po@acme.example")}); err != nil || got.User.Email != "lin.po@acme.example" {
			t.Errorf("renaming a person of acme alone: %+v, %v", got.User, err)
		}
	})
}

// TestRenameFreesTheOldUserName: in the accounts whose identity provider
// never named the person otherwise, their SCIM userName and email are the
// address they had when they joined; a rename takes them along. Left
// behind, the old address still named the renamed person there: SCIM's
// userName eq found them for it (an identity provider matching the new
// holder of that address by userName took over the wrong person's
// membership), and adding the new holder was "already a member".
func TestRenameFreesTheOldUserName(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, acme, globex, tok, ada := renameWorld(t, s, true)
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, ada.Membership.ID, scimInput("ada.king@acme.example", "ada.king@acme.example", "ext-ada", "Ada", "King", true), directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		eq := func(f directory.FilterField, v string) []string {
			t.Helper()
			page, err := svc.ListSCIMUsers(ctx, globex.ID, &directory.Filter{Op: directory.OpEq, Field: f, Value: v}, 1, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, u := range page.Users {
				ids = append(ids, u.Membership.UserID)
			}
			return ids
		}
		for _, f := range []directory.FilterField{directory.FieldUserName, directory.FieldEmail} {
			if got := eq(f, "ada@acme.example"); len(got) != 0 {
				t.Errorf("globex: %s eq the old address finds %v; want nobody", f, got)
			}
			if got := eq(f, "ada.king@acme.example"); len(got) != 1 || got[0] != ada.Membership.UserID {
				t.Errorf("globex: %s eq the new address finds %v; want ada (%s)", f, got, ada.Membership.UserID)
			}
		}
		// The old address is given to a new hire, whom globex adds too.
		if _, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput("ada@acme.example", "ada@acme.example", "ext-ada2", "Ada", "Newhire", true)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "N"}); err != nil {
			t.Errorf("globex adds the new holder of the old address: %v", err)
		}
	})
}

// TestSCIMReaddressesAPersonOfOtherAccountsOnlyUnderItsSSO: the home
// account's SCIM changes the address of a person who belongs to other
// accounts too only when its single sign-on serves the new address's
// domain (it then signs them in to those accounts anyway). A SCIM token
// alone (a provisioning tool with no sign-in) could otherwise give them an
// address its holder reads, have the reset link mailed there, and hold the
// password of every account of theirs (rule 4). A person of the home
// account alone is readdressed either way.
func TestSCIMReaddressesAPersonOfOtherAccountsOnlyUnderItsSSO(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		elsewhere, sso bool
		want           string
	}{
		{"alone, no SSO", false, false, "ada.king@acme.example"},
		{"of another account too, no SSO", true, false, "ada@acme.example"},
		{"of another account too, SSO serving the domain", true, true, "ada.king@acme.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				svc, acme, globex, tok, ada := renameWorld(t, s, tc.sso)
				if tc.elsewhere {
					if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L"}); err != nil {
						t.Fatal(err)
					}
				}
				got, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, ada.Membership.ID, scimInput("ada", "ada.king@acme.example", "ext-ada", "Ada", "L", true), directory.IfVersion{})
				if err != nil {
					t.Fatal(err)
				}
				if got.Email != tc.want || got.Profile.Email != "ada.king@acme.example" {
					t.Errorf("the person is at %s (profile %s); want %s", got.Email, got.Profile.Email, tc.want)
				}
			})
		})
	}
}

// TestResetLinkEndsWithARename: a reset link mailed to the person's old
// address stops working once the address changes (the old address may be
// given to someone else), and says why; one mailed to the new address
// works.
func TestResetLinkEndsWithARename(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L", Password: "a first passphrase of hers"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.RequestPasswordReset(ctx, "ada@acme.example"); err != nil {
			t.Fatal(err)
		}
		old := resetLinkOf(t, svc, "ada@acme.example")
		if _, err := svc.OpenResetLink(ctx, old); err != nil {
			t.Fatalf("the link before the rename: %v", err)
		}
		adm := keyAdmin(t, svc, acme)
		renamed := "ada.king@acme.example"
		if _, err := svc.ChangePerson(ctx, adm, added.Member.Membership.ID, directory.PersonChange{Email: &renamed}); err != nil {
			t.Fatal(err)
		}
		const want = "This password reset link no longer works: your email address changed after it was sent. Ask for a new one from the sign-in page."
		if _, err := svc.OpenResetLink(ctx, old); directory.KindOf(err) != directory.Gone || directory.Message(err) != want {
			t.Errorf("the old address's link: %v; want Gone: %s", err, want)
		}
		if _, err := svc.CompletePasswordReset(ctx, old, "whoever holds the old address"); directory.KindOf(err) != directory.Gone {
			t.Errorf("completing the old address's link: %v; want Gone", err)
		}
		if err := svc.RequestPasswordReset(ctx, renamed); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CompletePasswordReset(ctx, resetLinkOf(t, svc, renamed), "her new passphrase indeed"); err != nil {
			t.Errorf("the new address's link: %v", err)
		}
	})
}

// renameWorld is acme (acme.example verified, its SSO serving it when
// sso, a SCIM token) and globex (globex.example), and ada@acme.example
// provisioned by acme's SCIM.
func renameWorld(t *testing.T, s *store.Store, sso bool) (*directory.Service, directory.Account, directory.Account, directory.SCIMToken, directory.SCIMUser) {
	t.Helper()
	ctx := context.Background()
	svc, _ := newClockService(t, s)
	acme, globex := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "globex", "globex.example")
	if sso {
		connection(t, svc, acme.ID, "okta", directory.JITOff)
	}
	_, tok, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "idp")
	if err != nil {
		t.Fatal(err)
	}
	ada, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput("ada@acme.example", "ada@acme.example", "ext-ada", "Ada", "Lovelace", true))
	if err != nil {
		t.Fatal(err)
	}
	return svc, acme, globex, tok, ada
}

// TestAdminsDoNotRenameAnOperator: an operator enters every account's
// console, so their address is as much the platform's as a membership of
// another account would make it: the account they sign in through may not
// give them an address its admin or SCIM token holder reads. An admin (not
// an owner: owners are protected, operators were not) of the operator's
// only account renamed them to a mailbox of the admin's, had the reset
// link mailed there, chose the password and signed in as an operator.
func TestAdminsDoNotRenameAnOperator(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, acme, _, tok, ada := renameWorld(t, s, false)
		lin, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "lin@acme.example", FirstName: "Lin", LastName: "Po", Password: "lin's own passphrase 1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"ada@acme.example", "lin@acme.example"} {
			if _, err := svc.AddOperator(ctx, operator, email); err != nil {
				t.Fatal(err)
			}
		}
		adm := keyAdmin(t, svc, acme)
		eve := "eve+lin@acme.example"
		_, err = svc.ChangePerson(ctx, adm, lin.Member.Membership.ID, directory.PersonChange{Email: &eve})
		if err == nil {
			if err := svc.RequestPasswordReset(ctx, eve); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.CompletePasswordReset(ctx, resetLinkOf(t, svc, eve), "chosen by the admin 7!"); err != nil {
				t.Fatal(err)
			}
			in, _ := svc.SignIn(ctx, eve, "chosen by the admin 7!", directory.Client{})
			op, _ := svc.IsOperator(ctx, in.User.ID)
			t.Fatalf("an admin renamed an operator to a mailbox of theirs and reset the password: signed in as them, operator %v; want Forbidden", op)
		}
		if directory.KindOf(err) != directory.Forbidden {
			t.Fatalf("renaming an operator: %v; want Forbidden", err)
		}
		// A SCIM token alone (no single sign-on serving the domain) does
		// not readdress them either.
		got, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, ada.Membership.ID, scimInput("ada", "eve+ada@acme.example", "ext-ada", "Ada", "L", true), directory.IfVersion{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "ada@acme.example" {
			t.Errorf("SCIM readdressed an operator to %s; want ada@acme.example", got.Email)
		}
	})
}

// TestSSORenameStaysInTheConnectionsDomains: a connection limited to some
// of the account's domains signs in nobody outside them (rule 2), and its
// logins' link to a person must not rename them from outside them either.
// labs' provider signed Ada in at acme-labs.example; acme's SCIM then moved
// her to acme.example, which labs may not sign in. labs' next login of the
// same subject at another labs address renamed her there and signed in as
// her: the limit of the connection was gone for anyone it ever linked.
func TestSSORenameStaysInTheConnectionsDomains(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example", "acme-labs.example")
		labs := connection(t, svc, acme.ID, "labs", directory.JITCreate, "acme-labs.example")
		first, err := svc.SignInWithSSO(ctx, labs, directory.Identity{Subject: "00u1ada", Lasting: true, Email: "ada@acme-labs.example", FirstName: "Ada", LastName: "L"})
		if err != nil {
			t.Fatal(err)
		}
		ada := first.Member.User.ID
		adm := keyAdmin(t, svc, acme)
		moved := "ada@acme.example"
		if _, err := svc.ChangePerson(ctx, adm, first.Member.Membership.ID, directory.PersonChange{Email: &moved}); err != nil {
			t.Fatal(err)
		}
		in, err := svc.SignInWithSSO(ctx, labs, directory.Identity{Subject: "00u1ada", Lasting: true, Email: "mallory@acme-labs.example", FirstName: "M", LastName: "X"})
		if err == nil && in.Member.User.ID == ada {
			t.Errorf("labs signed in as Ada (now %s), whom it may not sign in, by renaming her", in.Member.User.Email)
		}
		if m, err := svc.Member(ctx, acme.ID, moved); err != nil || m.User.ID != ada {
			t.Errorf("afterwards %s is %+v, %v; want Ada, unchanged", moved, m.User, err)
		}
	})
}

// TestConcurrentLoginsLinkOnce: logins of one member at once (two tabs, a
// form posted twice; every person's first login after the upgrade has no
// link yet) each sign in, and leave one link: on PostgreSQL the second
// insert of the link broke the unique key and its login failed with a
// Conflict.
func TestConcurrentLoginsLinkOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		conn := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		login := func(subject string) (directory.SSOSignIn, error) {
			return svc.SignInWithSSO(ctx, conn, directory.Identity{Subject: subject, Lasting: true, Email: "ada@acme.example", FirstName: "Ada", LastName: "L"})
		}
		first, err := login("")
		if err != nil {
			t.Fatal(err)
		}
		for _, subjects := range [][]string{{"00u1", "00u1", "00u1", "00u1"}, {"00u2", "00u3", "00u2", "00u3"}} {
			var wg sync.WaitGroup
			errs := make([]error, len(subjects))
			for i, subject := range subjects {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = login(subject)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("login %d of %v at once: %v", i, subjects, err)
				}
			}
		}
		// Whichever subject won, it is Ada's.
		for _, subject := range []string{"00u2", "00u3"} {
			in, err := svc.SignInWithSSO(ctx, conn, directory.Identity{Subject: subject, Lasting: true, Email: "ada@acme.example"})
			if err != nil || in.Member.User.ID != first.Member.User.ID {
				t.Errorf("%s afterwards: %+v, %v; want Ada", subject, in.Member.User, err)
			}
		}
	})
}

// keyAdmin is an admin of the account acting through an API key of its
// (no single sign-on of its own).
func keyAdmin(t *testing.T, svc *directory.Service, a directory.Account) directory.Admin {
	t.Helper()
	return keyAdminOf(t, svc, a.ID, a)
}

// operatorKeyAdmin is an operator acting on the account through an
// operator's API key: it may act on the account's owners.
func operatorKeyAdmin(t *testing.T, svc *directory.Service, a directory.Account) directory.Admin {
	t.Helper()
	return keyAdminOf(t, svc, "", a)
}

// keyAdminOf acts on a through a new API key of keyAccount ("": an
// operator's).
func keyAdminOf(t *testing.T, svc *directory.Service, keyAccount string, a directory.Account) directory.Admin {
	t.Helper()
	ctx := context.Background()
	_, key, err := svc.CreateAPIKey(ctx, keyAccount, operator, "hr sync")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := svc.KeyAdmin(ctx, key, a.Slug)
	if err != nil {
		t.Fatal(err)
	}
	return adm
}

// TestLockoutFollowsTheRenamedPerson: the sign-in lockout is the person's,
// not their address's. A rename neither frees a locked-out person (the
// guesser goes on at the new address with a fresh count) nor hands their
// count to whoever holds the old address next.
func TestLockoutFollowsTheRenamedPerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		const right = "a first passphrase of hers"
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L", Password: right})
		if err != nil {
			t.Fatal(err)
		}
		// Each guess from its own client, so that only the lockout counts.
		for i := range 5 {
			from := directory.Client{Addr: fmt.Sprintf("192.0.2.%d", i+1)}
			if _, err := svc.SignIn(ctx, "ada@acme.example", "a guess", from); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		renamed := "ada.king@acme.example"
		if _, err := svc.ChangePerson(ctx, keyAdmin(t, svc, acme), added.Member.Membership.ID, directory.PersonChange{Email: &renamed}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignIn(ctx, renamed, right, directory.Client{Addr: "198.51.100.1"}); directory.KindOf(err) != directory.Throttled {
			t.Errorf("the locked-out person at the new address: %v; want still Throttled", err)
		}
		if _, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "Other", Password: "the new hire's passphrase"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignIn(ctx, "ada@acme.example", "the new hire's passphrase", directory.Client{Addr: "198.51.100.2"}); err != nil {
			t.Errorf("the old address's next holder: %v; want signed in (the count was not theirs)", err)
		}
	})
}
