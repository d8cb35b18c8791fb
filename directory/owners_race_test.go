package directory_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestSignInBesideAPromotionKeepsTheOwner: Xena signs in through the
// account's SSO (her identity provider sends groups, mapped to a role or
// not) while
// an operator makes her an owner and then demotes Olive, the other owner,
// which the last-owner rule allows: Xena is one now. The sign-in, which
// read her membership (member) before the promotion, wrote its role back
// over it, and the account was left without an owner: a login undid an
// admin's change of role (and, the other way, would give a demoted owner
// the role back). PostgreSQL only (SQLite's writers take turns from BEGIN
// IMMEDIATE). A lock on Xena's user row holds the sign-in between its read
// of the membership and its write.
func TestSignInBesideAPromotionKeepsTheOwner(t *testing.T) {
	s := storetest.Postgres(t)
	for _, mapped := range []bool{false, true} {
		t.Run(map[bool]string{false: "groups not mapped", true: "group mapped to admin"}[mapped], func(t *testing.T) {
			signInBesideAPromotion(t, s, mapped)
		})
	}
}

func signInBesideAPromotion(t *testing.T, s *store.Store, mapped bool) {
	ctx := context.Background()
	svc, _ := newClockService(t, s)
	a := mustAccount(t, svc, map[bool]string{false: "acme", true: "bolt"}[mapped], map[bool]string{false: "acme.example", true: "bolt.example"}[mapped])
	c := connection(t, svc, a.ID, "okta", directory.JITCreate)
	if mapped {
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "staff", directory.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
	}
	domain := a.Slug + ".example"
	olive := addMember(t, svc, a, "olive@"+domain, directory.RoleOwner)
	xena := addMember(t, svc, a, "xena@"+domain, directory.RoleMember)

	hold, err := s.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.Exec(`SELECT id FROM users WHERE id = $1 FOR UPDATE`, xena.User.ID); err != nil {
		t.Fatal(err)
	}
	signedIn := make(chan error, 1)
	go func() {
		_, err := svc.SignInWithSSO(ctx, c, directory.Identity{Email: xena.User.Email, FirstName: "Xena", LastName: "Warrior", Groups: []string{"staff"}})
		signedIn <- err
	}()
	waitLockedN(t, s.DB(), 1) // the sign-in read Xena's membership and waits for her user row
	if _, err := svc.SetRole(ctx, a.ID, operator, xena.User.Email, directory.RoleOwner); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetRole(ctx, a.ID, operator, olive.User.Email, directory.RoleMember); err != nil {
		t.Fatal(err)
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-signedIn; err != nil {
		t.Fatal(err)
	}
	if m := memberOf(t, svc, a, xena.User.Email); m.Membership.Role != directory.RoleOwner {
		t.Errorf("Xena, made owner while she signed in, is %s; want owner (the account's only one)", m.Membership.Role)
	}
	events, err := svc.AuditEvents(ctx, a.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Action == "membership.role_changed" && ev.Actor.Source == directory.SourceSSO {
			t.Errorf("the login recorded a role change it did not make: %s", ev.Data)
		}
	}
}
