package main

import (
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
