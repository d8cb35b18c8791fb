package scim_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// createUser posts a minimal user and returns its id.
func createUser(t testing.TB, c client, userName string) string {
	t.Helper()
	status, body, _ := c.do("POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,
		"emails":[{"value":%q,"primary":true}],"active":true}`, userName, userName))
	if status != 201 {
		t.Fatalf("create %s: %d %v", userName, status, body)
	}
	return body["id"].(string)
}

// members returns the sorted member ids of a group resource.
func members(body map[string]any) []string {
	var ids []string
	list, _ := body["members"].([]any)
	for _, m := range list {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	slices.Sort(ids)
	return ids
}

func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestGroupsEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, beta, _ := setup(t, s)
		u1, u2, u3 := createUser(t, alpha, "u1@acme.example"), createUser(t, alpha, "u2@acme.example"), createUser(t, alpha, "u3@acme.example")
		betaUser := createUser(t, beta, "b1@beta.example")

		// Okta sends the members in the POST body, with display names.
		status, g, h := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
			"displayName":"Engineering","members":[{"value":%q,"display":"u1@acme.example"},{"value":%q,"display":"u2@acme.example"}]}`, u1, u2))
		if status != 201 {
			t.Fatalf("create: %d %v", status, g)
		}
		id, _ := g["id"].(string)
		meta, _ := g["meta"].(map[string]any)
		if h.Get("Location") != "https://admit.example/scim/v2/Groups/"+id || meta["resourceType"] != "Group" || meta["version"] == nil {
			t.Errorf("Location %q, meta %v", h.Get("Location"), meta)
		}
		if got := members(g); !slices.Equal(got, sortedIDs(u1, u2)) {
			t.Errorf("created with members %v; want %v", got, sortedIDs(u1, u2))
		}
		if status, body, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"engineering"}`); status != 409 || body["scimType"] != "uniqueness" {
			t.Errorf("same name again: %d %v; want 409 uniqueness", status, body)
		}

		// Reads: members unless excluded, as Entra ID asks.
		if status, body, _ := alpha.do("GET", "/scim/v2/Groups/"+id, ""); status != 200 || len(members(body)) != 2 {
			t.Errorf("get: %d %v", status, body)
		}
		if _, body, _ := alpha.do("GET", "/scim/v2/Groups/"+id+"?excludedAttributes=members", ""); body["members"] != nil || body["displayName"] != "Engineering" {
			t.Errorf("excludedAttributes=members: %v", body)
		}
		if _, body, _ := alpha.do("GET", "/scim/v2/Groups/"+id+"?attributes=displayName", ""); body["members"] != nil || body["id"] != id {
			t.Errorf("attributes=displayName: %v", body)
		}
		list := func(c client, filter, extra string) (int, map[string]any) {
			status, body, _ := c.do("GET", "/scim/v2/Groups?filter="+url.QueryEscape(filter)+extra, "")
			return status, body
		}
		if status, body := list(alpha, `displayName eq "ENGINEERING"`, "&excludedAttributes=members"); status != 200 || body["totalResults"] != 1.0 {
			t.Errorf("by displayName: %d %v", status, body)
		} else if r := body["Resources"].([]any)[0].(map[string]any); r["members"] != nil {
			t.Errorf("listing with excludedAttributes=members has members: %v", r)
		}
		// Entra ID's membership check.
		if _, body := list(alpha, fmt.Sprintf(`id eq %q and members[value eq %q]`, id, u2), "&excludedAttributes=members"); body["totalResults"] != 1.0 {
			t.Errorf("has member u2: %v", body)
		}
		if _, body := list(alpha, fmt.Sprintf(`id eq %q and members[value eq %q]`, id, u3), ""); body["totalResults"] != 0.0 {
			t.Errorf("has member u3: %v", body)
		}
		if status, body := list(alpha, `displayName xx "a"`, ""); status != 400 || body["scimType"] != "invalidFilter" {
			t.Errorf("bad filter: %d %v", status, body)
		}
		if status, body := list(alpha, `userName eq "a"`, ""); status != 400 || body["scimType"] != "invalidFilter" {
			t.Errorf("user attribute on groups: %d %v", status, body)
		}

		patch := func(c client, ops string) (int, map[string]any) {
			status, body, _ := c.do("PATCH", "/scim/v2/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
			return status, body
		}
		current := func() map[string]any {
			_, body, _ := alpha.do("GET", "/scim/v2/Groups/"+id, "")
			return body
		}
		// Entra ID: capitalised ops, "$ref": null, remove with a value.
		if status, body := patch(alpha, fmt.Sprintf(`{"op":"Add","path":"members","value":[{"$ref":null,"value":%q}]},
			{"op":"Remove","path":"members","value":[{"$ref":null,"value":%q}]}`, u3, u1)); status != 204 {
			t.Fatalf("Entra patch: %d %v", status, body)
		}
		if got := members(current()); !slices.Equal(got, sortedIDs(u2, u3)) {
			t.Errorf("after Entra's patch: %v; want %v", got, sortedIDs(u2, u3))
		}
		// Okta: remove by filter, then add.
		if status, body := patch(alpha, fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"},{"op":"add","path":"members","value":[{"value":%q,"display":"u1"}]}`, u2, u1)); status != 204 {
			t.Fatalf("Okta patch: %d %v", status, body)
		}
		if got := members(current()); !slices.Equal(got, sortedIDs(u1, u3)) {
			t.Errorf("after Okta's patch: %v; want %v", got, sortedIDs(u1, u3))
		}
		// Okta's rename: no path, a value object repeating the id.
		if status, body := patch(alpha, fmt.Sprintf(`{"op":"replace","value":{"id":%q,"displayName":"Platform"}}`, id)); status != 204 {
			t.Fatalf("no-path replace: %d %v", status, body)
		}
		if body := current(); body["displayName"] != "Platform" || len(members(body)) != 2 {
			t.Errorf("after rename: %v", body)
		}
		// A patch that asks for members gets the group back.
		status, body, _ := alpha.do("PATCH", "/scim/v2/Groups/"+id+"?attributes=members", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"members","value":[{"value":%q}]}]}`, u2))
		if status != 200 || !slices.Equal(members(body), []string{u2}) {
			t.Errorf("replace with attributes=members: %d %v", status, body)
		}
		// Nothing half-done: the stranger fails the whole patch.
		if status, body := patch(alpha, fmt.Sprintf(`{"op":"replace","path":"displayName","value":"Half"},{"op":"add","path":"members","value":[{"value":%q}]}`, betaUser)); status != 400 || body["scimType"] != "invalidValue" {
			t.Errorf("adding another account's user: %d %v; want 400 invalidValue", status, body)
		}
		if body := current(); body["displayName"] != "Platform" || !slices.Equal(members(body), []string{u2}) {
			t.Errorf("after a refused patch: %v", body)
		}
		for _, bad := range []string{
			`{"op":"remove"}`,
			`{"op":"add","path":"members","value":"u1"}`,
			`{"op":"add","path":"members[value eq \"x\"]","value":[{"value":"x"}]}`,
			`{"op":"remove","path":"displayName"}`,
			`{"op":"replace","path":"nickName","value":"x"}`,
			`{"op":"replace","path":"displayName","value":7}`,
		} {
			if status, body := patch(alpha, bad); status != 400 {
				t.Errorf("%s: %d %v; want 400", bad, status, body)
			}
		}
		// PUT without members keeps them; with members replaces them.
		status, body, _ = alpha.do("PUT", "/scim/v2/Groups/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform Team","externalId":"ext-9"}`)
		if status != 200 || body["externalId"] != "ext-9" || !slices.Equal(members(current()), []string{u2}) {
			t.Errorf("PUT without members: %d %v, members %v", status, body, members(current()))
		}
		status, body, _ = alpha.do("PUT", "/scim/v2/Groups/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Platform Team","members":[{"value":%q},{"value":%q}]}`, u1, u3))
		if status != 200 || !slices.Equal(members(body), sortedIDs(u1, u3)) || body["externalId"] != nil {
			t.Errorf("PUT with members: %d %v", status, body)
		}
		if status, _, _ := alpha.do("PUT", "/scim/v2/Groups/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"X"}`, "If-Match", `W/"1"`); status != 412 {
			t.Errorf("PUT with a stale If-Match: %d; want 412", status)
		}

		// Account isolation: beta's token finds nothing of alpha's.
		for _, r := range []struct{ method, body string }{
			{"GET", ""}, {"PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Mine"}`},
			{"PATCH", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Mine"}]}`},
			{"DELETE", ""},
		} {
			if status, body, _ := beta.do(r.method, "/scim/v2/Groups/"+id, r.body); status != 404 || body["status"] != "404" {
				t.Errorf("beta %s alpha's group: %d %v; want 404", r.method, status, body)
			}
		}
		if _, body := list(beta, `displayName eq "Platform Team"`, ""); body["totalResults"] != 0.0 {
			t.Errorf("beta lists alpha's group: %v", body)
		}

		if status, _, _ := alpha.do("DELETE", "/scim/v2/Groups/"+id, ""); status != 204 {
			t.Errorf("delete: %d", status)
		}
		if status, body, _ := alpha.do("GET", "/scim/v2/Groups/"+id, ""); status != 404 || body["status"] != "404" {
			t.Errorf("get after delete: %d %v", status, body)
		}
		if status, _, _ := alpha.do("GET", "/scim/v2/Users/"+u1, ""); status != 200 {
			t.Errorf("the group's member went with the group: %d", status)
		}
	})
}

func TestDiscoveryTellsTheTruth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		status, body, _ := alpha.do("GET", "/scim/v2/ResourceTypes", "")
		var names []string
		for _, r := range body["Resources"].([]any) {
			names = append(names, r.(map[string]any)["name"].(string))
		}
		slices.Sort(names)
		if status != 200 || !slices.Equal(names, []string{"Group", "User"}) {
			t.Errorf("ResourceTypes: %d %v", status, names)
		}
		status, body, _ = alpha.do("GET", "/scim/v2/Schemas", "")
		raw := fmt.Sprint(body)
		for _, urn := range []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} {
			if status != 200 || !strings.Contains(raw, urn) {
				t.Errorf("Schemas lacks %s", urn)
			}
		}
		_, body, _ = alpha.do("GET", "/scim/v2/ServiceProviderConfig", "")
		for _, feature := range []string{"patch", "filter", "etag"} {
			if f, _ := body[feature].(map[string]any); f["supported"] != true {
				t.Errorf("ServiceProviderConfig says %s is not supported: %v", feature, body[feature])
			}
		}
		for _, feature := range []string{"bulk", "changePassword", "sort"} {
			if f, _ := body[feature].(map[string]any); f == nil || f["supported"] != false {
				t.Errorf("ServiceProviderConfig claims %s, which admit does not do: %v", feature, body[feature])
			}
		}
	})
}

// FuzzGroupPatch: whatever operations a client sends, the answer is a
// SCIM response (2xx or 4xx), never a 5xx.
func FuzzGroupPatch(f *testing.F) {
	for _, s := range []string{
		`{"op":"add","path":"members","value":[{"value":"U"}]}`,
		`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"U"}]}`,
		`{"op":"remove","path":"members[value eq \"U\"]"}`,
		`{"op":"replace","value":{"displayName":"x","id":"y"}}`,
		`{"op":"replace","path":"members","value":{}}`,
		`{"op":"remove","path":"members[display co \"x\"]"}`,
		`{"op":"add","path":"urn:x:y:members","value":[]}`,
		`1`, `{"op":null}`,
	} {
		f.Add(s)
	}
	s := storetest.SQLite(f)
	alpha, _, _ := setup(f, s)
	u := createUser(f, alpha, "u@acme.example")
	_, g, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G"}`)
	path := "/scim/v2/Groups/" + g["id"].(string)
	f.Fuzz(func(t *testing.T, op string) {
		c := client{t, alpha.url, alpha.token}
		op = strings.ReplaceAll(op, `"U"`, `"`+u+`"`)
		status, body, _ := c.do("PATCH", path, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`)
		if status >= 500 {
			t.Fatalf("operation %q: %d %v", op, status, body)
		}
	})
}

// TestIsolation: every endpoint, with beta's token, against alpha's
// resources answers 404 (or, for listings, finds nothing) and changes
// nothing.
func TestIsolation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, beta, _ := setup(t, s)
		user := createUser(t, alpha, "ada@acme.example")
		_, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins","members":[{"value":%q}]}`, user))
		group := g["id"].(string)
		userPut := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"taken@beta.example","emails":[{"value":"taken@beta.example"}],"active":false}`
		groupPut := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Taken","members":[]}`
		patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Taken"}]}`
		deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/scim/v2/Users/" + user, ""},
			{"PUT", "/scim/v2/Users/" + user, userPut},
			{"PATCH", "/scim/v2/Users/" + user, deactivate},
			{"DELETE", "/scim/v2/Users/" + user, ""},
			{"GET", "/scim/v2/Groups/" + group, ""},
			{"PUT", "/scim/v2/Groups/" + group, groupPut},
			{"PATCH", "/scim/v2/Groups/" + group, patch},
			{"DELETE", "/scim/v2/Groups/" + group, ""},
		} {
			if status, body, _ := beta.do(r.method, r.path, r.body); status != 404 || body["status"] != "404" {
				t.Errorf("beta %s %s: %d %v; want 404 in the SCIM error schema", r.method, r.path, status, body)
			}
		}
		for _, path := range []string{
			"/scim/v2/Users", "/scim/v2/Users?filter=" + url.QueryEscape(fmt.Sprintf(`id eq %q`, user)),
			"/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "ada@acme.example"`),
			"/scim/v2/Groups", "/scim/v2/Groups?filter=" + url.QueryEscape(fmt.Sprintf(`id eq %q`, group)),
			"/scim/v2/Groups?filter=" + url.QueryEscape(fmt.Sprintf(`members[value eq %q]`, user)),
		} {
			if status, body, _ := beta.do("GET", path, ""); status != 200 || body["totalResults"] != 0.0 {
				t.Errorf("beta GET %s: %d %v; want nothing", path, status, body)
			}
		}
		// Beta cannot put alpha's user into a group of its own either.
		status, body, _ := beta.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Grab","members":[{"value":%q}]}`, user))
		if status != 400 || body["scimType"] != "invalidValue" {
			t.Errorf("beta groups alpha's user: %d %v", status, body)
		}
		// Alpha's resources are as they were.
		if _, u, _ := alpha.do("GET", "/scim/v2/Users/"+user, ""); u["active"] != true || u["userName"] != "ada@acme.example" {
			t.Errorf("alpha's user after beta's attempts: %v", u)
		}
		if _, g, _ := alpha.do("GET", "/scim/v2/Groups/"+group, ""); g["displayName"] != "Admins" || len(members(g)) != 1 {
			t.Errorf("alpha's group after beta's attempts: %v", g)
		}
	})
}

// TestLargeGroupInOnePost: a group created with thousands of members (more
// than one statement's worth of rows), one named twice, holds each once,
// announces each once, and a missing member refuses the whole group.
func TestLargeGroupInOnePost(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, svc := setup(t, s)
		ctx := t.Context()
		a, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		const n = 2500
		storetest.SeedMembers(t, s, a.ID, "big", n)
		var ids []string
		for start := 1; start <= n; start += 500 {
			_, page, _ := alpha.do("GET", fmt.Sprintf("/scim/v2/Users?count=500&attributes=id&startIndex=%d", start), "")
			for _, r := range page["Resources"].([]any) {
				ids = append(ids, r.(map[string]any)["id"].(string))
			}
		}
		if len(ids) != n {
			t.Fatalf("listed %d users; want %d", len(ids), n)
		}
		body := func(name string, ids ...string) string {
			parts := make([]string, len(ids))
			for i, id := range ids {
				parts[i] = fmt.Sprintf(`{"value":%q}`, id)
			}
			return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[%s]}`, name, strings.Join(parts, ","))
		}
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", body("Everyone", append(ids, ids[7])...))
		if status != 201 || len(members(g)) != n {
			t.Fatalf("create a group of %d (one twice): %d, %d members", n, status, len(members(g)))
		}
		var events int
		if err := s.DB().GetContext(ctx, &events, s.DB().Rebind(`SELECT COUNT(*) FROM outbox_messages WHERE topic = 'group.member_added' AND CAST(payload AS text) LIKE ?`), "%"+g["id"].(string)+"%"); err != nil {
			t.Fatal(err)
		}
		if events != n {
			t.Errorf("%d member_added events; want %d, one a member", events, n)
		}
		status, refused, _ := alpha.do("POST", "/scim/v2/Groups", body("Some", ids[0], "no-such-user", ids[1]))
		if status != 400 || !strings.Contains(fmt.Sprint(refused["detail"]), "no-such-user") {
			t.Errorf("a group with a member who is no user: %d %v; want 400 naming the id", status, refused)
		}
		if _, found, _ := alpha.do("GET", "/scim/v2/Groups?filter="+url.QueryEscape(`displayName eq "Some"`), ""); found["totalResults"] != 0.0 {
			t.Errorf("the refused group was made: %v", found)
		}
	})
}

// TestLookupTotals: a lookup that finds fewer than count answers its
// length as the total; a full page counts.
func TestLookupTotals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for _, name := range []string{"ann@acme.example", "anna@acme.example", "bob@acme.example"} {
			createUser(t, alpha, name)
		}
		for _, tc := range []struct {
			query        string
			total, items float64
		}{
			{"filter=" + url.QueryEscape(`userName eq "ann@acme.example"`), 1, 1},
			{"filter=" + url.QueryEscape(`userName sw "ann"`) + "&count=1", 2, 1},
			{"filter=" + url.QueryEscape(`userName sw "ann"`) + "&count=2", 2, 2},
			{"filter=" + url.QueryEscape(`userName eq "nobody@acme.example"`), 0, 0},
			{"count=0", 3, 0},
			{"startIndex=3&count=5", 3, 1},
		} {
			status, body, _ := alpha.do("GET", "/scim/v2/Users?"+tc.query, "")
			if status != 200 || body["totalResults"] != tc.total || body["itemsPerPage"] != tc.items {
				t.Errorf("%s: %d totalResults %v itemsPerPage %v; want %v %v", tc.query, status, body["totalResults"], body["itemsPerPage"], tc.total, tc.items)
			}
		}
	})
}
