package main

import (
	"os"
	"strings"
	"testing"
)

// TestOperatorCommands adds, lists and removes an operator through the
// binary, with the mistakes an operator at a terminal makes (the audit
// trail of both changes is checked in package admin).
func TestOperatorCommands(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		env := append(os.Environ(), "ADMIT_DATABASE_URL="+db, testKey)
		run := func(args ...string) result { return admitWith(t, env, "", args...) }
		if r := run("account", "create", "--slug", "ops", "--name", "Ops"); r.code != 0 {
			t.Fatalf("account create: %s", r.stderr)
		}
		if r := run("user", "add", "--account", "ops", "--email", "oscar@ops.example", "--first", "Oscar", "--last", "O", "--invite"); r.code != 0 {
			t.Fatalf("user add: %s", r.stderr)
		}
		if r := run("operator", "list"); r.code != 0 || !strings.Contains(r.stdout, "no operators") {
			t.Errorf("empty list: exit %d, %q", r.code, r.stdout)
		}
		r := run("operator", "add", "--email", " Oscar@ops.example", "--json")
		o := decode[map[string]string](t, r)
		if r.code != 0 || o["email"] != "oscar@ops.example" || o["user_id"] == "" {
			t.Fatalf("operator add: exit %d, %v, %s", r.code, o, r.stderr)
		}
		if r := run("operator", "add", "--email", "oscar@ops.example"); r.code != exitError || !strings.Contains(r.stderr, "is an operator already") {
			t.Errorf("adding twice: exit %d, %q", r.code, r.stderr)
		}
		if r := run("operator", "add", "--email", "nobody@ops.example"); r.code != exitError || !strings.Contains(r.stderr, "there is no user nobody@ops.example") {
			t.Errorf("an unknown person: exit %d, %q", r.code, r.stderr)
		}
		if r := run("operator", "add"); r.code != exitUsage || !strings.Contains(r.stderr, "--email") {
			t.Errorf("missing --email: exit %d, %q", r.code, r.stderr)
		}
		list := decode[[]map[string]string](t, run("operator", "list", "--json"))
		if len(list) != 1 || list[0]["email"] != "oscar@ops.example" {
			t.Errorf("operator list = %v", list)
		}
		if r := run("operator", "remove", "--email", "oscar@ops.example"); r.code != 0 {
			t.Errorf("remove: exit %d, %q", r.code, r.stderr)
		}
		if r := run("operator", "remove", "--email", "oscar@ops.example"); r.code != exitError || !strings.Contains(r.stderr, "is not an operator") {
			t.Errorf("removing twice: exit %d, %q", r.code, r.stderr)
		}
	})
}
