package directory_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestRemoveFromTheCommandLine: the command line's Remove takes a member
// out as the console's removal does (one body, remove): their sessions and
// app tokens in the account end, their other accounts' stay, an open
// invitation is revoked, and membership.deleted is audited (as the
// command line) and published. Their user stays, even when the account was
// their only one. Refused: the last active owner (Conflict), an unknown
// address and a person who is no member (NotFound).
func TestRemoveFromTheCommandLine(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme, globex := mustAccount(t, svc, "acme"), mustAccount(t, svc, "globex")
		olive := addMember(t, svc, acme, "olive@example.com", directory.RoleOwner)
		pat := addWithPassword(t, svc, acme.ID, "pat@example.com", "one password for all")
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "pat@example.com", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "pat@example.com", "one password for all")
		carl := addMember(t, svc, acme, "carl@example.com", directory.RoleMember)
		addMember(t, svc, globex, "gus@example.com", directory.RoleMember)
		if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: "ivy@example.com"}); err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Told", RedirectURIs: []string{"https://told.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		acmeRefresh, globexRefresh := appTokens(t, svc, app, pat.ID, acme.ID), appTokens(t, svc, app, pat.ID, globex.ID)
		here, there := sessionOf(t, svc, pat.ID, acme.ID), sessionOf(t, svc, pat.ID, globex.ID)
		_, cursor := publishedSince(t, svc, 0)

		for _, tc := range []struct {
			email string
			want  directory.Kind
		}{
			{"olive@example.com", directory.Conflict},
			{"nobody@example.com", directory.NotFound},
			{"gus@example.com", directory.NotFound},
			{"\xff@example.com", directory.NotFound},
		} {
			if _, err := svc.Remove(ctx, acme.ID, operator, tc.email); directory.KindOf(err) != tc.want {
				t.Errorf("remove %s: %v; want %v", tc.email, err, tc.want)
			}
		}
		if m, err := svc.Member(ctx, acme.ID, olive.User.Email); err != nil || m.Membership.Status != directory.StatusActive {
			t.Errorf("the last owner after the refusal: %+v, %v", m.Membership, err)
		}

		m, err := svc.Remove(ctx, acme.ID, operator, "Pat@Example.com")
		if err != nil || m.User.ID != pat.ID {
			t.Fatalf("remove pat: %+v, %v", m, err)
		}
		if _, err := svc.Member(ctx, acme.ID, pat.Email); directory.KindOf(err) != directory.NotFound {
			t.Errorf("pat in acme afterwards: %v; want NotFound", err)
		}
		if _, err := svc.Authenticate(ctx, here); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("pat's acme session afterwards: %v; want it ended", err)
		}
		if _, err := svc.AppRefreshToken(ctx, acmeRefresh); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("pat's acme app token afterwards: %v; want it ended", err)
		}
		if v, err := svc.Authenticate(ctx, there); err != nil || v.Account.ID != globex.ID {
			t.Errorf("pat's globex session afterwards: %v; want it alive", err)
		}
		if _, err := svc.AppRefreshToken(ctx, globexRefresh); err != nil {
			t.Errorf("pat's globex app token afterwards: %v; want it alive", err)
		}
		if _, err := svc.Remove(ctx, acme.ID, operator, pat.Email); directory.KindOf(err) != directory.NotFound {
			t.Errorf("remove pat again: %v; want NotFound (no second event)", err)
		}
		audit := auditOf(t, svc, acme.ID, "membership.deleted")
		var data map[string]any
		if len(audit) != 1 || audit[0].Actor.Source != directory.SourceCLI || audit[0].TargetID != pat.ID || json.Unmarshal(audit[0].Data, &data) != nil || data["email"] != pat.Email {
			t.Errorf("audit of the removal: %+v; want one membership.deleted by the command line", audit)
		}

		// Carl's only account: his user stays, and adding him again only
		// adds a membership. Ivy, invited: her invitation is revoked.
		if _, err := svc.Remove(ctx, acme.ID, operator, carl.User.Email); err != nil {
			t.Fatal(err)
		}
		if u, err := s.FindUserByEmail(ctx, carl.User.Email); err != nil || u.ID != carl.User.ID {
			t.Errorf("carl's user after his only account removed him: %+v, %v; want it kept", u, err)
		}
		if added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: carl.User.Email, FirstName: "C", LastName: "L"}); err != nil || added.NewUser {
			t.Errorf("carl added again: %+v, %v; want his user found", added, err)
		}
		if _, err := svc.Remove(ctx, acme.ID, operator, "ivy@example.com"); err != nil {
			t.Fatal(err)
		}
		evs, _ := publishedSince(t, svc, cursor)
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Type)
		}
		want := []string{directory.EventMembershipDeleted, directory.EventMembershipDeleted, directory.EventMembershipCreated, directory.EventInvitationRevoked, directory.EventMembershipDeleted}
		if len(got) < len(want) || !containsInOrder(got, want) {
			t.Errorf("events published: %v; want %v among them, in order", got, want)
		}
	})
}

// containsInOrder reports whether want is a subsequence of got.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
