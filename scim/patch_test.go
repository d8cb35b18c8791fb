package scim_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// patchUser is the user every PATCH shape starts from: what Entra ID
// creates, with the enterprise extension and a second, home email.
const patchUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"userName":"%[1]s","externalId":"ext-%[1]s","active":true,"displayName":"Ada Lovelace","title":"Analyst",
	"name":{"givenName":"Ada","familyName":"Lovelace","formatted":"Ada Lovelace"},
	"emails":[{"primary":true,"type":"work","value":"%[1]s"},{"type":"home","value":"home-%[1]s"}],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Analytics","manager":{"value":"mgr-1"}}}`

// emailOf checks the value of the email of a type; "" wants none.
func emailOf(typ, want string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		got, found := "", false
		list, _ := b["emails"].([]any)
		for _, e := range list {
			if m, _ := e.(map[string]any); m["type"] == typ {
				got, _ = m["value"].(string)
				found = true
			}
		}
		if got != want || want == "" && found {
			t.Errorf("%s email %q (found %v); want %q, none when empty (emails %v)", typ, got, found, want, b["emails"])
		}
	}
}

// TestUserPatchShapes applies, one at a time, every PATCH operation shape
// Microsoft Entra ID and Okta document ("Tutorial: Develop and plan
// provisioning for a SCIM endpoint", Entra's SCIM 2.0 compliance notes;
// Okta's "SCIM 2.0 protocol reference"), and RFC 7644 §3.5.2's own.
func TestUserPatchShapes(t *testing.T) {
	t.Parallel()
	type check = func(*testing.T, map[string]any)
	cases := []struct {
		name   string
		ops    string // the Operations array's members; {mail} is the user's userName
		status int
		checks []check
	}{
		// Entra ID, documented operations.
		{"Entra: multi-valued properties", `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new-{mail}"},{"op":"Replace","path":"name.familyName","value":"King"}`, 200,
			[]check{emailOf("work", "new-{mail}"), emailOf("home", "home-{mail}"), field("name.familyName", "King"), field("name.givenName", "Ada")}},
		{"Entra: single-valued property", `{"op":"Replace","path":"userName","value":"renamed-{mail}"}`, 200, []check{field("userName", "renamed-{mail}")}},
		{"Entra: disable, boolean as a string", `{"op":"Replace","path":"active","value":"False"}`, 200, []check{field("active", false)}},
		{"Entra: disable", `{"op":"Replace","path":"active","value":false}`, 200, []check{field("active", false)}},
		{"Entra: add a manager as a bare id", `{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"mgr-2"}`, 200,
			[]check{field(enterprise+">manager>value", "mgr-2"), field(enterprise+">department", "Analytics")}},
		{"Entra: remove the manager", `{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}`, 200,
			[]check{field(enterprise+">manager", nil), field(enterprise+">department", "Analytics")}},
		{"Entra: add a work email with a filter path", `{"op":"Remove","path":"emails[type eq \"work\"]"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"again-{mail}"}`, 200,
			[]check{emailOf("work", "again-{mail}"), emailOf("home", "home-{mail}")}},

		// Entra ID, no path, attribute paths as the value's keys.
		{"Entra: no path, dotted keys", `{"op":"Replace","value":{"name.givenName":"Augusta","name.familyName":"King","displayName":"Augusta King"}}`, 200,
			[]check{field("name.givenName", "Augusta"), field("name.familyName", "King"), field("displayName", "Augusta King"), field("name.formatted", "Ada Lovelace")}},
		{"Entra: no path, filter key", `{"op":"Replace","value":{"emails[type eq \"work\"].value":"key-{mail}"}}`, 200,
			[]check{emailOf("work", "key-{mail}"), emailOf("home", "home-{mail}")}},
		{"Entra: no path, extension keys", `{"op":"Add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Finance","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"mgr-3"}}`, 200,
			[]check{field(enterprise+">department", "Finance"), field(enterprise+">manager>value", "mgr-3")}},
		{"Entra: no path, extension object", `{"op":"Replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Legal","manager":"mgr-4"}}}`, 200,
			[]check{field(enterprise+">department", "Legal"), field(enterprise+">manager>value", "mgr-4")}},
		{"Entra: no path, every shape at once", `{"op":"Replace","value":{"active":"False","name.givenName":"Augusta","emails[type eq \"work\"].value":"all-{mail}","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Ops"}}`, 200,
			[]check{field("active", false), field("name.givenName", "Augusta"), emailOf("work", "all-{mail}"), field(enterprise+">department", "Ops")}},

		// Clearing: Replace or Add with "" or null.
		{"clear with \"\"", `{"op":"Replace","path":"title","value":""},{"op":"Replace","path":"name.givenName","value":""}`, 200,
			[]check{field("title", nil), field("name.givenName", nil), field("name.familyName", "Lovelace")}},
		{"clear with null", `{"op":"Replace","path":"displayName","value":null},{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":null}`, 200,
			[]check{field("displayName", nil), field(enterprise+">department", nil), field(enterprise+">manager>value", "mgr-1")}},
		{"clear the manager with \"\"", `{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}`, 200,
			[]check{field(enterprise+">manager", nil)}},
		{"clear a filtered email", `{"op":"Replace","path":"emails[type eq \"home\"].value","value":""}`, 200,
			[]check{emailOf("home", ""), emailOf("work", "{mail}")}},
		{"no path, clear keys", `{"op":"Replace","value":{"title":"","name.familyName":null,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":""}}`, 200,
			[]check{field("title", nil), field("name.familyName", nil), field("name.givenName", "Ada"), field(enterprise+">department", nil)}},
		{"clearing userName is refused", `{"op":"Replace","path":"userName","value":""}`, 400, []check{scimError("400")}},
		{"clearing active is refused", `{"op":"Replace","path":"active","value":null}`, 400, []check{scimError("400")}},
		{"active that is no boolean is refused", `{"op":"Replace","path":"active","value":"maybe"}`, 400, []check{scimError("400")}},

		// Okta.
		{"Okta: deactivate", `{"op":"replace","value":{"active":false}}`, 200, []check{field("active", false)}},
		{"Okta: password sync is taken and not kept", `{"op":"replace","value":{"password":"t1meMachine"}}`, 200, []check{field("password", nil), field("active", true)}},
		{"Okta: profile", `{"op":"replace","value":{"id":"ignored","name":{"givenName":"Grace"}}}`, 200,
			[]check{field("name.givenName", "Grace"), field("name.familyName", "Lovelace")}},

		// RFC 7644 §3.5.2.
		{"RFC: add an email", `{"op":"add","path":"emails","value":[{"type":"other","value":"other-{mail}"}]}`, 200,
			[]check{emailOf("other", "other-{mail}"), emailOf("work", "{mail}")}},
		{"RFC: remove filtered emails", `{"op":"remove","path":"emails[type eq \"home\"]"}`, 200, []check{emailOf("home", ""), emailOf("work", "{mail}")}},
		{"RFC: replace a complex attribute in part", `{"op":"replace","path":"name","value":{"familyName":"Byron"}}`, 200,
			[]check{field("name.familyName", "Byron"), field("name.givenName", "Ada")}},
		{"RFC: remove without a path", `{"op":"remove"}`, 400, []check{scimError("400")}},

		// Bounds: a PATCH holds the member's row while it is applied.
		{"100 operations are taken", strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"title","value":"T"},`, 100), ","), 200, []check{field("title", "T")}},
		{"101 operations are refused", strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"title","value":"T"},`, 101), ","), 400, []check{scimError("400")}},
		{"more than 1000 values are refused", `{"op":"add","path":"emails","value":[` + strings.TrimSuffix(strings.Repeat(`{"value":"x@acme.example"},`, 1001), ",") + `]}`, 400, []check{scimError("400")}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				mail := fmt.Sprintf("u%d@acme.example", i)
				id := createFrom(t, alpha, fmt.Sprintf(patchUser, mail))
				status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(patchOp, strings.ReplaceAll(tc.ops, "{mail}", mail)))
				if status != tc.status {
					t.Fatalf("status %d %v; want %d", status, body, tc.status)
				}
				if status == 200 {
					_, body, _ = alpha.do("GET", "/scim/v2/Users/"+id, "")
				}
				for _, c := range tc.checks {
					c(t, withMail(body, mail))
				}
			})
		}
	})
}

// createFrom posts a user and returns its id.
func createFrom(t testing.TB, c client, body string) string {
	t.Helper()
	status, created, _ := c.do("POST", "/scim/v2/Users", body)
	if status != 201 {
		t.Fatalf("create: %d %v", status, created)
	}
	return created["id"].(string)
}

// withMail writes the user's address back as {mail} in a body's strings,
// so that checks can name it.
func withMail(v map[string]any, mail string) map[string]any {
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			return strings.ReplaceAll(v, mail, "{mail}")
		case map[string]any:
			for k, e := range v {
				v[k] = walk(e)
			}
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		}
		return v
	}
	return walk(v).(map[string]any)
}

// FuzzUserPatch: whatever operations a client sends, the answer is a SCIM
// response, never a 5xx, and a refused PATCH changes nothing.
func FuzzUserPatch(f *testing.F) {
	for _, s := range []string{
		`{"op":"Replace","value":{"name.givenName":"A","emails[type eq \"work\"].value":"w@acme.example"}}`,
		`{"op":"Add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m"}}`,
		`{"op":"Replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":null}}}`,
		`{"op":"Replace","path":"title","value":""}`, `{"op":"Add","path":"displayName","value":null}`,
		`{"op":"replace","path":"emails[type eq \"work\"].value","value":""}`, `{"op":"replace","value":{"active":"False"}}`,
		`{"op":"remove","path":"emails[value co \"@\"]"}`, `{"op":"replace","value":{"id":"x"}}`, `{"op":"replace","value":{}}`,
		`{"op":"replace","path":"userName","value":null}`, `{"op":"add","path":"name","value":{"givenName.x":1}}`,
		`{"op":"replace","value":{"emails[type eq":"x"}}`, `{"op":"replace","value":{"urn:x:y":{"a":1}}}`, `1`, `{"op":null,"path":"active"}`,
		// The enterprise extension under OneLogin's name, and under both;
		// emails as one object.
		`{"op":"replace","path":"urn:scim:schemas:extension:enterprise:2.0:department","value":"B"}`,
		`{"op":"replace","value":{"urn:scim:schemas:extension:enterprise:2.0":{"department":"B"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"A"}}}`,
		`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"A"},{"op":"replace","path":"urn:scim:schemas:extension:enterprise:2.0:department","value":"B"}`,
		`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"A"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"B"}}`,
		`{"op":"add","path":"emails","value":{"value":"o@acme.example","primary":"True"}}`, `{"op":"replace","value":{"emails":{"value":"o@acme.example"}}}`,
	} {
		f.Add(s)
	}
	s := storetest.SQLite(f)
	alpha, _, _ := setup(f, s)
	path := "/scim/v2/Users/" + createFrom(f, alpha, fmt.Sprintf(patchUser, "fuzz@acme.example"))
	f.Fuzz(func(t *testing.T, op string) {
		c := client{t, alpha.url, alpha.token}
		_, before, _ := c.do("GET", path, "")
		status, body, _ := c.do("PATCH", path, fmt.Sprintf(patchOp, op))
		if status >= 500 {
			t.Fatalf("operation %q: %d %v", op, status, body)
		}
		getStatus, after, _ := c.do("GET", path, "")
		if getStatus != 200 {
			t.Fatalf("operation %q: the user reads as %d afterwards", op, getStatus)
		}
		if status >= 400 && fmt.Sprint(before["meta"]) != fmt.Sprint(after["meta"]) {
			t.Fatalf("operation %q was refused (%d) but changed the user: %v -> %v", op, status, before["meta"], after["meta"])
		}
	})
}

// TestGroupPatchShapes applies every group PATCH shape Entra ID and Okta
// document, and the clearing forms, one at a time.
func TestGroupPatchShapes(t *testing.T) {
	t.Parallel()
	type check = func(t *testing.T, b map[string]any, u1, u2 string)
	hasMembers := func(want ...string) check {
		return func(t *testing.T, b map[string]any, u1, u2 string) {
			t.Helper()
			ids := map[string]string{"u1": u1, "u2": u2}
			var wantIDs []string
			for _, w := range want {
				wantIDs = append(wantIDs, ids[w])
			}
			if got := members(b); !slices.Equal(got, sortedIDs(wantIDs...)) {
				t.Errorf("members %v; want %v", got, sortedIDs(wantIDs...))
			}
		}
	}
	is := func(path string, want any) check {
		return func(t *testing.T, b map[string]any, _, _ string) { t.Helper(); field(path, want)(t, b) }
	}
	cases := []struct {
		name   string
		ops    string // {u1} and {u2} are the ids of two users; the group starts with u1
		status int
		checks []check
	}{
		{"Entra: rename", `{"op":"Replace","path":"displayName","value":"Renamed"}`, 204, []check{is("displayName", "Renamed"), hasMembers("u1")}},
		{"Entra: add members", `{"op":"Add","path":"members","value":[{"$ref":null,"value":"{u2}"}]}`, 204, []check{hasMembers("u1", "u2")}},
		{"Entra: remove members", `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"{u1}"}]}`, 204, []check{hasMembers()}},
		{"Okta: rename without a path", `{"op":"replace","value":{"id":"ignored","displayName":"Okta name"}}`, 204, []check{is("displayName", "Okta name"), hasMembers("u1")}},
		{"Okta: add a member", `{"op":"add","path":"members","value":[{"value":"{u2}","display":"u2"}]}`, 204, []check{hasMembers("u1", "u2")}},
		{"Okta: remove a member by filter", `{"op":"remove","path":"members[value eq \"{u1}\"]"}`, 204, []check{hasMembers()}},
		{"Okta: replace the members", `{"op":"replace","path":"members","value":[{"value":"{u2}"}]}`, 204, []check{hasMembers("u2")}},
		{"RFC: remove every member", `{"op":"remove","path":"members"}`, 204, []check{hasMembers()}},
		{"clear externalId with \"\"", `{"op":"Replace","path":"externalId","value":""}`, 204, []check{is("externalId", nil), is("displayName", "{name}")}},
		{"clear externalId with null, no path", `{"op":"Replace","value":{"externalId":null,"displayName":"Still here"}}`, 204, []check{is("externalId", nil), is("displayName", "Still here")}},
		{"clearing displayName is refused", `{"op":"Replace","path":"displayName","value":""}`, 400, []check{is("status", "400")}},
		{"an unknown member is refused", `{"op":"add","path":"members","value":[{"value":"nobody"}]}`, 400, []check{is("status", "400")}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		u1, u2 := createUser(t, alpha, "g1@acme.example"), createUser(t, alpha, "g2@acme.example")
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				name := fmt.Sprintf("Group %d", i)
				status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
					"displayName":%q,"externalId":"ext-%d","members":[{"value":%q}]}`, name, i, u1))
				if status != 201 {
					t.Fatalf("create: %d %v", status, g)
				}
				path := "/scim/v2/Groups/" + g["id"].(string)
				ops := strings.NewReplacer("{u1}", u1, "{u2}", u2).Replace(tc.ops)
				status, body, _ := alpha.do("PATCH", path, fmt.Sprintf(patchOp, ops))
				if status != tc.status {
					t.Fatalf("status %d %v; want %d", status, body, tc.status)
				}
				if status == 204 {
					_, body, _ = alpha.do("GET", path, "")
					if body["displayName"] == name {
						body["displayName"] = "{name}"
					}
				}
				for _, c := range tc.checks {
					c(t, body, u1, u2)
				}
			})
		}
	})
}
