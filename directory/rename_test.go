package directory_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// publishedSince publishes what is pending and returns the events after
// cursor, of every account, with the cursor to read on from.
func publishedSince(t *testing.T, svc *directory.Service, cursor int64) ([]directory.Event, int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.PublishEvents(ctx, 10000); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.Events(ctx, "", cursor, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		cursor = max(cursor, ev.Seq)
	}
	return evs, cursor
}

// renameSeen is a user.updated event as an account receives it.
type renameSeen struct {
	Actor     directory.EventActor
	UserID    string
	FirstName string
	LastName  string
}

// renamesByAccount reads the user.updated events of evs, by account.
func renamesByAccount(t *testing.T, evs []directory.Event) map[string][]renameSeen {
	t.Helper()
	out := map[string][]renameSeen{}
	for _, ev := range evs {
		if ev.Type != directory.EventUserUpdated {
			continue
		}
		var d struct {
			UserID    string `json:"user_id"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		out[ev.Account] = append(out[ev.Account], renameSeen{Actor: ev.Actor, UserID: d.UserID, FirstName: d.FirstName, LastName: d.LastName})
	}
	return out
}

// TestRenameIsToldToEveryAccountOfThePerson: a person is one user across
// their accounts, so a change of their name, whichever door it comes
// through, is a user.updated in every account where they hold a
// membership (active, deactivated or invited, as each account's member
// list shows the name), and in no other account (one whose invitation was
// revoked, one that never knew them). The account the change came through
// is told who made it; the others only what kind of actor it was, unless
// it was the person.
func TestRenameIsToldToEveryAccountOfThePerson(t *testing.T) {
	t.Parallel()
	// world is the person ada@acme.example, provisioned by SCIM in acme (the
	// account that verified acme.example), and the accounts around her.
	type world struct {
		svc                                           *directory.Service
		acme, globex, initech, hooli, umbrella, wayne directory.Account
		tok                                           directory.SCIMToken
		conn                                          directory.Connection
		ada                                           directory.SCIMUser
	}
	cases := []struct {
		name string
		// rename changes Ada's name to Ada King; it returns the account the
		// change came through and the actor that account is told of.
		rename func(t *testing.T, w world) (directory.Account, directory.EventActor)
	}{
		{"the person on /me", func(t *testing.T, w world) (directory.Account, directory.EventActor) {
			ctx := context.Background()
			token, _, err := w.svc.StartSession(ctx, w.ada.Membership.UserID, w.acme.ID, directory.BySSO(w.conn))
			if err != nil {
				t.Fatal(err)
			}
			v, err := w.svc.Authenticate(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.UpdateName(ctx, v, "Ada", "King"); err != nil {
				t.Fatal(err)
			}
			return w.acme, directory.EventActor{Type: "person", ID: w.ada.Membership.UserID, Name: "ada@acme.example"}
		}},
		{"an SSO login to the home account", func(t *testing.T, w world) (directory.Account, directory.EventActor) {
			if _, err := w.svc.SignInWithSSO(context.Background(), w.conn, directory.Identity{Email: "ada@acme.example", FirstName: "Ada", LastName: "King"}); err != nil {
				t.Fatal(err)
			}
			return w.acme, directory.EventActor{Type: "sso_connection", ID: w.conn.ID, Name: w.conn.Name}
		}},
		{"a SCIM replace by the home account", func(t *testing.T, w world) (directory.Account, directory.EventActor) {
			if _, err := w.svc.ReplaceSCIMUser(context.Background(), w.acme.ID, w.tok, w.ada.Membership.ID, scimInput("ada", "ada@acme.example", "ext-ada", "Ada", "King", true), directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
			return w.acme, directory.EventActor{Type: "scim_token", ID: w.tok.ID, Name: w.tok.Name}
		}},
		{"a SCIM create by the home account of a person it had deleted", func(t *testing.T, w world) (directory.Account, directory.EventActor) {
			ctx := context.Background()
			if err := w.svc.DeleteSCIMUser(ctx, w.acme.ID, w.tok, w.ada.Membership.ID, directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.CreateSCIMUser(ctx, w.acme.ID, w.tok, scimInput("ada", "ada@acme.example", "ext-ada", "Ada", "King", true)); err != nil {
				t.Fatal(err)
			}
			return w.acme, directory.EventActor{Type: "scim_token", ID: w.tok.ID, Name: w.tok.Name}
		}},
		{"the person accepting an invitation", func(t *testing.T, w world) (directory.Account, directory.EventActor) {
			// Ada has no password (SCIM brought her): hooli's invitation
			// asks her name and a password.
			if _, err := w.svc.AcceptInvitation(context.Background(), linkOf(t, w.svc, "ada@acme.example"), directory.Acceptance{FirstName: "Ada", LastName: "King", Password: "ada's own passphrase"}); err != nil {
				t.Fatal(err)
			}
			return w.hooli, directory.EventActor{Type: "person", ID: w.ada.Membership.UserID, Name: "ada@acme.example"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				svc, _ := newClockService(t, s)
				w := world{svc: svc, acme: mustAccount(t, svc, "acme", "acme.example"), globex: mustAccount(t, svc, "globex"),
					initech: mustAccount(t, svc, "initech"), hooli: mustAccount(t, svc, "hooli"), umbrella: mustAccount(t, svc, "umbrella"), wayne: mustAccount(t, svc, "wayne")}
				var err error
				if _, w.tok, err = svc.CreateSCIMToken(ctx, w.acme.ID, operator, "Okta production"); err != nil {
					t.Fatal(err)
				}
				w.conn = connection(t, svc, w.acme.ID, "okta", directory.JITCreate, "acme.example")
				if w.ada, err = svc.CreateSCIMUser(ctx, w.acme.ID, w.tok, scimInput("ada", "ada@acme.example", "ext-ada", "Ada", "Lovelace", true)); err != nil {
					t.Fatal(err)
				}
				for _, a := range []directory.Account{w.globex, w.initech} {
					if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Not", LastName: "Hers"}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := svc.Deactivate(ctx, w.initech.ID, operator, "ada@acme.example"); err != nil {
					t.Fatal(err)
				}
				for _, a := range []directory.Account{w.umbrella, w.hooli} {
					if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "ada@acme.example"}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := svc.Revoke(ctx, w.umbrella.ID, operator, "ada@acme.example"); err != nil {
					t.Fatal(err)
				}
				_, cursor := publishedSince(t, svc, 0)

				via, actor := tc.rename(t, w)

				evs, _ := publishedSince(t, svc, cursor)
				elsewhere := directory.EventActor{Type: actor.Type}
				if actor.Type == "person" {
					elsewhere = actor
				}
				told := func(a directory.EventActor) []renameSeen {
					return []renameSeen{{Actor: a, UserID: w.ada.Membership.UserID, FirstName: "Ada", LastName: "King"}}
				}
				want := map[string][]renameSeen{}
				for _, a := range []directory.Account{w.acme, w.globex, w.initech, w.hooli} {
					want[a.ID] = told(elsewhere)
				}
				want[via.ID] = told(actor)
				slugs := map[string]string{}
				for _, a := range []directory.Account{w.acme, w.globex, w.initech, w.hooli, w.umbrella, w.wayne} {
					slugs[a.ID] = a.Slug
				}
				bySlug := func(m map[string][]renameSeen) map[string][]renameSeen {
					out := map[string][]renameSeen{}
					for id, r := range m {
						out[slugs[id]] = r
					}
					return out
				}
				if diff := cmp.Diff(bySlug(want), bySlug(renamesByAccount(t, evs))); diff != "" {
					t.Errorf("user.updated by account (-want +got):\n%s", diff)
				}
				// Each account's audit trail has the change too.
				for _, a := range []directory.Account{w.acme, w.globex, w.initech, w.hooli} {
					got := auditActions(t, svc, a.ID)
					if !slices.Contains(got, "user.updated") && !slices.Contains(got, "user.name_changed") {
						t.Errorf("%s's audit trail = %v; want the rename", a.Slug, got)
					}
				}
			})
		})
	}
}

// TestAcceptingAnInvitationAnnouncesTheName: the invitation's user.created
// had no name (or the admin's); the name the person gives is announced,
// before the acceptance, so that a receiver never keeps an empty name. A
// name that does not change says nothing.
func TestAcceptingAnInvitationAnnouncesTheName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		invited     directory.NewInvitation // the email is nia@example.com
		first, last string
		want        []string
	}{
		{"no name given by the admin", directory.NewInvitation{}, "Nia", "Oduya", []string{
			"user.created", "membership.created", "invitation.sent",
			"user.updated", "invitation.accepted", "membership.activated",
		}},
		{"another name than the admin's", directory.NewInvitation{FirstName: "Nia", LastName: "Ng"}, "Nia", "Oduya", []string{
			"user.created", "membership.created", "invitation.sent",
			"user.updated", "invitation.accepted", "membership.activated",
		}},
		{"the admin's name confirmed", directory.NewInvitation{FirstName: "Nia", LastName: "Oduya"}, " Nia ", "Oduya", []string{
			"user.created", "membership.created", "invitation.sent",
			"invitation.accepted", "membership.activated",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				svc, _ := newClockService(t, s)
				a := mustAccount(t, svc, "acme")
				mustAccount(t, svc, "globex")
				in := tc.invited
				in.Email = "nia@example.com"
				if _, err := svc.Invite(ctx, a.ID, operator, in); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.AcceptInvitation(ctx, linkOf(t, svc, "nia@example.com"), directory.Acceptance{FirstName: tc.first, LastName: tc.last, Password: "violet staple orbit lantern"}); err != nil {
					t.Fatal(err)
				}
				evs, _ := publishedSince(t, svc, 0)
				var types []string
				for _, ev := range evs {
					if ev.Account != a.ID {
						t.Errorf("%s went to account %s; want acme's only (nia belongs to no other)", ev.Type, ev.Account)
					}
					types = append(types, ev.Type)
				}
				if diff := cmp.Diff(tc.want, types); diff != "" {
					t.Errorf("feed (-want +got):\n%s", diff)
				}
				for _, ev := range evs {
					if ev.Type != directory.EventUserUpdated {
						continue
					}
					var d map[string]any
					if err := json.Unmarshal(ev.Data, &d); err != nil {
						t.Fatal(err)
					}
					if d["first_name"] != "Nia" || d["last_name"] != "Oduya" || ev.Actor.Type != "person" {
						t.Errorf("user.updated = %s by %+v; want Nia Oduya by the person", ev.Data, ev.Actor)
					}
				}
			})
		})
	}
}

// TestSameNameAgainSaysNothing: user.updated means the name changed; the
// /me form sent again with the name as it is announces nothing.
func TestSameNameAgainSaysNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "one password for all")
		token, _, err := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.Authenticate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		_, cursor := publishedSince(t, svc, 0)
		for _, name := range [][2]string{{"F", "L"}, {" F", "L "}} {
			got, err := svc.UpdateName(ctx, v, name[0], name[1])
			if err != nil || got.FirstName != "F" || got.LastName != "L" {
				t.Fatalf("update name to %q: %+v, %v", name, got, err)
			}
		}
		if evs, _ := publishedSince(t, svc, cursor); len(evs) != 0 {
			t.Errorf("events after the same name twice = %d (%s); want none", len(evs), evs[0].Type)
		}
		if got := auditActions(t, svc, a.ID); slices.Contains(got, "user.name_changed") {
			t.Errorf("audit = %v; want no name change", got)
		}
		if _, err := svc.UpdateName(ctx, v, "F", "Lee"); err != nil {
			t.Fatal(err)
		}
		if evs, _ := publishedSince(t, svc, cursor); len(evs) != 1 || evs[0].Type != directory.EventUserUpdated {
			t.Errorf("events after a new name = %v; want one user.updated", evs)
		}
	})
}
