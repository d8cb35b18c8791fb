package scim_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// The compatibility suites replay, request by request, what identity
// providers send, as their public documentation describes it:
//
//   - Microsoft Entra ID: "Tutorial: Develop and plan provisioning for a
//     SCIM endpoint" (learn.microsoft.com), its User and Group operations,
//     with the request bodies Entra sends (capitalised ops, "$ref": null,
//     emails[type eq "work"].value paths), plus the externalId lookup
//     Entra makes before creating and the "Test connection" probe.
//   - Okta: the SCIM 2.0 test plan of "Build a SCIM provisioning
//     integration" (developer.okta.com) that Okta runs before listing an
//     app: list with count=1, look a user up by userName, create, read,
//     duplicate, unknown id, replace, deactivate; and Okta's group push.
//
// Each step names its request and what the client checks of the answer.

// step is one request of a sequence. {name} in path and body is replaced
// by vars[name]; save keeps response values for later steps.
type step struct {
	name   string
	method string
	path   string
	body   string
	status int
	check  func(t *testing.T, body map[string]any)
	save   map[string]string // var name -> top-level attribute of the response
	header []string          // request headers over the client's, name then value
}

func replay(t *testing.T, c client, vars map[string]string, steps []step) {
	t.Helper()
	expand := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
			s = strings.ReplaceAll(s, "%7B"+k+"%7D", url.QueryEscape(v)) // inside q(...)
		}
		return s
	}
	for _, st := range steps {
		status, body, _ := c.do(st.method, expand(st.path), expand(st.body), st.header...)
		if status != st.status {
			t.Fatalf("%s: %s %s: status %d, body %v; want %d", st.name, st.method, expand(st.path), status, body, st.status)
		}
		if st.check != nil {
			st.check(t, body)
			if t.Failed() {
				t.Fatalf("step %q failed", st.name)
			}
		}
		for name, attr := range st.save {
			v, _ := body[attr].(string)
			if v == "" {
				t.Fatalf("%s: no %s in %v", st.name, attr, body)
			}
			vars[name] = v
		}
	}
}

// Small checks of a response body.
func total(n int) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if b["totalResults"] != float64(n) || !hasSchema(b, "urn:ietf:params:scim:api:messages:2.0:ListResponse") {
			t.Errorf("totalResults %v, schemas %v; want %d in a ListResponse", b["totalResults"], b["schemas"], n)
		}
	}
}

func hasSchema(b map[string]any, urn string) bool {
	list, _ := b["schemas"].([]any)
	for _, s := range list {
		if s == urn {
			return true
		}
	}
	return false
}

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// field checks an attribute by its path: "name.givenName", or with ">"
// between the parts when a part has dots (the enterprise URN).
func field(path string, want any) func(*testing.T, map[string]any) {
	sep := "."
	if strings.Contains(path, ">") {
		sep = ">"
	}
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		var v any = b
		for part := range strings.SplitSeq(path, sep) {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		if v != want {
			t.Errorf("%s = %v; want %v (body %v)", path, v, want, b)
		}
	}
}

func all(checks ...func(*testing.T, map[string]any)) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		for _, c := range checks {
			c(t, b)
		}
	}
}

func scimError(status string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if !hasSchema(b, "urn:ietf:params:scim:api:messages:2.0:Error") || b["status"] != status {
			t.Errorf("error body %v; want the SCIM error schema with status %s", b, status)
		}
	}
}

func q(filter string) string { return url.QueryEscape(filter) }

func TestEntraIDProvisioningSequence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		vars := map[string]string{}
		replay(t, alpha, vars, []step{
			// "Test connection" in the Entra admin centre.
			{name: "test connection", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "e4e2d3b6-51b5-4f6f-8e0c-2b0d5b0a0c11"`), status: 200, check: total(0)},
			// Before creating, Entra looks the user up by its matching
			// attributes: externalId (objectId) and userName.
			{name: "get user by externalId, none", method: "GET", path: "/scim/v2/Users?filter=" + q(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), status: 200, check: total(0)},
			{name: "get user by query, zero results", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "non-existent user"`), status: 200, check: total(0)},
			{name: "create user", method: "POST", path: "/scim/v2/Users", status: 201, save: map[string]string{"user": "id"},
				body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee@testuser.com","active":true,
				"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@testuser.com"}],"meta":{"resourceType":"User"},
				"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`,
				check: all(field("userName", "Test_User_ab6490ee@testuser.com"), field("externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"), field("meta.resourceType", "User"))},
			{name: "get user", method: "GET", path: "/scim/v2/Users/{user}", status: 200, check: all(field("name.givenName", "givenName"), field("active", true), schemas(userURN))},
			{name: "get user by query", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "Test_User_ab6490ee@testuser.com"`), status: 200, check: total(1)},
			{name: "get user by externalId", method: "GET", path: "/scim/v2/Users?filter=" + q(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), status: 200, check: total(1)},
			{name: "update user, multi-valued properties", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@testuser.com"},
				{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`,
				check: field("name.familyName", "updatedFamilyName")},
			{name: "the new work email is found", method: "GET", path: "/scim/v2/Users?filter=" + q(`emails[type eq "work"].value eq "updatedEmail@testuser.com"`), status: 200, check: total(1)},
			{name: "update user, single-valued properties", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"userName","value":"5b50642d@testuser.com"}]}`,
				check: field("userName", "5b50642d@testuser.com")},
			{name: "add a manager (bare id) and department", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"26118915-6090-4610-87e4-49d8ca9f808d"},
				{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Finance"}]}`,
				check: all(field(enterprise+">department", "Finance"), field(enterprise+">manager>value", "26118915-6090-4610-87e4-49d8ca9f808d"), schemas(userURN, enterprise))},
			{name: "disable user (boolean as a string)", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
				check: field("active", false)},
			{name: "the user is inactive", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "5b50642d@testuser.com" and active eq false`), status: 200, check: total(1)},
			// Replace without a path, its value keyed by attribute paths,
			// the boolean a string again (the tutorial's "Update User"
			// with several attributes mapped).
			{name: "enable user, no path, paths as keys", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				header: []string{"Content-Type", "application/scim+json; charset=utf-8"},
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","value":{
				"active":"True","name.givenName":"updatedGivenName","title":"Manager",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Sales"}}]}`,
				check: all(field("active", true), field("name.givenName", "updatedGivenName"), field("title", "Manager"), field(enterprise+">department", "Sales"))},
			// An attribute the user lacks, named by a filter (the default
			// mappings of mobile and the work address).
			{name: "add a mobile number and a work address", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 425 555 0100"},
				{"op":"Add","path":"addresses[type eq \"work\"].formatted","value":"1 Microsoft Way"},
				{"op":"Add","path":"addresses[type eq \"work\"].locality","value":"Redmond"}]}`,
				check: all(elementWith("phoneNumbers", "type", "mobile", "value", "+1 425 555 0100"),
					elementWith("addresses", "type", "work", "formatted", "1 Microsoft Way"), elementWith("addresses", "type", "work", "locality", "Redmond"))},
			{name: "an app role assignment", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"Add","path":"roles","value":[{"primary":"False","type":"WindowsAzureActiveDirectoryRole","display":"Admin","value":"Admin"}]}]}`,
				check: elementWith("roles", "value", "Admin", "primary", false)},
			// With the aadOptscim062020 flag on the Tenant URL (Entra's
			// "Known issues ... SCIM 2.0 protocol compliance"): lowercase ops,
			// booleans, and several attributes in one value.
			{name: "flag on: work email, its primary, and active with userName", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","path":"emails[type eq \"work\"].value","value":"flagged@testuser.com"},
				{"op":"replace","path":"emails[type eq \"work\"].primary","value":true},
				{"op":"replace","value":{"active":false,"userName":"flagged@testuser.com"}}]}`,
				check: all(field("active", false), field("userName", "flagged@testuser.com"), elementWith("emails", "type", "work", "value", "flagged@testuser.com"))},
			{name: "flag on: enable", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`,
				check: field("active", true)},
			{name: "the manager is removed", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`,
				check: all(field(enterprise+">manager", nil), field(enterprise+">department", "Sales"))},
			{name: "a second user", method: "POST", path: "/scim/v2/Users", status: 201, save: map[string]string{"second": "id"},
				body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"4f0a6c8e-0e8b-4c55-9f9c-3d9d9a1b7c21","userName":"second@testuser.com","active":true,
				"emails":[{"primary":true,"type":"work","value":"second@testuser.com"}],"roles":[]}`},

			// Groups.
			{name: "get group by displayName, none", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members&filter=" + q(`displayName eq "displayName"`), status: 200, check: total(0)},
			{name: "create group", method: "POST", path: "/scim/v2/Groups", status: 201, save: map[string]string{"group": "id"},
				body:  `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`,
				check: all(field("displayName", "displayName"), field("meta.resourceType", "Group"))},
			{name: "get group", method: "GET", path: "/scim/v2/Groups/{group}?excludedAttributes=members", status: 200,
				check: all(field("displayName", "displayName"), field("members", nil))},
			{name: "get group by displayName", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members&filter=" + q(`displayName eq "displayName"`), status: 200, check: total(1)},
			{name: "update group, non-member attributes", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"displayName","value":"1879db59updatedDisplayName"}]}`},
			{name: "update group, add members", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"{user}"}]}]}`},
			{name: "is the user a member", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members&filter=" + q(`id eq "{group}" and members[value eq "{user}"]`), status: 200, check: total(1)},
			{name: "update group, remove members", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"{user}"}]}]}`},
			{name: "no longer a member", method: "GET", path: "/scim/v2/Groups?excludedAttributes=members&filter=" + q(`id eq "{group}" and members[value eq "{user}"]`), status: 200, check: total(0)},
			{name: "add two members in one operation", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"{user}"},{"$ref":null,"value":"{second}"}]}]}`},
			{name: "both are members", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: memberCount(2)},
			{name: "flag on: remove a member by filter", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"{second}\"]"}]}`},
			{name: "one member left", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: memberCount(1)},
			{name: "delete group", method: "DELETE", path: "/scim/v2/Groups/{group}", status: 204},
			{name: "delete user", method: "DELETE", path: "/scim/v2/Users/{user}", status: 204},
			{name: "deleted user is gone", method: "GET", path: "/scim/v2/Users/{user}", status: 404, check: scimError("404")},
		})
	})
}

func TestOktaProvisioningSequence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		vars := map[string]string{}
		const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Runscope.User@atko.example",
			"name":{"givenName":"Runscope","familyName":"User"},"emails":[{"primary":true,"value":"Runscope.User@atko.example","type":"work"}],
			"displayName":"Runscope User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`
		replay(t, alpha, vars, []step{
			{name: "the endpoint answers a one-user page", method: "GET", path: "/scim/v2/Users?count=1&startIndex=1", status: 200,
				check: func(t *testing.T, b map[string]any) {
					if !hasSchema(b, "urn:ietf:params:scim:api:messages:2.0:ListResponse") || b["startIndex"] != 1.0 || b["itemsPerPage"] == nil || b["Resources"] == nil {
						t.Errorf("list: %v", b)
					}
				}},
			{name: "check the user does not exist", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "Runscope.User@atko.example"`) + "&startIndex=1&count=100", status: 200, check: total(0)},
			{name: "create the user", method: "POST", path: "/scim/v2/Users", body: user, status: 201, save: map[string]string{"user": "id"},
				check: all(field("active", true), field("userName", "Runscope.User@atko.example"), field("name.familyName", "User"), field("name.givenName", "Runscope"))},
			{name: "the password is not returned", method: "GET", path: "/scim/v2/Users/{user}", status: 200,
				check: all(field("password", nil), field("userName", "Runscope.User@atko.example"))},
			{name: "find the user by userName", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "Runscope.User@atko.example"`), status: 200, check: total(1)},
			{name: "userName is case-insensitive", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "runscope.user@ATKO.example"`), status: 200, check: total(1)},
			{name: "creating the same user again", method: "POST", path: "/scim/v2/Users", body: user, status: 409, check: scimError("409")},
			{name: "an unknown id", method: "GET", path: "/scim/v2/Users/010101010101010101010101", status: 404, check: scimError("404")},
			{name: "profile update by PUT", method: "PUT", path: "/scim/v2/Users/{user}", status: 200,
				body: strings.Replace(user, `"givenName":"Runscope"`, `"givenName":"Another"`, 1), check: field("name.givenName", "Another")},
			{name: "deactivate", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
				check: field("active", false)},
			// A profile pushed while the user is deactivated carries
			// "active": false: it stays deactivated.
			{name: "profile update of a deactivated user", method: "PUT", path: "/scim/v2/Users/{user}", status: 200,
				header: []string{"Content-Type", "application/scim+json; charset=utf-8", "Accept", "application/scim+json"},
				body:   strings.Replace(strings.Replace(user, `"givenName":"Runscope"`, `"givenName":"Third"`, 1), `"active":true`, `"active":false`, 1),
				check:  all(field("name.givenName", "Third"), field("active", false))},
			{name: "reactivate", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body:  `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`,
				check: field("active", true)},

			// Group push.
			{name: "check the group does not exist", method: "GET", path: "/scim/v2/Groups?filter=" + q(`displayName eq "Test SCIMv2"`), status: 200, check: total(0)},
			{name: "push the group with its members", method: "POST", path: "/scim/v2/Groups", status: 201, save: map[string]string{"group": "id"},
				body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[{"value":"{user}","display":"Runscope.User@atko.example"}]}`,
				check: func(t *testing.T, b map[string]any) {
					if ms, _ := b["members"].([]any); len(ms) != 1 {
						t.Errorf("members %v", b["members"])
					}
				}},
			{name: "read the group", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: field("displayName", "Test SCIMv2")},
			{name: "rename", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"{group}","displayName":"Test SCIMv2 renamed"}}]}`},
			{name: "remove the member", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"{user}\"]"}]}`},
			{name: "add the member", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"{user}","display":"Runscope.User@atko.example"}]}]}`},
			// A push of changed membership removes and adds in one request.
			{name: "remove and add in one request", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"remove","path":"members[value eq \"{user}\"]"},
				{"op":"add","path":"members","value":[{"value":"{user}","display":"Runscope.User@atko.example"}]}]}`},
			{name: "the member is there once", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: memberCount(1)},
			{name: "the whole group by PUT", method: "PUT", path: "/scim/v2/Groups/{group}", status: 200,
				body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"{group}","displayName":"Test SCIMv2 renamed","members":[{"value":"{user}","display":"Runscope.User@atko.example"}]}`,
				check: all(field("displayName", "Test SCIMv2 renamed"), func(t *testing.T, b map[string]any) {
					if ms, _ := b["members"].([]any); len(ms) != 1 {
						t.Errorf("members after PUT: %v", b["members"])
					}
				})},
			{name: "list groups a page at a time", method: "GET", path: "/scim/v2/Groups?startIndex=1&count=100", status: 200, check: total(1)},
			// Import: users a page at a time, Okta's page after page.
			{name: "import users, first page", method: "GET", path: "/scim/v2/Users?startIndex=1&count=1", status: 200, check: page(1, 1, 1)},
			{name: "import users, past the last page", method: "GET", path: "/scim/v2/Users?startIndex=2&count=1", status: 200, check: page(1, 2, 0)},
			{name: "delete the pushed group", method: "DELETE", path: "/scim/v2/Groups/{group}", status: 204},
			{name: "the user stays", method: "GET", path: "/scim/v2/Users/{user}", status: 200, check: field("active", true)},
		})
		if vars["user"] == "" || vars["group"] == "" {
			t.Fatalf("sequence did not run: %v", vars)
		}
		// The pushed password is not only hidden: it is nowhere in the database.
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM memberships WHERE CAST(scim_attributes AS TEXT) LIKE '%1mz050nq%'`); err != nil || n != 0 {
			t.Errorf("%d memberships hold the pushed password (%v)", n, err)
		}
	})
}

// memberCount checks the number of a group's members.
func memberCount(n int) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if ms, _ := b["members"].([]any); len(ms) != n {
			t.Errorf("members %v; want %d", b["members"], n)
		}
	}
}

// OneLogin's "SCIM Provisioner with SAML (SCIM v2 Enterprise)" connector
// fills a JSON template (developers.onelogin.com, "Define your SCIM user
// schema") and sends it as it stands. What it sends, as seen on the wire in
// goauthentik/authentik#11249 and handled by other servers (15five's
// django-scim2, "OneLogin sends a dict despite the spec"):
//
//   - a lookup by userName before it creates, the query ending in "&";
//   - updates as a PUT of the whole template (the path ending in "?");
//   - schemas "urn:scim:schemas:core:2.0" and
//     "urn:scim:schemas:extension:enterprise:2.0", the enterprise
//     attributes under that second URN rather than RFC 7643's
//     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
//   - emails as one object where the template has one (its own
//     documentation's template does);
//   - "" for every template parameter the user has no value for, and a
//     manager object whose value is "" for a user without one;
//   - group members added and removed by PATCH with only their value (the
//     165-byte body of #11249 is exactly that shape);
//   - custom attributes the admin adds to the template, here under a
//     namespace of their own, which admit does not keep.
const oneLoginUser = `{"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],
	"userName":"onelogin-test-user01","name":{"familyName":" User 01","givenName":"AAA Test","formatted":"AAA Test  User 01"},
	"emails":[{"value":"test.user01@acme.example","type":"work","primary":true}],"title":"","userType":"","timezone":"",
	"addresses":[{"locality":"","region":"","country":""}],"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"badge":"{$user.custom_attribute_badge}"},
	"urn:scim:schemas:extension:enterprise:2.0":{"organization":"","division":"","department":"Finance",
	  "manager":{"value":"","displayName":" "}}}`

func TestOneLoginProvisioningSequence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		vars := map[string]string{}
		json := []string{"Content-Type", "application/json"}
		replay(t, alpha, vars, []step{
			{name: "look the user up by userName", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "onelogin-test-user01"`) + "&", header: json, status: 200, check: total(0)},
			{name: "create the user from the template", method: "POST", path: "/scim/v2/Users", body: oneLoginUser, header: json, status: 201, save: map[string]string{"user": "id"},
				check: all(field("userName", "onelogin-test-user01"), field("name.givenName", "AAA Test"), field("active", true),
					field(enterprise+">department", "Finance"), absent("urn:scim:schemas:extension:enterprise:2.0"), schemas(userURN, enterprise),
					absent("urn:ietf:params:scim:schemas:extension:acme:2.0:User"))},
			{name: "the user is found by userName", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "onelogin-test-user01"`) + "&", header: json, status: 200, check: total(1)},
			{name: "the user is found by email", method: "GET", path: "/scim/v2/Users?filter=" + q(`emails.value eq "test.user01@acme.example"`), header: json, status: 200, check: total(1)},
			{name: "update by PUT of the whole template", method: "PUT", path: "/scim/v2/Users/{user}?", header: json, status: 200,
				body:  strings.Replace(oneLoginUser, `"department":"Finance"`, `"department":"Treasury"`, 1),
				check: all(field(enterprise+">department", "Treasury"), field("active", true))},
			{name: "suspend by PUT with active false", method: "PUT", path: "/scim/v2/Users/{user}?", header: json, status: 200,
				body:  strings.Replace(oneLoginUser, `"userName"`, `"active":false,"userName"`, 1),
				check: field("active", false)},
			{name: "the suspended user reads inactive", method: "GET", path: "/scim/v2/Users/{user}", header: json, status: 200, check: field("active", false)},
			// The template has no active: a profile update of a suspended
			// user is no reactivation (RFC 7644 §3.5.1 lets an omitted
			// attribute be "not asserted").
			{name: "a profile update without active", method: "PUT", path: "/scim/v2/Users/{user}?", header: json, status: 200,
				body:  strings.Replace(oneLoginUser, `"givenName":"AAA Test"`, `"givenName":"Still Suspended"`, 1),
				check: all(field("name.givenName", "Still Suspended"), field("active", false))},
			{name: "still suspended", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "onelogin-test-user01" and active eq false`), status: 200, check: total(1)},
			{name: "unsuspend", method: "PUT", path: "/scim/v2/Users/{user}?", header: json, status: 200,
				body:  strings.Replace(oneLoginUser, `"userName"`, `"active":true,"userName"`, 1),
				check: field("active", true)},

			// Groups (roles or rules pushed with "Include in User Provisioning").
			{name: "look the group up by name", method: "GET", path: "/scim/v2/Groups?filter=" + q(`displayName eq "Finance"`) + "&", status: 200, check: total(0)},
			{name: "create the group", method: "POST", path: "/scim/v2/Groups", status: 201, save: map[string]string{"group": "id"},
				body:  `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Finance","members":[]}`,
				check: field("displayName", "Finance")},
			{name: "add the member", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"{user}"}]}]}`},
			{name: "the group has the member", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: memberCount(1)},
			{name: "remove the member", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members","value":[{"value":"{user}"}]}]}`},
			{name: "the group is empty", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: memberCount(0)},
			{name: "delete the group", method: "DELETE", path: "/scim/v2/Groups/{group}", status: 204},
			{name: "delete the user", method: "DELETE", path: "/scim/v2/Users/{user}", status: 204},
			{name: "the user is gone", method: "GET", path: "/scim/v2/Users/{user}", status: 404, check: scimError("404")},

			// The extension under both names is refused, not guessed at.
			{name: "the extension under both of its names", method: "POST", path: "/scim/v2/Users", header: json, status: 400,
				body:  strings.Replace(oneLoginUser, `"title":""`, `"title":"","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Audit"}`, 1),
				check: all(scimError("400"), field("scimType", "invalidSyntax"))},

			// The template of OneLogin's developer documentation has emails
			// as one object, not a list of them.
			{name: "create a user whose emails is one object", method: "POST", path: "/scim/v2/Users", header: json, status: 201, save: map[string]string{"second": "id"},
				body: `{"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"userName":"grace",
				"name":{"familyName":"Hopper","givenName":"Grace","formatted":"Grace Hopper"},
				"emails":{"value":"grace@acme.example","type":"work","primary":true},"title":"Rear Admiral"}`,
				check: field("title", "Rear Admiral")},
			{name: "the object's address is the user's", method: "GET", path: "/scim/v2/Users?filter=" + q(`emails.value eq "grace@acme.example"`), status: 200, check: total(1)},
			{name: "it reads back as a list of one", method: "GET", path: "/scim/v2/Users/{second}", status: 200, check: func(t *testing.T, b map[string]any) {
				if list, _ := b["emails"].([]any); len(list) != 1 || list[0].(map[string]any)["value"] != "grace@acme.example" {
					t.Errorf("emails %v; want one, grace@acme.example", b["emails"])
				}
			}},
		})
	})
}

// JumpCloud's Custom SCIM Identity Management integration (jumpcloud.com
// support, "Identity Management using a Custom SCIM Integration" and its
// group management considerations), as its requests are handled by other
// servers (uni-moni's JumpCloud notes: members added and removed as a list
// of {value} with the path "members" and no filter):
//
//   - "Test Connection" creates a test user (the Test User Email, which
//     must be in a domain the application accepts) and a test group, then
//     deletes both;
//   - a user is looked up by userName before it is created or updated;
//   - an update is a PATCH of one replace per changed attribute, with the
//     attribute's path; a suspended or unbound user gets replace active
//     false;
//   - a group is looked up by displayName (JumpCloud takes over a group of
//     the same name), created with its members (it creates no empty
//     group), renamed, its members added and removed by PATCH, and deleted
//     when it is deleted in JumpCloud.
func TestJumpCloudProvisioningSequence(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		vars := map[string]string{}
		const patch = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`
		replay(t, alpha, vars, []step{
			// Test Connection.
			{name: "look the test user up", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "jc-test@acme.example"`), status: 200, check: total(0)},
			{name: "create the test user", method: "POST", path: "/scim/v2/Users", status: 201, save: map[string]string{"test": "id"},
				body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jc-test@acme.example","active":true,
				"name":{"givenName":"JumpCloud","familyName":"Test"},"emails":[{"value":"jc-test@acme.example","type":"work","primary":true}]}`},
			{name: "create the test group", method: "POST", path: "/scim/v2/Groups", status: 201, save: map[string]string{"testGroup": "id"},
				body:  `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"JumpCloud Test Group","members":[{"value":"{test}"}]}`,
				check: memberCount(1)},
			{name: "delete the test group", method: "DELETE", path: "/scim/v2/Groups/{testGroup}", status: 204},
			{name: "delete the test user", method: "DELETE", path: "/scim/v2/Users/{test}", status: 204},

			// A user bound to the application.
			{name: "look the user up", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "ada@acme.example"`), status: 200, check: total(0)},
			{name: "create the user", method: "POST", path: "/scim/v2/Users", status: 201, save: map[string]string{"user": "id"},
				body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example","displayName":"Ada Lovelace",
				"name":{"givenName":"Ada","familyName":"Lovelace"},"title":"Analyst","active":true,
				"emails":[{"value":"ada@acme.example","type":"work","primary":true}],
				"phoneNumbers":[{"value":"+44 20 7946 0000","type":"work"}],
				"addresses":[{"type":"work","streetAddress":"12 St James's Square","locality":"London","country":"GB"}]}`,
				check: all(field("userName", "ada@acme.example"), field("active", true))},
			{name: "look the user up before updating", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "ada@acme.example"`), status: 200, check: total(1)},
			{name: "update: one replace per attribute", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: patch + `{"op":"replace","path":"name.givenName","value":"Augusta"},{"op":"replace","path":"name.familyName","value":"King"},
				{"op":"replace","path":"displayName","value":"Augusta King"},{"op":"replace","path":"title","value":"Countess"},
				{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"+44 20 7946 0001"}]}`,
				check: all(field("name.givenName", "Augusta"), field("name.familyName", "King"), field("title", "Countess"))},
			{name: "suspend", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: patch + `{"op":"replace","path":"active","value":false}]}`, check: field("active", false)},
			{name: "the user is inactive", method: "GET", path: "/scim/v2/Users?filter=" + q(`userName eq "ada@acme.example" and active eq false`), status: 200, check: total(1)},
			{name: "restore", method: "PATCH", path: "/scim/v2/Users/{user}", status: 200,
				body: patch + `{"op":"replace","path":"active","value":true}]}`, check: field("active", true)},

			// A user group bound to the application.
			{name: "look the group up by name", method: "GET", path: "/scim/v2/Groups?filter=" + q(`displayName eq "Engineering"`), status: 200, check: total(0)},
			{name: "create the group with its member", method: "POST", path: "/scim/v2/Groups", status: 201, save: map[string]string{"group": "id"},
				body:  `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"{user}"}]}`,
				check: all(field("displayName", "Engineering"), memberCount(1))},
			{name: "remove the member", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: patch + `{"op":"remove","path":"members","value":[{"value":"{user}"}]}]}`},
			{name: "the group is empty", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: memberCount(0)},
			{name: "add the member", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: patch + `{"op":"add","path":"members","value":[{"value":"{user}"}]}]}`},
			{name: "rename", method: "PATCH", path: "/scim/v2/Groups/{group}", status: 204,
				body: patch + `{"op":"replace","path":"displayName","value":"Platform Engineering"}]}`},
			{name: "the group is found by its new name", method: "GET", path: "/scim/v2/Groups?filter=" + q(`displayName eq "Platform Engineering"`), status: 200, check: total(1)},
			{name: "the group has its member", method: "GET", path: "/scim/v2/Groups/{group}", status: 200, check: all(field("displayName", "Platform Engineering"), memberCount(1))},
			{name: "delete the group", method: "DELETE", path: "/scim/v2/Groups/{group}", status: 204},
			{name: "the user stays", method: "GET", path: "/scim/v2/Users/{user}", status: 200, check: field("active", true)},
			{name: "delete the user", method: "DELETE", path: "/scim/v2/Users/{user}", status: 204},
			{name: "the user is gone", method: "GET", path: "/scim/v2/Users/{user}", status: 404, check: scimError("404")},
		})
	})
}

// elementWith checks that the multi-valued attribute attr has an element
// whose key is is, and whose sub is want.
func elementWith(attr, key, is, sub string, want any) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		list, _ := b[attr].([]any)
		for _, el := range list {
			if m, _ := el.(map[string]any); m[key] == is && m[sub] == want {
				return
			}
		}
		t.Errorf("%s has no element with %s %v and %s %v: %v", attr, key, is, sub, want, b[attr])
	}
}

// page checks a ListResponse's totalResults, startIndex and the resources
// it holds.
func page(total, start, n int) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		res, _ := b["Resources"].([]any)
		if b["totalResults"] != float64(total) || b["startIndex"] != float64(start) || len(res) != n || b["itemsPerPage"] != float64(n) {
			t.Errorf("page %v; want totalResults %d, startIndex %d, %d resources", b, total, start, n)
		}
	}
}

const userURN = "urn:ietf:params:scim:schemas:core:2.0:User"

// schemas checks a resource's schemas, in order.
func schemas(want ...string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		got, _ := b["schemas"].([]any)
		if len(got) != len(want) {
			t.Errorf("schemas %v; want %v", got, want)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("schemas %v; want %v", got, want)
			}
		}
	}
}

// absent checks that a resource has no attribute of that name.
func absent(name string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if v, ok := b[name]; ok {
			t.Errorf("%s is %v; want none", name, v)
		}
	}
}
