package scim_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

const (
	rfcEnterprise      = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	oneLoginEnterprise = "urn:scim:schemas:extension:enterprise:2.0"
)

// TestEnterpriseUnderBothNames: OneLogin's name of the enterprise
// extension is read as RFC 7643's, as the extension's object or as a path
// into it, in a POST, a PUT and a PATCH. A request that uses both names,
// or gives one attribute both in its object and as a path beside it, is
// refused with 400 invalidSyntax naming both, and changes nothing: one of
// them was dropped without a word, which lost what the admin set.
func TestEnterpriseUnderBothNames(t *testing.T) {
	t.Parallel()
	user := func(extra string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"WHO@acme.example",
			"name":{"givenName":"Ada","familyName":"Lovelace"}` + extra + `}`
	}
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}
	type want struct {
		status     int
		department any      // on success
		names      []string // on a refusal: what the detail names
	}
	refused := func(names ...string) want { return want{status: 400, names: names} }
	tests := []struct {
		name, method, body string
		want               want
	}{
		{"POST, both objects", "POST", user(`,"` + rfcEnterprise + `":{"department":"A"},"` + oneLoginEnterprise + `":{"department":"B"}`),
			refused(rfcEnterprise, oneLoginEnterprise)},
		{"POST, RFC object and OneLogin path", "POST", user(`,"` + rfcEnterprise + `":{"department":"A"},"` + oneLoginEnterprise + `:department":"B"`),
			refused(rfcEnterprise, oneLoginEnterprise+":department")},
		{"POST, OneLogin object and RFC path", "POST", user(`,"` + oneLoginEnterprise + `":{"department":"A"},"` + rfcEnterprise + `:department":"B"`),
			refused(rfcEnterprise+":department", oneLoginEnterprise)},
		{"POST, RFC object and RFC path", "POST", user(`,"` + rfcEnterprise + `":{"department":"A"},"` + rfcEnterprise + `:department":"B"`),
			refused(rfcEnterprise+":department", "department")},
		{"POST, name object and name.givenName", "POST", user(`,"name.givenName":"Grace"`),
			refused("name.givenName", "givenName")},
		{"POST, name object and name.givenName alike", "POST", user(`,"name.givenName":"Ada"`), want{status: 201}},
		{"POST, RFC object and RFC path alike", "POST", user(`,"` + rfcEnterprise + `":{"department":"A"},"` + rfcEnterprise + `:department":"A"`),
			want{status: 201, department: "A"}},
		{"POST, emails and emails.value", "POST", user(`,"emails":[{"value":"WHO@acme.example"}],"emails.value":"x-WHO@acme.example"`),
			refused("emails.value", "emails")},
		{"POST, OneLogin object", "POST", user(`,"` + oneLoginEnterprise + `":{"department":"B"}`), want{status: 201, department: "B"}},
		{"POST, OneLogin path", "POST", user(`,"` + oneLoginEnterprise + `:department":"B"`), want{status: 201, department: "B"}},
		{"PUT, both objects", "PUT", user(`,"` + rfcEnterprise + `":{"department":"A"},"` + oneLoginEnterprise + `":{"department":"B"}`),
			refused(rfcEnterprise, oneLoginEnterprise)},
		{"PUT, OneLogin path", "PUT", user(`,"` + oneLoginEnterprise + `:department":"B"`), want{status: 200, department: "B"}},
		{"PATCH, paths under both names", "PATCH", patch(`{"op":"replace","path":"` + rfcEnterprise + `:department","value":"A"},
			{"op":"replace","path":"` + oneLoginEnterprise + `:department","value":"B"}`),
			refused(rfcEnterprise+":department", oneLoginEnterprise+":department")},
		{"PATCH, both objects without a path", "PATCH", patch(`{"op":"replace","value":{"` + rfcEnterprise + `":{"department":"A"},"` + oneLoginEnterprise + `":{"department":"B"}}}`),
			refused(rfcEnterprise, oneLoginEnterprise)},
		{"PATCH, both names across operations", "PATCH", patch(`{"op":"replace","value":{"` + oneLoginEnterprise + `":{"department":"B"}}},
			{"op":"add","path":"` + rfcEnterprise + `:costCenter","value":"7"}`),
			refused(rfcEnterprise+":costCenter", oneLoginEnterprise)},
		{"PATCH, RFC object and RFC path without a path", "PATCH", patch(`{"op":"replace","value":{"` + rfcEnterprise + `":{"department":"A"},"` + rfcEnterprise + `:department":"B"}}`),
			refused(rfcEnterprise+":department", "department")},
		{"PATCH, OneLogin path", "PATCH", patch(`{"op":"replace","path":"` + oneLoginEnterprise + `:department","value":"B"}`), want{status: 200, department: "B"}},
		{"PATCH, OneLogin object without a path", "PATCH", patch(`{"op":"replace","value":{"` + oneLoginEnterprise + `":{"department":"B"}}}`),
			want{status: 200, department: "B"}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				who := fmt.Sprintf("user%d", i)
				body := strings.ReplaceAll(tc.body, "WHO", who)
				path, id := "/scim/v2/Users", ""
				if tc.method != "POST" {
					st, b, _ := alpha.do("POST", path, strings.ReplaceAll(user(`,"`+rfcEnterprise+`":{"department":"Before"}`), "WHO", who))
					if st != 201 {
						t.Fatalf("create: %d %v", st, b)
					}
					id = b["id"].(string)
					path += "/" + id
				}
				status, b, _ := alpha.do(tc.method, path, body)
				if status != tc.want.status {
					t.Fatalf("%s: %d %v; want %d", tc.method, status, b, tc.want.status)
				}
				if tc.want.status != 400 {
					ext, _ := b[rfcEnterprise].(map[string]any)
					if ext["department"] != tc.want.department || b[oneLoginEnterprise] != nil {
						t.Errorf("answer %v; want department %v under %s only", b, tc.want.department, rfcEnterprise)
					}
					return
				}
				detail, _ := b["detail"].(string)
				if b["scimType"] != "invalidSyntax" {
					t.Errorf("scimType %v; want invalidSyntax", b["scimType"])
				}
				for _, n := range tc.want.names {
					if !strings.Contains(detail, n) {
						t.Errorf("the detail %q does not name %s", detail, n)
					}
				}
				// Nothing was written.
				if id == "" {
					if _, list, _ := alpha.do("GET", "/scim/v2/Users?filter="+q(`userName eq "`+who+`@acme.example"`), ""); list["totalResults"] != float64(0) {
						t.Errorf("the refused POST created the user: %v", list)
					}
					return
				}
				_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
				if ext, _ := got[rfcEnterprise].(map[string]any); ext["department"] != "Before" || got["meta"].(map[string]any)["version"] != `W/"2"` {
					t.Errorf("after the refusal the user reads %v", got)
				}
			})
		}
	})
}
