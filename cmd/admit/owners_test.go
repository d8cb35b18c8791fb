package main

import (
	"maps"
	"strings"
	"testing"
)

// TestSetRoleKeepsTheLastOwner: admit user set-role gives a member
// another role under the console's rules (a role of the account's, the
// console's audit event), and neither it nor user deactivate takes away
// the account's last active owner (the audit event is the directory's
// test's): one line saying the way out, exit 1
// (with --json, an error object of kind conflict). An invited owner is no
// owner yet; an active one is.
func TestSetRoleKeepsTheLastOwner(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme")
		for _, who := range []string{"olive", "bob"} {
			if r := admit(t, db, "a long enough password\n", "user", "add", "--account", "acme", "--email", who+"@acme.example", "--first", "F", "--last", "L", "--role", map[string]string{"olive": "owner", "bob": "member"}[who], "--password-stdin"); r.code != 0 {
				t.Fatalf("add %s: %d %s", who, r.code, r.stderr)
			}
		}
		if r := admit(t, db, "", "user", "add", "--account", "acme", "--email", "ivy@acme.example", "--first", "I", "--last", "V", "--invite"); r.code != 0 {
			t.Fatalf("invite: %d %s", r.code, r.stderr)
		}
		const wayOut = "Make another member an owner first, or delete the account.\n"
		for _, tc := range []struct {
			name string
			args []string
			code int
			out  string
		}{
			{"demote the only owner", []string{"user", "set-role", "--account", "acme", "--email", "olive@acme.example", "--role", "admin"}, exitError,
				"admit: olive@acme.example is the last active owner of this account: demoting them would leave it without one. " + wayOut},
			{"deactivate the only owner", []string{"user", "deactivate", "--account", "acme", "--email", "olive@acme.example"}, exitError,
				"admit: olive@acme.example is the last active owner of this account: deactivating them would leave it without one. " + wayOut},
			{"an invited owner", []string{"user", "set-role", "--account", "acme", "--email", "ivy@acme.example", "--role", "owner", "--json"}, 0, `"role": "owner"`},
			{"beside an invited owner", []string{"user", "set-role", "--account", "acme", "--email", "olive@acme.example", "--role", "member", "--json"}, exitError, `"kind": "conflict"`},
			{"no such role", []string{"user", "set-role", "--account", "acme", "--email", "bob@acme.example", "--role", "auditor"}, exitError, `role "auditor" does not exist in this account`},
			{"no role", []string{"user", "set-role", "--account", "acme", "--email", "bob@acme.example"}, exitUsage, "missing --role"},
			{"another owner", []string{"user", "set-role", "--account", "acme", "--email", "BOB@acme.example", "--role", "owner"}, 0, "bob@acme.example is owner in acme\n"},
			{"then the first may go", []string{"user", "set-role", "--account", "acme", "--email", "olive@acme.example", "--role", "member"}, 0, "olive@acme.example is member in acme\n"},
		} {
			r := admit(t, db, "", tc.args...)
			got := r.stdout + r.stderr
			if r.code != tc.code || !strings.Contains(got, tc.out) {
				t.Errorf("%s: exit %d %s; want %d with %q", tc.name, r.code, got, tc.code, tc.out)
			}
			if r.code == exitError && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%s: the reason takes %d lines: %q", tc.name, strings.Count(r.stderr, "\n"), r.stderr)
			}
		}
	})
}

// TestUserRemove: admit user remove takes a member out of one account
// (the directory's Remove, as the console's Remove): the person keeps
// their other accounts and their user, the removal is audited as the
// command line's and announced (membership.deleted). Each refusal is one
// line and exit 1 (the last active owner, naming the way out; an unknown
// account, an unknown address, a person who is no member), or exit 2 with
// the synopsis for a missing flag; with --json an error object of its kind.
func TestUserRemove(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		for _, slug := range []string{"acme", "globex"} {
			admit(t, db, "", "account", "create", "--slug", slug, "--name", slug)
		}
		add := func(slug, email, role string) {
			t.Helper()
			if r := admit(t, db, "a long enough password\n", "user", "add", "--account", slug, "--email", email, "--first", "F", "--last", "L", "--role", role, "--password-stdin"); r.code != 0 {
				t.Fatalf("add %s to %s: %d %s", email, slug, r.code, r.stderr)
			}
		}
		add("acme", "olive@acme.example", "owner")
		add("acme", "bob@acme.example", "member")
		add("globex", "bob@acme.example", "member")
		add("globex", "gus@globex.example", "member")
		add("acme", "carl@acme.example", "member")

		for _, tc := range []struct {
			name string
			args []string
			code int
			out  string
		}{
			{"the last owner", []string{"--account", "acme", "--email", "olive@acme.example"}, exitError,
				"admit: olive@acme.example is the last active owner of this account: removing them would leave it without one. Make another member an owner first, or delete the account.\n"},
			{"the last owner, --json", []string{"--account", "acme", "--email", "olive@acme.example", "--json"}, exitError, `"kind": "conflict"`},
			{"an unknown account", []string{"--account", "nope", "--email", "bob@acme.example"}, exitError, `admit: no account "nope"`},
			{"an unknown address", []string{"--account", "acme", "--email", "nobody@acme.example", "--json"}, exitError, `"kind": "not_found"`},
			{"no member", []string{"--account", "acme", "--email", "gus@globex.example"}, exitError, "admit: gus@globex.example is not a member of this account\n"},
			{"no address", []string{"--account", "acme"}, exitUsage, "usage: admit user remove --account S --email E"},
		} {
			r := admit(t, db, "", append([]string{"user", "remove"}, tc.args...)...)
			got := r.stdout + r.stderr
			if r.code != tc.code || !strings.Contains(got, tc.out) {
				t.Errorf("%s: exit %d %s; want %d with %q", tc.name, r.code, got, tc.code, tc.out)
			}
			if r.code == exitError && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%s: the reason takes %d lines: %q", tc.name, strings.Count(r.stderr, "\n"), r.stderr)
			}
		}
		if r := admit(t, db, "", "user", "list", "--account", "acme"); !strings.Contains(r.stdout, "olive@acme.example") {
			t.Errorf("the refusals changed acme's members: %s", r.stdout)
		}

		removed := decode[map[string]any](t, admit(t, db, "", "user", "remove", "--account", "acme", "--email", "Bob@acme.example", "--json"))
		if removed["account"] != "acme" || removed["email"] != "bob@acme.example" || removed["removed"] != true || removed["role"] != "member" {
			t.Errorf("user remove --json: %v", removed)
		}
		if r := admit(t, db, "", "user", "list", "--account", "acme"); strings.Contains(r.stdout, "bob@") {
			t.Errorf("bob still in acme: %s", r.stdout)
		}
		if r := admit(t, db, "", "user", "list", "--account", "globex"); !strings.Contains(r.stdout, "bob@acme.example") {
			t.Errorf("bob's globex membership went with acme's: %s", r.stdout)
		}
		if r := admit(t, db, "", "audit", "list", "--account", "acme", "--action", "membership.deleted", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"source": "cli"`) || !strings.Contains(r.stdout, "bob@acme.example") {
			t.Errorf("audit of the removal: exit %d %s %s", r.code, r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "events", "tail", "--account", "acme", "--json"); !strings.Contains(r.stdout, `"type":"membership.deleted"`) && !strings.Contains(r.stdout, `"type": "membership.deleted"`) {
			t.Errorf("no membership.deleted in acme's events: %s %s", r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "user", "remove", "--account", "acme", "--email", "bob@acme.example"); r.code != exitError || !strings.Contains(r.stderr, "not a member") {
			t.Errorf("removed twice: exit %d %s", r.code, r.stderr)
		}

		// acme was carl's only account: his user stays, so adding him
		// again finds it (their password is not replaced).
		if r := admit(t, db, "", "user", "remove", "--account", "acme", "--email", "carl@acme.example"); r.code != 0 || r.stdout != "removed carl@acme.example from acme; their sessions and app tokens there have ended, and their user stays (admit user erase deletes it)\n" {
			t.Errorf("remove carl: exit %d %q %s", r.code, r.stdout, r.stderr)
		}
		again := decode[map[string]any](t, admit(t, db, "another password given\n", "user", "add", "--account", "acme", "--email", "carl@acme.example", "--first", "C", "--last", "L", "--password-stdin", "--json"))
		if again["new_user"] != false {
			t.Errorf("carl added again: %v; want his user found (new_user false)", again)
		}
	})
}

// TestAccountListOwners: admit account list counts each account's
// active owners (a deactivated or invited owner is none), and
// --without-owner keeps the accounts that have none: the one left so by
// an erasure with --orphan-ok (as SCIM deprovisioning may), and one made
// with no members.
func TestAccountListOwners(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		for _, slug := range []string{"acme", "bolt", "empty"} {
			admit(t, db, "", "account", "create", "--slug", slug, "--name", slug)
		}
		add := func(slug, email, role string) {
			t.Helper()
			if r := admit(t, db, "a long enough password\n", "user", "add", "--account", slug, "--email", email, "--first", "F", "--last", "L", "--role", role, "--password-stdin"); r.code != 0 {
				t.Fatalf("add %s to %s: %d %s", email, slug, r.code, r.stderr)
			}
		}
		add("acme", "olive@acme.example", "owner")
		add("acme", "otto@acme.example", "owner")
		add("acme", "dora@acme.example", "owner")
		add("acme", "ann@acme.example", "admin")
		if r := admit(t, db, "", "user", "deactivate", "--account", "acme", "--email", "dora@acme.example"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if r := admit(t, db, "", "invite", "create", "--account", "acme", "--email", "ivy@acme.example", "--role", "owner"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		add("bolt", "boss@bolt.example", "owner")
		add("bolt", "bea@bolt.example", "member")
		if r := admit(t, db, "", "user", "erase", "--email", "boss@bolt.example", "--yes", "--orphan-ok"); r.code != 0 {
			t.Fatalf("erase bolt's owner: %d %s", r.code, r.stderr)
		}

		type listed struct {
			Slug   string `json:"slug"`
			Owners *int   `json:"owners"`
		}
		counts := func(args ...string) map[string]int {
			t.Helper()
			out := map[string]int{}
			for _, a := range decode[[]listed](t, admit(t, db, "", append([]string{"account", "list", "--json"}, args...)...)) {
				if a.Owners == nil {
					t.Fatalf("%s has no owners in the JSON", a.Slug)
				}
				out[a.Slug] = *a.Owners
			}
			return out
		}
		if got, want := counts(), map[string]int{"acme": 2, "bolt": 0, "empty": 0}; !maps.Equal(got, want) {
			t.Errorf("account list --json owners: %v; want %v", got, want)
		}
		if got, want := counts("--without-owner"), map[string]int{"bolt": 0, "empty": 0}; !maps.Equal(got, want) {
			t.Errorf("account list --without-owner --json: %v; want %v", got, want)
		}
		r := admit(t, db, "", "account", "list", "--without-owner")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "SLUG NAME DOMAINS OWNERS" ||
			strings.Join(strings.Fields(lines[1]), " ") != "bolt bolt - 0" || !strings.HasPrefix(lines[2], "empty ") {
			t.Errorf("account list --without-owner: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}

		// The way out: name an owner; then only empty is left.
		if r := admit(t, db, "", "user", "set-role", "--account", "bolt", "--email", "bea@bolt.example", "--role", "owner"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if got, want := counts("--without-owner"), map[string]int{"empty": 0}; !maps.Equal(got, want) {
			t.Errorf("after naming bolt's owner: %v; want %v", got, want)
		}
		if r := admit(t, db, "", "account", "delete", "--slug", "empty", "--yes"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if r := admit(t, db, "", "account", "list", "--without-owner"); r.code != 0 || r.stdout != "every account has an active owner\n" {
			t.Errorf("no account without an owner: exit %d %q %s", r.code, r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "account", "list", "--without-owner", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("no account without an owner, --json: exit %d %q", r.code, r.stdout)
		}
	})
}
