package main

import (
	"strings"
	"testing"

	"github.com/admit-dev/admit/store/storetest"
)

// TestTableCells: a cell a person wrote (a name holding a tab, a newline
// or a terminal escape) stays in its column and on its row, and an empty
// cell shows as "-" so that the columns can still be counted.
func TestTableCells(t *testing.T) {
	tb := newTable("EMAIL", "NAME", "ROLE")
	tb.add("ann@example.com", "Ann\tEvil\nRow\x1b[31m", "member")
	tb.add("bo@example.com", "", "admin")
	lines := strings.Split(tb.String(), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines; want a header and two rows:\n%s", len(lines), tb)
	}
	for i, want := range [][]string{{"EMAIL", "NAME", "ROLE"}, {"ann@example.com", "Ann?Evil?Row?[31m", "member"}, {"bo@example.com", "-", "admin"}} {
		if got := strings.Fields(lines[i]); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("line %d = %q; want the cells %q", i, lines[i], want)
		}
	}
	if col := strings.Index(lines[0], "ROLE"); strings.Index(lines[1], "member") != col || strings.Index(lines[2], "admin") != col {
		t.Errorf("the ROLE column is not aligned:\n%s", tb)
	}
}

// TestListsHaveHeaders: the built binary's lists print a header row over
// aligned columns, and a sentence, not an empty line, when there is
// nothing to list.
func TestListsHaveHeaders(t *testing.T) {
	db := storetest.SQLiteURL(t)
	for _, args := range [][]string{
		{"account", "create", "--slug", "acme", "--name", "Acme"},
		{"user", "add", "--account", "acme", "--email", "a.very.long.address.indeed@acme.example", "--first", "Ann", "--last", "Long", "--invite"},
		{"user", "add", "--account", "acme", "--email", "bo@acme.example", "--first", "Bo", "--last", "B", "--role", "admin", "--invite"},
	} {
		if r := admit(t, db, "", args...); r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
	}
	r := admit(t, db, "", "user", "list", "--account", "acme")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "EMAIL NAME ROLE STATUS" {
		t.Fatalf("user list: exit %d\n%s", r.code, r.stdout)
	}
	if col := strings.Index(lines[0], "ROLE"); strings.Index(lines[1], "member") != col || strings.Index(lines[2], "admin") != col {
		t.Errorf("user list: the ROLE column is not aligned:\n%s", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"account", "list"}, "SLUG"},
		{[]string{"invite", "list", "--account", "acme"}, "EMAIL"},
		{[]string{"domain", "list", "--account", "acme"}, "acme has no domains"},
		{[]string{"scim-token", "list", "--account", "acme"}, "no SCIM tokens in acme"},
		{[]string{"api-key", "list", "--account", "acme"}, "no API keys"},
		{[]string{"app", "list"}, "no apps registered"},
		{[]string{"webhook", "list"}, "no webhooks"},
		{[]string{"audit", "list", "--account", "acme"}, "AT"},
		{[]string{"mail", "list", "--account", "acme"}, "ID"},
	} {
		r := admit(t, db, "", tc.args...)
		if first, _, _ := strings.Cut(r.stdout, "\n"); r.code != 0 || !strings.HasPrefix(first, tc.want) {
			t.Errorf("%v: exit %d, first line %q; want it to start %q", tc.args, r.code, first, tc.want)
		}
	}
}
