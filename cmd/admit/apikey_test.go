package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestAPIKeyEndToEnd: the key `admit api-key create` prints works against
// the running server (an account's key as its admin, an operator key
// creating an account); the CLI lists and revokes keys, and a revoked key
// is 401.
func TestAPIKeyEndToEnd(t *testing.T) {
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
		cli("account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example")
		created := decode[map[string]any](t, cli("api-key", "create", "--account", "acme", "--name", "billing sync", "--json"))
		key, _ := created["key"].(string)
		if !strings.HasPrefix(key, "admit_ak_") || created["account"] != "acme" || created["operator"] != false || created["base_url"] != "http://localhost:8080/api/v1" {
			t.Fatalf("api-key create: %v", created)
		}
		if r := cli("api-key", "create", "--account", "acme", "--name", "x"); !strings.Contains(r.stdout, "admit_ak_") || !strings.Contains(r.stdout, "shown only now") {
			t.Errorf("api-key create prints:\n%s", r.stdout)
		}
		call := func(key, method, path, body string) (int, map[string]any) {
			t.Helper()
			var b io.Reader
			if body != "" {
				b = strings.NewReader(body)
			}
			status, out, _ := withBearer(t, key, method, s.url+path, "application/json", b)
			return status, out
		}
		status, m := call(key, "POST", "/api/v1/accounts/acme/members", `{"email":"ada@acme.example","first_name":"Ada","last_name":"Lovelace","invite":true}`)
		if status != 201 || m["status"] != "invited" {
			t.Fatalf("add through the API: %d %v", status, m)
		}
		if r := cli("user", "list", "--account", "acme"); !strings.Contains(r.stdout, "ada@acme.example") {
			t.Errorf("the CLI does not see the API's member:\n%s", r.stdout)
		}
		if r := cli("audit", "list", "--account", "acme", "--action", "invitation.created"); !strings.Contains(r.stdout, "billing sync") {
			t.Errorf("the audit trail does not name the key:\n%s", r.stdout)
		}
		if status, _ := call(key, "POST", "/api/v1/accounts", `{"slug":"other","name":"Other"}`); status != 403 {
			t.Errorf("an account's key creates an account: %d", status)
		}
		op := decode[map[string]any](t, cli("api-key", "create", "--operator", "--name", "provisioning", "--json"))
		if op["operator"] != true {
			t.Fatalf("operator key: %v", op)
		}
		if status, a := call(op["key"].(string), "POST", "/api/v1/accounts", `{"slug":"globex","name":"Globex"}`); status != 201 || a["slug"] != "globex" {
			t.Errorf("operator key creates an account: %d %v", status, a)
		}
		// The server passes the guarded client's rule to the directory:
		// an owners' webhook at a private address is refused when added.
		if status, p := call(op["key"].(string), "POST", "/api/v1/accounts/acme/webhooks", `{"url":"https://10.1.2.3/hooks"}`); status != 400 || !strings.Contains(fmt.Sprint(p["detail"]), "10.1.2.3 is a private address") {
			t.Errorf("an owners' webhook at a private address: %d %v; want 400 saying why", status, p)
		}
		keys := decode[[]map[string]any](t, cli("api-key", "list", "--account", "acme", "--json"))
		if len(keys) != 2 || keys[0]["key"] != nil || keys[0]["last_used_at"] == nil {
			t.Errorf("api-key list: %v", keys)
		}
		if ops := decode[[]map[string]any](t, cli("api-key", "list", "--operator", "--json")); len(ops) != 1 {
			t.Errorf("operator keys: %v", ops)
		}
		cli("api-key", "revoke", "--account", "acme", "--id", created["id"].(string))
		if status, _ := call(key, "GET", "/api/v1/accounts/acme", ""); status != 401 {
			t.Errorf("revoked key: %d; want 401", status)
		}
		for _, args := range [][]string{
			{"api-key", "create", "--name", "x"},
			{"api-key", "create", "--account", "acme", "--operator", "--name", "x"},
			{"api-key", "create", "--account", "acme"},
		} {
			if r := admitEnv(t, append(cleanEnv(), settings...), "", args...); r.code != 2 {
				t.Errorf("admit %v: exit %d; want 2 (usage)\n%s", args, r.code, r.stderr)
			}
		}
		if r := admitEnv(t, append(cleanEnv(), settings...), "", "api-key", "revoke", "--account", "globex", "--id", created["id"].(string)); r.code == 0 {
			t.Error("globex revoked acme's key")
		}
	})
}
