package scim_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// names is n attribute names for attributes or excludedAttributes.
func names(n int) string {
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("x%d", i)
	}
	return strings.Join(list, ",")
}

// TestAttributeNamesAreBounded: attributes and excludedAttributes name at
// most 100 attributes, on every endpoint that reads them; beyond, 400
// invalidValue saying the limit (ten thousand names cost half a second of
// CPU a request, every resource of a page projected through each).
func TestAttributeNamesAreBounded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		user := createUser(t, alpha, "ada@acme.example")
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":%q}]}`, user))
		if status != 201 {
			t.Fatalf("create group: %d %v", status, g)
		}
		group := g["id"].(string)
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Eng"}]}`
		for _, param := range []string{"attributes", "excludedAttributes"} {
			for _, ep := range []struct{ method, path, body string }{
				{"GET", "/scim/v2/Users?", ""},
				{"GET", "/scim/v2/Users/" + user + "?", ""},
				{"GET", "/scim/v2/Groups?", ""},
				{"GET", "/scim/v2/Groups/" + group + "?", ""},
				{"PATCH", "/scim/v2/Groups/" + group + "?", patch},
			} {
				t.Run(param+" "+ep.method+" "+ep.path, func(t *testing.T) {
					// At the limit (with the one attribute asked for last).
					status, body, _ := alpha.do(ep.method, ep.path+param+"="+url.QueryEscape(names(99)+",id"), ep.body)
					if status != 200 && !(status == 204 && ep.method == "PATCH") {
						t.Errorf("100 names: %d %v; want 200", status, body)
					}
					status, body, _ = alpha.do(ep.method, ep.path+param+"="+url.QueryEscape(names(101)), ep.body)
					if detail, _ := body["detail"].(string); status != 400 || body["scimType"] != "invalidValue" || !strings.Contains(detail, "at most 100 attributes") {
						t.Errorf("101 names: %d %v; want 400 invalidValue saying the limit", status, body)
					}
				})
			}
		}
		// Empty names (a trailing comma) are no names.
		if status, body, _ := alpha.do("GET", "/scim/v2/Users?attributes="+url.QueryEscape(names(100)+","+strings.Repeat(" ,", 50)), ""); status != 200 {
			t.Errorf("100 names and empty ones: %d %v; want 200", status, body)
		}
		// The projection still works: excluding members does not show them.
		if _, body, _ := alpha.do("GET", "/scim/v2/Groups/"+group+"?excludedAttributes=members", ""); body["members"] != nil || body["displayName"] != "Eng" {
			t.Errorf("excludedAttributes=members: %v", body)
		}
		if _, body, _ := alpha.do("GET", "/scim/v2/Groups/"+group+"?attributes=members.value", ""); len(members(body)) != 1 || body["displayName"] != nil {
			t.Errorf("attributes=members.value: %v", body)
		}
	})
}

// TestGroupPatchOperationsAreBounded: a group PATCH, like a user PATCH,
// has at most 100 operations (a megabyte of them held the group's row for
// half a second); beyond, 400 invalidValue and nothing changes. The
// members in one operation are not bounded by it: Okta and Entra ID send
// many members in one operation's value.
func TestGroupPatchOperationsAreBounded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, svc := setup(t, s)
		a, err := svc.Account(t.Context(), "alpha")
		if err != nil {
			t.Fatal(err)
		}
		const n = 3000
		storetest.SeedMembers(t, s, a.ID, "many", n)
		var ids []string
		for start := 1; start <= n; start += 500 {
			_, page, _ := alpha.do("GET", fmt.Sprintf("/scim/v2/Users?count=500&attributes=id&startIndex=%d", start), "")
			for _, r := range page["Resources"].([]any) {
				ids = append(ids, r.(map[string]any)["id"].(string))
			}
		}
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng"}`)
		if status != 201 {
			t.Fatalf("create group: %d %v", status, g)
		}
		group := g["id"].(string)
		ops := func(op []string) string {
			return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(op, ",") + `]}`
		}
		add := func(ids ...string) string {
			v := make([]string, len(ids))
			for i, id := range ids {
				v[i] = fmt.Sprintf(`{"value":%q}`, id)
			}
			return `{"op":"add","path":"members","value":[` + strings.Join(v, ",") + `]}`
		}
		count := func() int {
			t.Helper()
			_, body, _ := alpha.do("GET", "/scim/v2/Groups/"+group, "")
			return len(members(body))
		}

		// 101 operations of one member each: refused, nothing added.
		var many []string
		for _, id := range ids[:101] {
			many = append(many, add(id))
		}
		status, body, _ := alpha.do("PATCH", "/scim/v2/Groups/"+group, ops(many))
		if detail, _ := body["detail"].(string); status != 400 || body["scimType"] != "invalidValue" || !strings.Contains(detail, "at most 100 operations") {
			t.Errorf("101 operations: %d %v; want 400 invalidValue saying the limit", status, body)
		}
		if got := count(); got != 0 {
			t.Errorf("after the refused PATCH the group has %d members; want 0", got)
		}
		// A no-path replace counts one operation for each attribute.
		keys := make([]string, 101)
		for i := range keys {
			keys[i] = fmt.Sprintf(`"x%d":"y"`, i)
		}
		status, body, _ = alpha.do("PATCH", "/scim/v2/Groups/"+group, ops([]string{`{"op":"replace","value":{` + strings.Join(keys, ",") + `}}`}))
		if status != 400 || body["scimType"] != "invalidValue" || !strings.Contains(fmt.Sprint(body["detail"]), "at most 100 operations") {
			t.Errorf("a no-path replace of 101 attributes: %d %v; want 400 invalidValue", status, body)
		}

		// 100 operations are taken.
		if status, body, _ := alpha.do("PATCH", "/scim/v2/Groups/"+group, ops(many[:100])); status != 204 {
			t.Errorf("100 operations: %d %v; want 204", status, body)
		}
		if got := count(); got != 100 {
			t.Errorf("after 100 operations the group has %d members; want 100", got)
		}
		// As an identity provider batches: thousands of members in one
		// operation, and a removal of many in another.
		if status, body, _ := alpha.do("PATCH", "/scim/v2/Groups/"+group, ops([]string{add(ids...), strings.Replace(add(ids[:500]...), `"add"`, `"remove"`, 1)})); status != 204 {
			t.Errorf("%d members in one operation: %d %v; want 204", n, status, body)
		}
		if got := count(); got != n-500 {
			t.Errorf("the group has %d members; want %d", got, n-500)
		}
	})
}
