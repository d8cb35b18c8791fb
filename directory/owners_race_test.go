package directory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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

// countingStore counts the transactions' LockOwners.
type countingStore struct {
	directory.Store
	locks *atomic.Int32
}

func (c countingStore) Tx(ctx context.Context, fn func(tx directory.Store) error) error {
	return c.Store.Tx(ctx, func(tx directory.Store) error { return fn(countingStore{tx, c.locks}) })
}

func (c countingStore) LockOwners(ctx context.Context, accountID string) ([]string, error) {
	c.locks.Add(1)
	return c.Store.LockOwners(ctx, accountID)
}

// TestOwnersLockedOnlyForAnOwner: a change that may take an owner away
// locks the account's owners only when its member is one. Finding the
// owners reads every active membership of the account (no index has the
// role): in an account of 100,000 members, 100-150 ms on SQLite (under the
// installation's one write lock) and 25-35 ms on PostgreSQL for each
// deactivation, removal or change of role of anyone, 100 of them for a
// bulk action, where reading the one membership takes well under 1 ms.
func TestOwnersLockedOnlyForAnOwner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		locks := &atomic.Int32{}
		svc := directory.NewService(directory.Config{Store: countingStore{s, locks}, Hasher: fastHasher(), Now: time.Now})
		a := mustAccount(t, svc, "acme")
		adm := operatorKeyAdmin(t, svc, a)
		olive := addMember(t, svc, a, "olive@example.com", directory.RoleOwner)
		owen := addMember(t, svc, a, "owen@example.com", directory.RoleOwner)
		ann := addMember(t, svc, a, "ann@example.com", directory.RoleMember)
		bob := addMember(t, svc, a, "bob@example.com", directory.RoleMember)
		for _, tc := range []struct {
			what  string
			do    func() error
			locks int32
		}{
			{"make a member admin", func() error { _, err := svc.ChangeRole(ctx, adm, ann.Membership.ID, directory.RoleAdmin); return err }, 0},
			{"deactivate a member", func() error { _, err := svc.DeactivateMember(ctx, adm, ann.Membership.ID); return err }, 0},
			{"remove a member", func() error { _, err := svc.RemoveMember(ctx, adm, ann.Membership.ID); return err }, 0},
			{"set-role of a member", func() error {
				_, err := svc.SetRole(ctx, a.ID, operator, bob.User.Email, directory.RoleAdmin)
				return err
			}, 0},
			{"deactivate a member (command line)", func() error { _, err := svc.Deactivate(ctx, a.ID, operator, bob.User.Email); return err }, 0},
			{"remove a member (command line)", func() error { _, err := svc.Remove(ctx, a.ID, operator, bob.User.Email); return err }, 0},
			{"demote an owner", func() error { _, err := svc.ChangeRole(ctx, adm, olive.Membership.ID, directory.RoleAdmin); return err }, 1},
			{"deactivate the last owner", func() error {
				_, err := svc.Deactivate(ctx, a.ID, operator, owen.User.Email)
				if directory.KindOf(err) == directory.Conflict {
					return nil
				}
				return fmt.Errorf("%v; want Conflict", err)
			}, 1},
			{"remove the last owner (command line)", func() error {
				_, err := svc.Remove(ctx, a.ID, operator, owen.User.Email)
				if directory.KindOf(err) == directory.Conflict {
					return nil
				}
				return fmt.Errorf("%v; want Conflict", err)
			}, 1},
		} {
			locks.Store(0)
			if err := tc.do(); err != nil {
				t.Errorf("%s: %v", tc.what, err)
			}
			if got := locks.Load(); got != tc.locks {
				t.Errorf("%s locked the owners %d times; want %d", tc.what, got, tc.locks)
			}
		}
	})
}

// TestMadeOwnerBeforeTheLockIsCounted: the member a deactivation reads
// without a lock (no owner: the owners are not locked) is made an owner
// before the deactivation locks them; it locks the owners then, and counts
// them: another is left, so the deactivation goes through. PostgreSQL only
// (SQLite's writers take turns). A transaction holding the membership
// makes the promotion.
func TestMadeOwnerBeforeTheLockIsCounted(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	svc, _ := newClockService(t, s)
	a := mustAccount(t, svc, "acme")
	addMember(t, svc, a, "olive@example.com", directory.RoleOwner)
	xena := addMember(t, svc, a, "xena@example.com", directory.RoleMember)
	hold, err := s.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.Exec(`UPDATE memberships SET role = 'owner' WHERE account_id = $1 AND user_id = $2`, a.ID, xena.User.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := svc.Deactivate(ctx, a.ID, operator, xena.User.Email)
		done <- err
	}()
	waitLockedN(t, s.DB(), 1) // the deactivation read Xena, a member, and waits for her membership
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("deactivate Xena, one of two owners: %v", err)
	}
}
