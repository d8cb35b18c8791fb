package scim_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestPatchPathFilterOperators: a PATCH path's value filter is evaluated
// with every operator of RFC 7644 §3.4.2.2 against the user's values, not
// as eq (ne, co, sw and the others were compared as eq, and not (...)
// never matched: remove emails[type ne "work"] removed the work email).
// A comparison the RFC does not define for the sub-attribute's type is
// refused with 400 invalidFilter, and a replace whose filter matches
// nothing and describes no one value is 400 noTarget; neither changes
// anything.
func TestPatchPathFilterOperators(t *testing.T) {
	t.Parallel()
	const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example",
		"emails":[{"value":"ada@acme.example","type":"work","primary":true},{"value":"Home-Ada@acme.example","type":"home"},{"value":"ada@other.example"}]}`
	// emails lists a user's emails as value/type/display/primary.
	emails := func(body map[string]any) []string {
		var out []string
		list, _ := body["emails"].([]any)
		for _, e := range list {
			m := e.(map[string]any)
			s := fmt.Sprint(m["value"])
			for _, k := range []string{"type", "display", "primary"} {
				if v, ok := m[k]; ok {
					s += fmt.Sprintf(" %s=%v", k, v)
				}
			}
			out = append(out, s)
		}
		slices.Sort(out)
		return out
	}
	const (
		work  = "ada@acme.example type=work primary=true"
		home  = "Home-Ada@acme.example type=home"
		other = "ada@other.example"
	)
	cases := []struct {
		name, op string
		status   int
		scimType string
		want     []string // the emails afterwards
	}{
		{"remove ne", `{"op":"remove","path":"emails[type ne \"work\"]"}`, 200, "", []string{work}},
		{"remove not", `{"op":"remove","path":"emails[not (type eq \"work\")]"}`, 200, "", []string{work}},
		{"remove sw, without case", `{"op":"remove","path":"emails[value sw \"home-\"]"}`, 200, "", []string{other, work}},
		{"remove ew", `{"op":"remove","path":"emails[value ew \"@other.example\"]"}`, 200, "", []string{home, work}},
		{"remove co", `{"op":"remove","path":"emails[value co \"OTHER\"]"}`, 200, "", []string{home, work}},
		{"remove primary eq true", `{"op":"remove","path":"emails[primary eq true]"}`, 200, "", []string{home, other}},
		{"remove primary ne true", `{"op":"remove","path":"emails[primary ne true]"}`, 200, "", []string{work}},
		{"remove pr and not", `{"op":"remove","path":"emails[type pr and not (primary eq true)]"}`, 200, "", []string{other, work}},
		{"remove not pr", `{"op":"remove","path":"emails[not (type pr)]"}`, 200, "", []string{home, work}},
		{"remove eq null", `{"op":"remove","path":"emails[type eq null]"}`, 200, "", []string{home, work}},
		{"replace gt", `{"op":"replace","path":"emails[value gt \"b\"].display","value":"H"}`, 200, "", []string{"Home-Ada@acme.example type=home display=H", other, work}},
		{"replace le", `{"op":"replace","path":"emails[value le \"ada@b\"].display","value":"W"}`, 200, "", []string{"ada@acme.example type=work display=W primary=true", home, other}},
		{"replace type eq, without case", `{"op":"replace","path":"emails[type eq \"HOME\"].display","value":"H"}`, 200, "", []string{"Home-Ada@acme.example type=home display=H", other, work}},
		{"replace or", `{"op":"replace","path":"emails[type eq \"home\" or value ew \"other.example\"].display","value":"X"}`, 200, "",
			[]string{"Home-Ada@acme.example type=home display=X", "ada@other.example display=X", work}},
		{"replace with no match adds what an and of eq describes", `{"op":"replace","path":"emails[type eq \"pager\"].value","value":"p@acme.example"}`, 200, "",
			[]string{home, other, work, "p@acme.example type=pager"}},
		{"replace with no match, or", `{"op":"replace","path":"emails[type eq \"pager\" or type eq \"fax\"].value","value":"p@acme.example"}`, 400, "noTarget", nil},
		{"replace with no match, ne", `{"op":"replace","path":"emails[type ne \"home\" and type ne \"work\" and type pr].value","value":"p@acme.example"}`, 400, "noTarget", nil},
		{"ordering a boolean", `{"op":"remove","path":"emails[primary gt true]"}`, 400, "invalidFilter", nil},
		{"a boolean with a string", `{"op":"remove","path":"emails[primary eq \"true\"]"}`, 400, "invalidFilter", nil},
		{"co on a boolean", `{"op":"remove","path":"emails[primary co \"t\"]"}`, 400, "invalidFilter", nil},
		{"a string with a number", `{"op":"remove","path":"emails[value co 5]"}`, 400, "invalidFilter", nil},
		{"a string with a boolean", `{"op":"remove","path":"emails[type eq true]"}`, 400, "invalidFilter", nil},
		{"null ordered", `{"op":"remove","path":"emails[type lt null]"}`, 400, "invalidFilter", nil},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				status, created, _ := alpha.do("POST", "/scim/v2/Users", strings.ReplaceAll(user, "ada@acme.example", fmt.Sprintf("ada%d@acme.example", i)))
				if status != 201 {
					t.Fatalf("create: %d %v", status, created)
				}
				id := created["id"].(string)
				before := emails(created)
				status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+tc.op+`]}`)
				if status != tc.status || tc.scimType != "" && body["scimType"] != tc.scimType {
					t.Fatalf("%d %v; want %d %s", status, body, tc.status, tc.scimType)
				}
				_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
				want := before
				if tc.want != nil {
					want = nil
					for _, w := range tc.want {
						want = append(want, strings.Replace(w, "ada@acme", fmt.Sprintf("ada%d@acme", i), 1))
					}
					slices.Sort(want)
				}
				if g := emails(got); !slices.Equal(g, want) {
					t.Errorf("emails %q; want %q", g, want)
				}
			})
		}

		// A group's members are removed by members[value eq "id"]; any
		// other filter is refused, and removes no one.
		u := createUser(t, alpha, "member@acme.example")
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":%q}]}`, u))
		if status != 201 {
			t.Fatalf("create group: %d %v", status, g)
		}
		for _, path := range []string{`members[value ne \"x\"]`, `members[not (value eq \"x\")]`, `members[value sw \"` + u[:4] + `\"]`, `members[value eq \"x\" or value eq \"y\"]`} {
			status, body, _ := alpha.do("PATCH", "/scim/v2/Groups/"+g["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"`+path+`"}]}`)
			if status != 400 || body["scimType"] != "invalidFilter" {
				t.Errorf("remove %s: %d %v; want 400 invalidFilter", path, status, body)
			}
		}
		if _, got, _ := alpha.do("GET", "/scim/v2/Groups/"+g["id"].(string), ""); !slices.Equal(members(got), []string{u}) {
			t.Errorf("members %v; want %v", members(got), []string{u})
		}
	})
}
