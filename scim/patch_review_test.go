package scim_test

import (
	"fmt"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// A review's findings: PATCH paths the new reader takes that the library
// refused.

// TestNestedValuePathIsAPatch: a value path inside a value path's
// brackets is no PATCH path (RFC 7644 §3.5.2, and the library refused it:
// 400 invalidPath before 0621a03). Now it is applied: no element matches
// it, so a new email is added, holding the operation's value. Before the fix (to
// 0621a03) (200, and emails gains {"value":"stray@acme.example"}).
func TestNestedValuePathIsAPatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "ada@acme.example")
		status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"emails[emails[type eq \"work\"]].value","value":"stray@acme.example"}]}`)
		if status != 400 || body["scimType"] != "invalidPath" {
			t.Errorf("%d %v; want 400 invalidPath", status, body)
		}
		_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
		if emails := fmt.Sprint(got["emails"]); emails != "[map[primary:true value:ada@acme.example]]" {
			t.Errorf("emails now %s", emails)
		}
	})
}

// TestPatchPathStringsAreDecoded: a string in a PATCH path's filter
// is JSON (RFC 7644 §3.4.2.2 compValue); admit keeps it with its escapes
// as sent, and patchElements and addEqualities compare and store it so,
// where a filter's strings are decoded (scim.compare). With \u00E9 this
// was so before 0621a03 too; \u00e9, which the library refused (it took
// only upper-case hex digits), now reaches it as well. Failed before the fix:
// the new email's address is h\u00e9@acme.example, backslash and all.
func TestPatchPathStringsAreDecoded(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for i, hex := range []string{`\\u00e9`, `\\u00E9`} {
			id := createUser(t, alpha, fmt.Sprintf("user%d@acme.example", i))
			status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations":[{"op":"add","path":"emails[type eq \"home\" and value eq \"h`+hex+`@acme.example\"].display","value":"Home"}]}`)
			if status != 200 {
				t.Fatalf("%d %v", status, body)
			}
			found := false
			for _, e := range body["emails"].([]any) {
				m := e.(map[string]any)
				if m["type"] == "home" {
					found = true
					if m["value"] != "hé@acme.example" {
						t.Errorf("%s: the home email is %q; want %q", hex, m["value"], "hé@acme.example")
					}
				}
			}
			if !found {
				t.Errorf("%s: no home email: %v", hex, body["emails"])
			}
		}
	})
}

// TestNULInAttributesIsRefused: a NUL (\u0000) in an attribute admit
// keeps without its own check (title, an extension's attribute, an email's
// display, a group's externalId) is a 500 on PostgreSQL, which refuses it
// in text, and is stored on SQLite (DESIGN rule 9, and the same tests on
// both databases). Not made by 0621a03 (0621a03^ answers the same), which
// mended this for filters only; name.givenName and displayName already
// refuse control characters. Failed before the fix (PostgreSQL: 500; SQLite:
// 201/200).
func TestNULInAttributesIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "ada@acme.example")
		for i, tc := range []struct{ method, path, body string }{
			{"POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%d@acme.example","title":"a\u0000b"}`},
			{"POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%d@acme.example",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"a\u0000b"}}`},
			{"POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G%d","externalId":"a\u0000b"}`},
			{"PATCH", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"a\u0000b%d"}]}`},
			{"PATCH", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails","value":[{"type":"home","value":"h%d\u0000@acme.example"}]}]}`},
		} {
			status, body, _ := alpha.do(tc.method, tc.path, fmt.Sprintf(tc.body, i))
			if status != 400 {
				t.Errorf("%s %s %s: %d %v; want 400", tc.method, tc.path, tc.body, status, body["detail"])
			}
		}
	})
}

// TestRemovingActiveIsRefused: active has no "unassigned". A PATCH that
// removes it is refused, and the user stays deactivated: read as the
// default, true, it reactivated them. (A review's finding.)
func TestRemovingActiveIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "ada@acme.example")
		patch := func(op string) (int, map[string]any) {
			status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`)
			return status, body
		}
		if status, body := patch(`{"op":"replace","path":"active","value":false}`); status != 200 {
			t.Fatalf("deactivate: %d %v", status, body)
		}
		if status, body := patch(`{"op":"Remove","path":"Active"}`); status != 400 || body["scimType"] != "invalidValue" {
			t.Errorf("remove active: %d %v; want 400 invalidValue", status, body)
		}
		if _, body, _ := alpha.do("GET", "/scim/v2/Users/"+id, ""); body["active"] != false {
			t.Errorf("after the refused remove, active is %v; want false", body["active"])
		}
	})
}
