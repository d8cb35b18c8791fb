package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestSCIMEndToEnd: the token `admit scim-token create` prints lets an
// identity provider push a user and a group into that account through the
// running server; the CLI then sees the user, and a revoked token stops.
func TestSCIMEndToEnd(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		settings := []string{"ADMIT_DATABASE_URL=" + db, testKey}
		s := startServer(t, t.TempDir(), settings...)
		cli := func(args ...string) result {
			t.Helper()
			r := admitEnv(t, append(cleanEnv(), settings...), "", args...)
			if r.code != 0 {
				t.Fatalf("admit %v: %s", args, r.stderr)
			}
			return r
		}
		cli("account", "create", "--slug", "acme", "--name", "Acme")
		created := decode[map[string]any](t, cli("scim-token", "create", "--account", "acme", "--json"))
		token := created["token"].(string)
		call := func(method, path, body string) (int, map[string]any, http.Header) {
			t.Helper()
			return withBearer(t, token, method, s.url+path, "application/scim+json", strings.NewReader(body))
		}
		status, user, h := call("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example",
			"name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"value":"ada@acme.example","primary":true}],"active":true}`)
		if status != 201 || h.Get("Content-Type") != "application/scim+json" || !strings.HasPrefix(h.Get("Location"), "http://localhost:8080/scim/v2/Users/") {
			t.Fatalf("create: %d %v %v", status, user, h)
		}
		status, _, _ = call("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins","members":[{"value":"`+user["id"].(string)+`"}]}`)
		if status != 201 {
			t.Fatalf("create group: %d", status)
		}
		cli("role", "map", "--account", "acme", "--group", "admins", "--role", "admin")
		groups := decode[[]groupJSON](t, cli("group", "list", "--account", "acme", "--json"))
		if len(groups) != 1 || groups[0] != (groupJSON{Source: "scim", ID: groups[0].ID, DisplayName: "Admins", Members: 1, Role: "admin"}) || groups[0].ID == "" {
			t.Errorf("group list: %+v; want the pushed group with its one member and mapped role", groups)
		}
		if r := cli("group", "list", "--account", "acme"); !strings.Contains(r.stdout, "Admins  scim  1        admin") {
			t.Errorf("group list:\n%s", r.stdout)
		}
		if r := cli("user", "list", "--account", "acme"); !strings.Contains(r.stdout, "ada@acme.example") {
			t.Errorf("user list does not show the pushed user:\n%s", r.stdout)
		}
		cli("scim-token", "revoke", "--account", "acme", "--id", created["id"].(string))
		if status, body, h := call("GET", "/scim/v2/Users", ""); status != 401 || body["status"] != "401" || h.Get("WWW-Authenticate") == "" {
			t.Errorf("revoked token: %d %v", status, body)
		}
	})
}
