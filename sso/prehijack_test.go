package sso_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// plant is the first half of the pre-hijack: while acme has not verified
// example.com, the admin of account evil adds victim@example.com with a
// password they know and signs in with it. Then acme verifies its domain.
// It returns the attacker's session token.
func (w *world) plant(t *testing.T, email string) string {
	t.Helper()
	ctx := context.Background()
	if err := w.svc.RemoveDomain(ctx, w.acme.ID, operator, "example.com"); err != nil {
		t.Fatal(err)
	}
	evil, err := w.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "evil-" + email[:1], Name: "Evil"})
	if err != nil {
		t.Fatal(err)
	}
	added, err := w.svc.AddUser(ctx, evil.ID, operator, directory.NewUser{Email: email, FirstName: "Planted", LastName: "Name", Password: "the attacker knows it"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.SignIn(ctx, email, "the attacker knows it", directory.Client{Addr: "192.0.2.66"}); err != nil {
		t.Fatalf("the attacker signs in: %v", err)
	}
	token, _, err := w.svc.StartSession(ctx, added.Member.User.ID, evil.ID, directory.ByPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AddDomain(ctx, w.acme.ID, operator, "example.com", true); err != nil {
		t.Fatal(err)
	}
	return token
}

// assertHijackFailed: after the person's own login through acme's identity
// provider, the attacker has neither their session nor their password.
func (w *world) assertHijackFailed(t *testing.T, b *browser, email, token, want string) {
	t.Helper()
	ctx := context.Background()
	if got := b.me(); got != want {
		t.Errorf("the person signed in as %q; want %q", got, want)
	}
	if _, err := w.svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
		t.Errorf("the attacker's session: %v; want it ended", err)
	}
	if _, err := w.svc.SignIn(ctx, email, "the attacker knows it", directory.Client{Addr: "192.0.2.66"}); directory.KindOf(err) != directory.Unauthenticated {
		t.Errorf("the attacker's password: %v; want refused", err)
	}
	events, err := w.svc.AuditEvents(ctx, w.acme.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(e directory.AuditEvent) bool { return e.Action == "user.credentials_revoked" }) {
		t.Error("acme's audit trail does not record the revocation")
	}
}

func TestPreHijackBySAML(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		token := w.plant(t, "victim@example.com")
		w.addUser("victim", "victim@example.com", "Vic", "Tim")
		b := w.browser()
		acs, form := b.samlResponse("okta", "victim", "")
		if p := b.post(acs, form); p.status != http.StatusSeeOther {
			t.Fatalf("ACS: %d %s", p.status, p.body)
		}
		w.assertHijackFailed(t, b, "victim@example.com", token, "victim@example.com acme member Vic Tim")
	})
}

func TestPreHijackByOIDC(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		token := w.plant(t, "victim@example.com")
		addUser(p, "victim", "victim@example.com", "Vic", "Tim", true)
		b := w.browser()
		if pg := b.get(b.oidcCallback(p, "zitadel", "victim", "")); pg.status != http.StatusSeeOther {
			t.Fatalf("callback: %d %s", pg.status, pg.body)
		}
		w.assertHijackFailed(t, b, "victim@example.com", token, "victim@example.com acme member Vic Tim")
	})
}
