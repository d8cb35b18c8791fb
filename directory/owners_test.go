package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// wayOut is what every refusal of the last-owner rule tells the admin.
const wayOut = "Make another member an owner first, or delete the account."

// ownerAdmins are the ways an admin reaches an account that may act on
// its owners: an operator in the console, an operator's API key, and the
// command line (no admin: installation-level). An owner in the console
// is an active owner who may not act on themself, so never takes the
// last one away; an account's key is an admin, refused every owner.
type ownerWay struct {
	name string
	// act demotes (to admin), deactivates or removes m.
	act func(a directory.Account, m directory.Member, action string) error
}

func ownerWays(t *testing.T, svc *directory.Service) []ownerWay {
	t.Helper()
	ctx := context.Background()
	ops := mustAccount(t, svc, "ops")
	op := addWithPassword(t, svc, ops.ID, "op@ops.example", "the operator's passphrase")
	if _, err := svc.AddOperator(ctx, operator, op.Email); err != nil {
		t.Fatal(err)
	}
	v, err := svc.Authenticate(ctx, sessionOf(t, svc, op.ID, ops.ID))
	if err != nil {
		t.Fatal(err)
	}
	_, opKey, err := svc.CreateAPIKey(ctx, "", operator, "provisioning")
	if err != nil {
		t.Fatal(err)
	}
	onAdmin := func(adm directory.Admin, m directory.Member, action string) error {
		var err error
		switch action {
		case "demote":
			_, err = svc.ChangeRole(ctx, adm, m.Membership.ID, directory.RoleAdmin)
		case "deactivate":
			_, err = svc.DeactivateMember(ctx, adm, m.Membership.ID)
		case "remove":
			_, err = svc.RemoveMember(ctx, adm, m.Membership.ID)
		}
		return err
	}
	return []ownerWay{
		{"operator in the console", func(a directory.Account, m directory.Member, action string) error {
			adm, err := svc.Console(ctx, v, a.Slug)
			if err != nil || !adm.Operator {
				t.Fatalf("operator's console: %+v, %v", adm, err)
			}
			return onAdmin(adm, m, action)
		}},
		{"operator key", func(a directory.Account, m directory.Member, action string) error {
			adm, err := svc.KeyAdmin(ctx, opKey, a.Slug)
			if err != nil {
				t.Fatal(err)
			}
			return onAdmin(adm, m, action)
		}},
		{"command line", func(a directory.Account, m directory.Member, action string) error {
			var err error
			switch action {
			case "demote":
				_, err = svc.SetRole(ctx, a.ID, operator, m.User.Email, directory.RoleAdmin)
			case "deactivate":
				_, err = svc.Deactivate(ctx, a.ID, operator, m.User.Email)
			case "remove":
				_, err = svc.Remove(ctx, a.ID, operator, m.User.Email)
			}
			return err
		}},
	}
}

// TestLastOwnerStays: no admin's demotion, deactivation or removal leaves
// an account without an active owner (Conflict, naming the way out);
// while another active owner is left, each goes through. A deactivated
// owner or one only invited is no owner to count on.
func TestLastOwnerStays(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		ways := ownerWays(t, svc)
		n, shared := 0, map[string]directory.Account{}
		act := func(t *testing.T, name string, refuse bool, w ownerWay, a directory.Account, action string) {
			t.Helper()
			target := memberOf(t, svc, a, name+"@example.com")
			err := w.act(a, target, action)
			if !refuse {
				if err != nil {
					t.Fatalf("%v; want it done", err)
				}
				return
			}
			if directory.KindOf(err) != directory.Conflict || !strings.Contains(directory.Message(err), wayOut) || !strings.Contains(directory.Message(err), target.User.Email) {
				t.Errorf("%v (kind %v); want a Conflict naming %s and the way out", err, directory.KindOf(err), target.User.Email)
			}
			if after, err := svc.Member(ctx, a.ID, target.User.Email); err != nil || after.Membership.Role != directory.RoleOwner || after.Membership.Status != directory.StatusActive {
				t.Errorf("afterwards: %+v, %v; want an active owner still", after.Membership, err)
			}
		}
		for _, tc := range []struct {
			name   string
			others map[string]directory.Role // email -> role, "-" suffix: deactivated, "?" suffix: invited
			target string
			refuse bool
		}{
			{"the only owner", nil, "olive", true},
			{"beside a deactivated owner", map[string]directory.Role{"dora-": directory.RoleOwner}, "olive", true},
			{"beside an invited owner", map[string]directory.Role{"ivy?": directory.RoleOwner}, "olive", true},
			{"beside admins", map[string]directory.Role{"ann": directory.RoleAdmin}, "olive", true},
			{"beside another active owner", map[string]directory.Role{"otto": directory.RoleOwner}, "olive", false},
			{"a deactivated owner", map[string]directory.Role{"dora-": directory.RoleOwner}, "dora", false},
			{"an admin", map[string]directory.Role{"ann": directory.RoleAdmin}, "ann", false},
		} {
			for _, w := range ways {
				for _, action := range []string{"demote", "deactivate", "remove"} {
					t.Run(fmt.Sprintf("%s/%s/%s", tc.name, w.name, action), func(t *testing.T) {
						// A refusal changes nothing: the ways and actions of
						// a case refused share its account.
						a, ok := shared[tc.name]
						if ok {
							act(t, tc.target, tc.refuse, w, a, action)
							return
						}
						n++
						a = mustAccount(t, svc, fmt.Sprintf("acct%d", n))
						if tc.refuse {
							shared[tc.name] = a
						}
						add := func(name string, role directory.Role) directory.Member {
							t.Helper()
							email := strings.Trim(name, "-?") + "@example.com"
							if strings.HasSuffix(name, "?") {
								if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: email, Role: role}); err != nil {
									t.Fatal(err)
								}
							} else if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "F", LastName: "L", Role: role}); err != nil {
								t.Fatal(err)
							}
							if strings.HasSuffix(name, "-") {
								if _, err := s.SetMembershipStatus(ctx, a.ID, memberOf(t, svc, a, email).User.ID, directory.StatusDeactivated, time.Now().UTC()); err != nil {
									t.Fatal(err)
								}
							}
							return memberOf(t, svc, a, email)
						}
						add("olive", directory.RoleOwner)
						for name, role := range tc.others {
							add(name, role)
						}
						act(t, tc.target, tc.refuse, w, a, action)
					})
				}
			}
		}
	})
}

// memberOf returns the account's member with that email.
func memberOf(t *testing.T, svc *directory.Service, a directory.Account, email string) directory.Member {
	t.Helper()
	m, err := svc.Member(context.Background(), a.ID, email)
	if err != nil {
		t.Fatalf("member %s: %v", email, err)
	}
	return m
}

// TestLastOwnerAsideFromAdmins: the rule binds admins only. Giving the
// last owner their own role again changes nothing and is no refusal; a
// bulk deactivation leaves the last owner and does the rest; the command
// line's set-role keeps the console's other rules and audit event; and
// the identity provider's deprovisioning (SCIM) of the last owner goes
// through, deactivation and deletion alike.
func TestLastOwnerAsideFromAdmins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		adm := operatorKeyAdmin(t, svc, a)
		olive := addMember(t, svc, a, "olive@example.com", directory.RoleOwner)
		ann := addMember(t, svc, a, "ann@example.com", directory.RoleMember)
		bob := addMember(t, svc, a, "bob@example.com", directory.RoleMember)
		if _, err := svc.ChangeRole(ctx, adm, olive.Membership.ID, directory.RoleOwner); err != nil {
			t.Errorf("the last owner made owner again: %v", err)
		}
		if _, err := svc.SetRole(ctx, a.ID, operator, olive.User.Email, " owner "); err != nil {
			t.Errorf("set-role owner of the last owner: %v", err)
		}
		r, err := svc.Bulk(ctx, adm, directory.BulkDeactivate, []string{olive.Membership.ID, ann.Membership.ID})
		if err != nil || r.Done != 1 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], wayOut) {
			t.Errorf("bulk deactivation of the last owner and a member: %+v, %v; want the member done, the owner refused", r, err)
		}

		// The command line's set-role.
		for _, tc := range []struct {
			email, role string
			want        directory.Kind
		}{
			{"bob@example.com", "auditor", directory.Invalid},
			{"nobody@example.com", "admin", directory.NotFound},
			{"bob@example.com", "", directory.Invalid},
			// PostgreSQL refuses such text outright (an error, not no rows).
			{"\xff@example.com", "admin", directory.NotFound},
		} {
			if _, err := svc.SetRole(ctx, a.ID, operator, tc.email, directory.Role(tc.role)); directory.KindOf(err) != tc.want {
				t.Errorf("set-role %s %q: %v; want %v", tc.email, tc.role, err, tc.want)
			}
		}
		if m, err := svc.SetRole(ctx, a.ID, operator, "Bob@Example.com", "owner"); err != nil || m.Membership.Role != directory.RoleOwner {
			t.Fatalf("set-role owner: %+v, %v", m.Membership, err)
		}
		ev, err := svc.AuditEvents(ctx, a.ID, 1)
		if err != nil || len(ev) != 1 {
			t.Fatalf("audit: %v, %v", ev, err)
		}
		var data map[string]any
		if err := json.Unmarshal(ev[0].Data, &data); err != nil || ev[0].Action != "membership.role_changed" || ev[0].Actor.Source != directory.SourceCLI || ev[0].TargetID != bob.User.ID ||
			data["new"] != "owner" || data["old"] != "member" || data["email"] != bob.User.Email {
			t.Errorf("audit of set-role: %+v %s, %v", ev[0], ev[0].Data, err)
		}
		// Now two owners: one may go.
		if _, err := svc.SetRole(ctx, a.ID, operator, olive.User.Email, "member"); err != nil {
			t.Errorf("demote one of two owners: %v", err)
		}

		// SCIM: the identity provider's last owner, deprovisioned.
		b := mustAccount(t, svc, "bolt")
		_, tok, err := svc.CreateSCIMToken(ctx, b.ID, operator, "idp")
		if err != nil {
			t.Fatal(err)
		}
		for i, del := range []bool{false, true} {
			email := fmt.Sprintf("boss%d@example.com", i)
			u, err := svc.CreateSCIMUser(ctx, b.ID, tok, scimInput(email, email, "", "Bo", "Ss", true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SetRole(ctx, b.ID, operator, email, directory.RoleOwner); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Deactivate(ctx, b.ID, operator, email); directory.KindOf(err) != directory.Conflict {
				t.Fatalf("the command line deactivates the last owner: %v; want Conflict", err)
			}
			if del {
				err = svc.DeleteSCIMUser(ctx, b.ID, tok, u.Membership.ID, directory.IfVersion{})
			} else {
				_, err = svc.ReplaceSCIMUser(ctx, b.ID, tok, u.Membership.ID, scimInput(email, email, "", "Bo", "Ss", false), directory.IfVersion{})
			}
			if err != nil {
				t.Errorf("SCIM deprovisions the last owner (delete %v): %v; want it done", del, err)
			}
		}
	})
}

func addMember(t *testing.T, svc *directory.Service, a directory.Account, email string, role directory.Role) directory.Member {
	t.Helper()
	added, err := svc.AddUser(context.Background(), a.ID, operator, directory.NewUser{Email: email, FirstName: "F", LastName: "L", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return added.Member
}

// TestLastTwoOwnersTakenAwayAtOnce: two operators each take away one of
// an account's two active owners at the same moment (demote, deactivate,
// remove, through the console's service, a key or the command line): one
// succeeds, the other is refused (Conflict), and the account keeps one
// owner. Each racer locks the owners in one order, so neither counts on
// the other's owner and neither deadlocks.
func TestLastTwoOwnersTakenAwayAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		ways := ownerWays(t, svc)
		actions := []string{"demote", "deactivate", "remove"}
		for round := range 12 {
			a := mustAccount(t, svc, fmt.Sprintf("race%d", round))
			two := []directory.Member{
				addMember(t, svc, a, fmt.Sprintf("one%d@example.com", round), directory.RoleOwner),
				addMember(t, svc, a, fmt.Sprintf("two%d@example.com", round), directory.RoleOwner),
			}
			errs := race(2, func(i int) error {
				w, action := ways[(round+i)%len(ways)], actions[(round/len(ways)+i)%len(actions)]
				if w.name == "command line" && action == "remove" {
					action = "deactivate"
				}
				return w.act(a, two[i], action)
			})
			oneWins(t, fmt.Sprintf("round %d", round), errs, directory.Conflict)
			owners := 0
			for _, m := range two {
				if got, err := svc.Member(ctx, a.ID, m.User.Email); err == nil && got.Membership.Role == directory.RoleOwner && got.Membership.Status == directory.StatusActive {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("round %d: %d active owners; want 1", round, owners)
			}
		}
	})
}

// TestDeactivatingAnInvitedPerson: a person who has not accepted their
// invitation is not deactivated, by the console's bulk action, an admin's
// API call or the command line: deactivated, their invitation stayed open
// (listed as pending, its link leading to a refusal). The admin is told to
// revoke it; the invitation and the membership stay as they were, and the
// rest of a bulk selection is done.
func TestDeactivatingAnInvitedPerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		adm := operatorKeyAdmin(t, svc, a)
		addMember(t, svc, a, "olive@example.com", directory.RoleOwner)
		ann := addMember(t, svc, a, "ann@example.com", directory.RoleMember)
		inv, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "ivy@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		ivy := memberOf(t, svc, a, "ivy@example.com")

		r, err := svc.Bulk(ctx, adm, directory.BulkDeactivate, []string{ivy.Membership.ID, ann.Membership.ID})
		if err != nil {
			t.Fatal(err)
		}
		if r.Done != 1 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "ivy@example.com has not accepted their invitation") || !strings.Contains(r.Problems[0], "Revoke the invitation") {
			t.Errorf("bulk deactivate: %+v; want ann done and ivy's refusal", r)
		}
		if m := memberOf(t, svc, a, "ann@example.com"); m.Membership.Status != directory.StatusDeactivated {
			t.Errorf("ann: %s; want deactivated", m.Membership.Status)
		}
		if _, err := svc.DeactivateMember(ctx, adm, ivy.Membership.ID); directory.KindOf(err) != directory.Conflict {
			t.Errorf("an admin deactivating ivy: %v; want a conflict", err)
		}
		if _, err := svc.Deactivate(ctx, a.ID, operator, "ivy@example.com"); directory.KindOf(err) != directory.Conflict {
			t.Errorf("the command line deactivating ivy: %v; want a conflict", err)
		}
		if m := memberOf(t, svc, a, "ivy@example.com"); m.Membership.Status != directory.StatusInvited {
			t.Errorf("ivy: %s; want still invited", m.Membership.Status)
		}
		invs, err := svc.Invitations(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range invs {
			if i.ID == inv.ID && i.Status != directory.InvitationPending {
				t.Errorf("ivy's invitation: %s; want still pending", i.Status)
			}
		}
	})
}
