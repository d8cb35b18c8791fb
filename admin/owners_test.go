package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// wayOut is what every refusal of the last-owner rule tells the admin.
const wayOut = "Make another member an owner first, or delete the account."

// TestLastOwnerThroughTheConsole: an operator in an account's console
// cannot demote, deactivate or remove its last active owner: the page
// answers 409 and names the way out; a bulk action does the others and
// says why it left the owner.
func TestLastOwnerThroughTheConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		acme, ops := s.account(t, "acme"), s.account(t, "ops")
		olive := s.add(t, acme, "olive@acme.example", directory.RoleOwner)
		max := s.add(t, acme, "max@acme.example", directory.RoleMember)
		oscar := s.add(t, ops, "oscar@ops.example", directory.RoleMember)
		if _, err := s.svc.AddOperator(context.Background(), operator, oscar.User.Email); err != nil {
			t.Fatal(err)
		}
		p := s.signIn(t, oscar, ops)
		person := "/admin/acme/users/" + olive.Membership.ID
		for _, tc := range []struct {
			name, path string
			form       url.Values
		}{
			{"demote", person + "/role", url.Values{"role": {"admin"}}},
			{"deactivate", person + "/deactivate", url.Values{}},
			{"remove", person + "/remove", url.Values{}},
		} {
			p.get(person)
			if code, _ := p.post(tc.path, tc.form); code != http.StatusConflict {
				t.Errorf("an operator may %s the last owner: %d; want 409", tc.name, code)
			}
			p.sees(wayOut)
		}
		p.get("/admin/acme/users")
		if code, _ := p.post("/admin/acme/users/bulk", url.Values{"action": {"deactivate"}, "id": {olive.Membership.ID, max.Membership.ID}}); code != 200 {
			t.Fatalf("bulk deactivation: %d", code)
		}
		p.sees(wayOut)
		if m, err := s.svc.Member(context.Background(), acme.ID, olive.User.Email); err != nil || m.Membership.Role != directory.RoleOwner || m.Membership.Status != directory.StatusActive {
			t.Errorf("the owner afterwards: %+v, %v", m.Membership, err)
		}
		if m, _ := s.svc.Member(context.Background(), acme.ID, max.User.Email); m.Membership.Status != directory.StatusDeactivated {
			t.Errorf("the member beside the owner in the bulk action: %s; want deactivated", m.Membership.Status)
		}
	})
}

// TestLastOwnerThroughTheAPI: an operator's key is refused the last
// owner's demotion, deactivation and removal (409 problem, code conflict,
// naming the way out), and may each once another owner is named; an
// account's key acts as an admin, refused any owner (403).
func TestLastOwnerThroughTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		add := func(email string, role directory.Role) directory.Member {
			t.Helper()
			added, err := site.svc.AddUser(ctx, site.alpha.ID, operator, directory.NewUser{Email: email, FirstName: "F", LastName: "L", Role: role})
			if err != nil {
				t.Fatal(err)
			}
			return added.Member
		}
		olive, ann := add("olive@alpha.test", directory.RoleOwner), add("ann@alpha.test", directory.RoleMember)
		member := "/api/v1/accounts/alpha/members/"
		for _, tc := range []struct {
			name, method, path string
			body               any
		}{
			{"demote", "PATCH", member + olive.Membership.ID, map[string]any{"role": "member"}},
			{"demote by user id", "PATCH", member + olive.User.ID, map[string]any{"role": "admin"}},
			{"deactivate", "POST", member + olive.Membership.ID + "/deactivate", nil},
			{"remove", "DELETE", member + olive.Membership.ID, nil},
		} {
			if p := wantProblem(t, tc.name+" with the operator key", site.do(t, tc.method, tc.path, site.opKey, tc.body), http.StatusConflict, "conflict"); p != nil && !strings.Contains(p["detail"].(string), wayOut) {
				t.Errorf("%s: detail %q; want the way out", tc.name, p["detail"])
			}
			wantProblem(t, tc.name+" with the account's key", site.do(t, tc.method, tc.path, site.keyA, tc.body), http.StatusForbidden, "forbidden")
		}
		// The way out: another owner first.
		if r := site.do(t, "PATCH", member+ann.Membership.ID, site.opKey, map[string]any{"role": "owner"}); r.status != 200 {
			t.Fatalf("make another owner: %d %s", r.status, r.body)
		}
		if r := site.do(t, "POST", member+olive.Membership.ID+"/deactivate", site.opKey, nil); r.status != 200 {
			t.Errorf("deactivate one of two owners: %d %s", r.status, r.body)
		}
		wantProblem(t, "remove the last owner left", site.do(t, "DELETE", member+ann.Membership.ID, site.opKey, nil), http.StatusConflict, "conflict")
		if r := site.do(t, "DELETE", member+olive.Membership.ID, site.opKey, nil); r.status != http.StatusNoContent {
			t.Errorf("remove a deactivated owner: %d %s", r.status, r.body)
		}
	})
}
