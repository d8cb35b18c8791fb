package scim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/admit-dev/admit/directory"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	eq := func(f directory.FilterField, v any) *directory.Filter {
		return &directory.Filter{Op: directory.OpEq, Field: f, Value: v}
	}
	tests := []struct {
		in   string
		want *directory.Filter
		bad  bool
	}{
		{in: "", want: nil},
		{in: `userName eq "ada@example.com"`, want: eq(directory.FieldUserName, "ada@example.com")},
		{in: `UserName Eq "x"`, want: eq(directory.FieldUserName, "x")},
		{in: `externalId eq "00u1"`, want: eq(directory.FieldExternalID, "00u1")},
		{in: `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, want: eq(directory.FieldUserName, "x")},
		{in: `emails.value eq "a@b.example"`, want: eq(directory.FieldEmail, "a@b.example")},
		{in: `emails[type eq "work" and value eq "a@b.example"]`, want: eq(directory.FieldEmail, "a@b.example")},
		{in: `emails[type eq "work"].value eq "a@b.example"`, want: eq(directory.FieldEmail, "a@b.example")},
		{in: `emails[type eq "wo]rk"].Value Eq "a\"]@b.example" and active eq true`, want: &directory.Filter{Op: directory.OpAnd,
			Left: eq(directory.FieldEmail, `a"]@b.example`), Right: eq(directory.FieldActive, true)}},
		{in: `emails[type eq "work"].value pr`, want: &directory.Filter{Op: directory.OpPr, Field: directory.FieldEmail}},
		{in: `emails[type eq "work"].value`, bad: true},
		{in: `emails[type eq "work"].value eq`, bad: true},
		{in: `name.givenName sw "Ad"`, want: &directory.Filter{Op: directory.OpSw, Field: directory.FieldGivenName, Value: "Ad"}},
		{in: `active eq false`, want: eq(directory.FieldActive, false)},
		{in: `title pr`, bad: true},
		{in: `meta.lastModified gt "2026-01-02T15:04:05Z"`, want: &directory.Filter{Op: directory.OpGt, Field: directory.FieldLastModified, Value: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)}},
		{in: `meta.lastModified gt "yesterday"`, bad: true},
		{in: `userName eq "a" or not (externalId pr)`, want: &directory.Filter{Op: directory.OpOr,
			Left:  eq(directory.FieldUserName, "a"),
			Right: &directory.Filter{Op: directory.OpNot, Left: &directory.Filter{Op: directory.OpPr, Field: directory.FieldExternalID}}}},
		{in: `userName eq`, bad: true},
		{in: `userName eq 42`, bad: true},
		{in: `active gt true`, bad: true},
		{in: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`, bad: true},
		{in: `groups[value eq "1"]`, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseFilter(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("parsed %+v; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseFilter: any filter string gives a filter that checks, or an
// error; never a panic.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `emails[type eq "work"]`, `not (a pr) and b eq 1`, `((`, `meta.lastModified ge "2026-01-01T00:00:00Z"`,
		`emails[type eq "work"].value eq "a\"]b"`, `members[value eq "x"].value pr`, `id eq "g" and members[value eq "u"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rf := range []resourceFilter{userFilter, groupFilter} {
			got, err := rf.parse(s)
			if err == nil && got != nil {
				if cerr := got.Check(); cerr != nil {
					t.Fatalf("%q parsed into a filter that does not check: %v", s, cerr)
				}
			}
		}
	})
}

// TestLookupFastPath: the lookup filters parse reads without the general
// parser come out exactly as the general parser makes them, and what it
// does not read is left to that parser.
func TestLookupFastPath(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`userName eq "ada@example.com"`, `UserName EQ "x"`, `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`,
		`id eq "0193"`, `displayName eq "Platform Admins"`, `userName eq ""`, `userName eq "a b"`,
		`userName eq "non-existent user"`, `userName eq "ü@exämple.com"`,
	} {
		fast := userFilter.lookup(in)
		if fast == nil {
			t.Errorf("%s: not read by the fast path", in)
			continue
		}
		expr, err := filter.ParseFilter([]byte(foldSubAttribute(in)))
		if err != nil {
			t.Errorf("%s: the general parser refuses it: %v", in, err)
			continue
		}
		general, _, err := userFilter.convert(expr, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(general, fast); diff != "" {
			t.Errorf("%s: (-general +fast)\n%s", in, diff)
		}
	}
	for _, in := range []string{
		`userName eq "a\"b"`, `userName eq "a\\b"`, `userName eq "a" and active eq true`, `userName sw "a"`,
		`userName eq a`, `active eq true`, `emails eq "a@b.example"`, `title eq "x"`, `userName eq "a" "b"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `userName eq "x`, `userName`,
		`  userName  eq  "a b"  `, ` userName eq "x"`, `userName eq "x" `, "userName eq \"a\tb\"", "userName eq \"a\xffb\"",
	} {
		if f := userFilter.lookup(in); f != nil {
			t.Errorf("%s: the fast path read it as %+v; want it left to the general parser", in, f)
		}
	}
	if f := groupFilter.lookup(`displayName eq "Admins"`); f == nil || f.Field != directory.FieldDisplayName {
		t.Errorf("group lookup by displayName: %+v", f)
	}
}
