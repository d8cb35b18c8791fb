package scim

import (
	"fmt"
	"strings"
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
	and := func(l, r *directory.Filter) *directory.Filter {
		return &directory.Filter{Op: directory.OpAnd, Left: l, Right: r}
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
		{in: `emails[type eq "work" and value eq "a@b.example"]`, want: and(eq(directory.FieldEmailType, "work"), eq(directory.FieldEmail, "a@b.example"))},
		{in: `emails[type eq "work"].value eq "a@b.example"`, want: and(eq(directory.FieldEmailType, "work"), eq(directory.FieldEmail, "a@b.example"))},
		{in: `emails[type eq "wo]rk"].Value Eq "a\"]@b.example" and active eq true`, want: and(
			and(eq(directory.FieldEmailType, "wo]rk"), eq(directory.FieldEmail, `a"]@b.example`)), eq(directory.FieldActive, true))},
		{in: `emails[type eq "work"].value pr`, want: and(eq(directory.FieldEmailType, "work"), &directory.Filter{Op: directory.OpPr, Field: directory.FieldEmail})},
		{in: `emails[type eq "home"]`, want: eq(directory.FieldEmailType, "home")},
		{in: `emails[primary eq true or display pr]`, want: &directory.Filter{Op: directory.OpOr,
			Left: eq(directory.FieldEmailPrimary, true), Right: &directory.Filter{Op: directory.OpPr, Field: directory.FieldEmailDisplay}}},
		{in: `emails.type sw "wo"`, want: &directory.Filter{Op: directory.OpSw, Field: directory.FieldEmailType, Value: "wo"}},
		{in: `emails[primary gt true]`, bad: true},
		{in: `emails[primary eq "true"]`, bad: true},
		{in: `emails[type eq 1]`, bad: true},
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
		{in: ` userName eq "x" `, want: eq(directory.FieldUserName, "x")},
		{in: `emails[type eq "work" or type eq "home"].value eq "a@b.example"`, want: and(
			&directory.Filter{Op: directory.OpOr, Left: eq(directory.FieldEmailType, "work"), Right: eq(directory.FieldEmailType, "home")},
			eq(directory.FieldEmail, "a@b.example"))},
		{in: `(userName eq "a" or userName eq "b") and not (active eq false)`, want: &directory.Filter{Op: directory.OpAnd,
			Left:  &directory.Filter{Op: directory.OpOr, Left: eq(directory.FieldUserName, "a"), Right: eq(directory.FieldUserName, "b")},
			Right: &directory.Filter{Op: directory.OpNot, Left: eq(directory.FieldActive, false)}}},
		{in: `userName eq "a\u00e9\"b"`, want: eq(directory.FieldUserName, `aé"b`)},
		{in: terms(directory.MaxFilterTerms, "or"), want: orOf(directory.MaxFilterTerms)},
		{in: terms(directory.MaxFilterTerms+1, "or"), bad: true},
		{in: terms(directory.MaxFilterTerms+1, "and"), bad: true},
		{in: nested("(", ")", directory.MaxFilterTerms), want: eq(directory.FieldUserName, "a")},
		{in: nested("(", ")", directory.MaxFilterTerms+1), bad: true},
		{in: nested("not (", ")", directory.MaxFilterTerms+1), bad: true},
		{in: `userName eq "` + strings.Repeat("é", directory.MaxFilterValue) + `"`, want: eq(directory.FieldUserName, strings.Repeat("é", directory.MaxFilterValue))},
		{in: `userName eq "` + strings.Repeat("x", directory.MaxFilterValue+1) + `"`, bad: true},
		{in: "userName eq \"a\xffb\"", bad: true},
		{in: `userName eq "a\u0000b"`, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, _, err := parseFilter(tc.in)
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

// terms joins n comparisons with op.
func terms(n int, op string) string {
	t := make([]string, n)
	for i := range t {
		t[i] = fmt.Sprintf(`userName eq "a%d"`, i)
	}
	return strings.Join(t, " "+op+" ")
}

// orOf is what terms(n, "or") reads as: or binds to the left.
func orOf(n int) *directory.Filter {
	f := &directory.Filter{Op: directory.OpEq, Field: directory.FieldUserName, Value: "a0"}
	for i := 1; i < n; i++ {
		f = &directory.Filter{Op: directory.OpOr, Left: f, Right: &directory.Filter{Op: directory.OpEq, Field: directory.FieldUserName, Value: fmt.Sprintf("a%d", i)}}
	}
	return f
}

// nested wraps userName eq "a" in n of open and close.
func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + `userName eq "a"` + strings.Repeat(close, n)
}

// TestFilterMessages: a filter that cannot be read is answered with where
// reading stopped and what was expected there, in words.
func TestFilterMessages(t *testing.T) {
	t.Parallel()
	const values = "a string in quotes, a number, true, false or null"
	too := directory.Message(directory.FilterTooLargeError())
	for _, tc := range []struct{ in, want string }{
		{`userName eq`, `the filter cannot be read at character 12 (the end of the filter): expected a space and a value after eq: ` + values},
		{`userName eq `, `the filter cannot be read at character 13 (the end of the filter): expected a value after eq: ` + values},
		{`userName eq yes`, `the filter cannot be read at character 13 ("yes"): expected a value after eq: ` + values},
		{`userName xx "a"`, `the filter cannot be read at character 10 ("xx"): expected an operator after userName: eq, ne, co, sw, ew, gt, ge, lt, le or pr`},
		{`userName`, `the filter cannot be read at character 9 (the end of the filter): expected a space and an operator after userName: eq, ne, co, sw, ew, gt, ge, lt, le or pr`},
		{`userName eq "a" xor active eq true`, `the filter cannot be read at character 17 ("xor"): expected and, or or the end of the filter`},
		{`userName eq "a" and`, `the filter cannot be read at character 20 (the end of the filter): expected a condition after and`},
		{`(userName eq "a"`, `the filter cannot be read at character 17 (the end of the filter): expected and, or or )`},
		{`userName eq "a")`, `the filter cannot be read at character 16 (")"): expected and, or or the end of the filter; this ) closes no (`},
		{`emails[type eq "work"`, `the filter cannot be read at character 22 (the end of the filter): expected and, or or ]`},
		{`userName eq "abc`, `the filter cannot be read at character 13 ("\"abc"): expected a " to end the string that starts here`},
		{`userName eq "a\qb"`, `the filter cannot be read at character 13 ("\"a\\qb\""): expected a string whose escapes are \" \\ \/ \b \f \n \r \t or \u and four hex digits`},
		{`not userName eq "a"`, `the filter cannot be read at character 5 ("userName"): expected ( after not, as in not (userName eq "ada@example.com")`},
		{`42 eq "a"`, `the filter cannot be read at character 1 ("42"): expected a comparison, such as userName eq "ada@example.com", or not (...)`},
		{`displayName eq "ü" and x`, `the filter cannot be read at character 25 (the end of the filter): expected a space and an operator after x: eq, ne, co, sw, ew, gt, ge, lt, le or pr`},
		{`userName eq "` + strings.Repeat("y", 40) + `" or`, `the filter cannot be read at character 58 (the end of the filter): expected a condition after or`},
		{`userName eq "a" or ` + strings.Repeat("z", 40), `the filter cannot be read at character 60 (the end of the filter): expected a space and an operator after ` + strings.Repeat("z", 40) + `: eq, ne, co, sw, ew, gt, ge, lt, le or pr`},
		{terms(directory.MaxFilterTerms+1, "or"), too},
		{terms(10*directory.MaxFilterTerms, "and"), too},
		{nested("(", ")", 100000), too},
		{nested("not (", ")", directory.MaxFilterTerms+1), too},
		{nested("emails[", "]", directory.MaxFilterTerms+1), `the filter cannot be read at character 14 ("["): expected an operator after emails; a filter in [ ] cannot hold another [ ]`},
		{`userName eq "` + strings.Repeat("x", directory.MaxFilterValue+1) + `"`, fmt.Sprintf("a filter compares with strings of at most %d characters", directory.MaxFilterValue)},
	} {
		t.Run(tc.in[:min(len(tc.in), 60)], func(t *testing.T) {
			_, _, err := parseFilter(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	if !strings.Contains(too, fmt.Sprint(directory.MaxFilterTerms)) || !strings.Contains(too, "too large") {
		t.Errorf("the refusal of a large filter does not say the limit: %q", too)
	}
}

// TestFilterReaderIsLinear: reading a filter of a megabyte (what a request
// line may carry), or a PATCH path of one, grows with its length, whatever
// its shape; the library's parser took seconds and, nested, overflowed the
// stack. Each shape is read at a sixteenth of its size and at its whole:
// linear reading takes about 16 times as long, quadratic about 256 times.
// Compared within the run, best of three, in the time the reading spent
// on a core (cpuTime), so that a busy machine, which makes it wait for
// one, does not fail it, as a time limit and then wall-clock times did.
func TestFilterReaderIsLinear(t *testing.T) {
	t.Parallel()
	const big = 1 << 20
	shapes := map[string]func(n int) string{
		"long value":      func(n int) string { return `userName eq "` + strings.Repeat("x", n) + `"` },
		"long name":       func(n int) string { return strings.Repeat("x", n) + ` eq "a"` },
		"long uri":        func(n int) string { return strings.Repeat("x:", n/2) + `a eq "a"` },
		"long number":     func(n int) string { return `userName eq ` + strings.Repeat("1", n) },
		"many spaces":     func(n int) string { return `userName` + strings.Repeat(" ", n) + `eq "a"` },
		"deep":            func(n int) string { return strings.Repeat("(", n) },
		"many terms":      func(n int) string { return terms(n/20, "or") },
		"unclosed string": func(n int) string { return `userName eq "` + strings.Repeat(`\"`, n/2) },
	}
	read := func(in string) { _, _, _ = parseFilter(in) }
	for name, shape := range shapes {
		if small, whole := best(shape(big/16), read), best(shape(big), read); whole > 64*small+10*time.Millisecond {
			t.Errorf("%s: %v for the whole, %v for a sixteenth: it grows faster than its length", name, whole, small)
		}
	}
	// A PATCH body of a megabyte may be one path: 11 s with the library.
	path := func(n int) string { return `emails[value eq "` + strings.Repeat("x", n) + `"].display` }
	if _, err := readPath(path(big)); err != nil {
		t.Fatal(err)
	}
	readP := func(in string) { _, _ = readPath(in) }
	if small, whole := best(path(big/16), readP), best(path(big), readP); whole > 64*small+10*time.Millisecond {
		t.Errorf("a path of a megabyte: %v, of a sixteenth: %v", whole, small)
	}
}

// best is the shortest of three readings of in.
func best(in string, read func(string)) time.Duration {
	shortest := time.Duration(1<<63 - 1)
	for range 3 {
		shortest = min(shortest, cpuTime(func() { read(in) }))
	}
	return shortest
}

// TestReadsAsTheLibrary: the filters identity providers and RFC 7644
// send read as scim2/filter-parser reads them, value paths included.
func TestReadsAsTheLibrary(t *testing.T) {
	t.Parallel()
	sameAsTheLibrary(t, []string{
		`userName eq "ada@example.com"`, `userName Eq "a\"b\u00E9"`, `externalId eq "00u1" and active eq true`,
		`emails[type eq "work"]`, `emails [ type eq "work" ]`, `emails[type eq "work" and value co "@acme.example"]`,
		`emails[type eq "work" or primary eq true]`, `emails[not (type eq "work")]`, `members[value eq "2819c223"]`,
		`id eq "g" and members[value eq "u"]`, `title pr and (userType eq "Employee" or userType eq "Intern")`,
		`not (active eq false) or name.familyName sw "O'"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName co "a"`, `x eq -1.5e+3 or y eq 0 or z eq null or w eq FALSE`,
		`a pr or b pr and c pr or not(d pr)`, `((a pr))`,
	}, filter.ParseFilter, readFilter)
}

// sameAsTheLibrary checks that admit's reader (ours) reads each of ins
// as scim2/filter-parser (lib) does.
func sameAsTheLibrary[T any](t *testing.T, ins []string, lib func([]byte) (T, error), ours func(string) (T, error)) {
	t.Helper()
	for _, in := range ins {
		want, err := lib([]byte(in))
		if err != nil {
			t.Fatalf("%s: the library: %v", in, err)
		}
		got, err := ours(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-library +admit)\n%s", in, diff)
		}
	}
}

// TestReadsPathsAsTheLibrary: the PATCH paths Entra ID, Okta and RFC 7644
// send read as scim2/filter-parser reads them.
func TestReadsPathsAsTheLibrary(t *testing.T) {
	t.Parallel()
	sameAsTheLibrary(t, []string{
		`title`, `name.givenName`, `emails[type eq "work"]`, `emails[type eq "work"].value`, `emails[type eq "work" and primary eq true].value`,
		`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, `members`, `$ref`, `emails [type eq "work"]`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
		`addresses[type eq "work"].streetAddress`, `emails[not (type eq "work")]`, `x509Certificates[value pr]`,
	}, filter.ParsePath, readPath)
	for _, in := range []string{``, `emails[`, `emails[type eq "work"`, `emails[type eq]`, `name.`, `emails[type eq "work"]x`, `name givenName`, `1abc`} {
		if p, err := readPath(in); err == nil {
			t.Errorf("%q: read as %v; want an error", in, p)
		}
	}
	if _, err := readPath(`emails[type eq "work"`); err == nil || err.Error() != `the path cannot be read at character 22 (the end of the path): expected and, or or ]` {
		t.Errorf("error %v", err)
	}
}

// FuzzParseFilter: any filter string gives a filter that checks, or an
// error that says what is wrong in words (never the library's "parse
// conflict"); never a panic. What scim2/filter-parser reads as a filter or
// a PATCH path, admit's reader reads the same way; only inside brackets,
// where the library takes and and or without spaces around them, does it
// read more than admit does.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `emails[type eq "work"]`, `not (a pr) and b eq 1`, `((`, `meta.lastModified ge "2026-01-01T00:00:00Z"`,
		`emails[type eq "work"].value eq "a\"]b"`, `members[value eq "x"].value pr`, `id eq "g" and members[value eq "u"]`,
		`userName eq`, `userName eq "a" or`, `NOT(active Eq TRUE) OR userName sw "a\u00E9"`, `x eq -1.5e+3 and y eq 0 and z eq null`,
		`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName co "a"`, `$ref eq "x"`, `userName eq "a" )`, `userName eq "\x01"`,
		terms(directory.MaxFilterTerms+1, "or"), nested("(", ")", directory.MaxFilterTerms+1), nested("not (", ")", directory.MaxFilterTerms+1),
		nested("not (", ")", 3), `userName eq "` + strings.Repeat("x", directory.MaxFilterValue+1) + `"`,
		`emails[type eq "work"].value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, `emails[type eq "work"and primary eq true]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, rf := range []resourceFilter{userFilter, groupFilter} {
			got, _, err := rf.parse(s)
			if err == nil && got != nil {
				if cerr := got.Check(); cerr != nil {
					t.Fatalf("%q parsed into a filter that does not check: %v", s, cerr)
				}
			}
			if err != nil && (strings.Contains(err.Error(), "parse conflict") || strings.Contains(err.Error(), "internal error")) {
				t.Fatalf("%q: the parser's words: %v", s, err)
			}
		}
		if len(s) > 256 {
			return // the library's parser takes milliseconds per hundred bytes
		}
		// Where both read it, they read it alike; what the library reads,
		// admit reads too, but for and and or glued to what is around them
		// inside brackets.
		lib, liberr := filter.ParseFilter([]byte(s))
		ours, err := readFilter(s)
		switch {
		case liberr == nil && err == nil:
			if diff := cmp.Diff(lib, ours); diff != "" {
				t.Fatalf("%q: read otherwise than the library (-library +admit):\n%s", s, diff)
			}
		case liberr == nil && !tooLarge(err) && !strings.Contains(s, "["):
			t.Fatalf("%q: the library reads it, admit does not: %v", s, err)
		}
		libPath, liberr := filter.ParsePath([]byte(s))
		path, err := readPath(s)
		switch {
		case liberr == nil && err == nil:
			if diff := cmp.Diff(libPath, path); diff != "" {
				t.Fatalf("path %q: read otherwise than the library (-library +admit):\n%s", s, diff)
			}
		case liberr == nil && !strings.Contains(s, "["):
			t.Fatalf("path %q: the library reads it, admit does not: %v", s, err)
		}
	})
}

// tooLarge reports whether err is the refusal of a filter past
// directory's bounds, which the library does not have.
func tooLarge(err error) bool {
	return err.Error() == directory.Message(directory.FilterTooLargeError())
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
		expr, err := readFilter(in)
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

// TestFilterConstants: a condition on what every value has alike
// (members.type: every member is a user) is known before the database is
// asked, and folds into and, or and not: true and x is x, false or x is
// x, not of one is the other. Before, it was taken as true whatever it
// said, so members[type eq "Group"] matched every group.
func TestFilterConstants(t *testing.T) {
	t.Parallel()
	member := &directory.Filter{Op: directory.OpEq, Field: directory.FieldMember, Value: "u"}
	tests := []struct {
		in   string
		want *directory.Filter
		t    truth
		bad  bool
	}{
		{in: `members[type eq "User"]`, t: always},
		{in: `members[type eq "user"]`, t: always},
		{in: `members.type eq "User"`, t: always},
		{in: `members[type eq "Group"]`, t: never},
		{in: `members[type ne "User"]`, t: never},
		{in: `members[type ne "Group"]`, t: always},
		{in: `members[type pr]`, t: always},
		{in: `members[type sw "us"]`, t: always},
		{in: `members[type co "x"]`, t: never},
		{in: `members[type gt "A"]`, t: always},
		{in: `not (members[type eq "User"])`, t: never},
		{in: `not (members[type eq "Group"])`, t: always},
		{in: `members[type eq "User" and value eq "u"]`, want: member},
		{in: `members[type eq "Group" and value eq "u"]`, t: never},
		{in: `members[type eq "Group" or value eq "u"]`, want: member},
		{in: `members[type eq "User" or value eq "u"]`, t: always},
		{in: `displayName eq "x" and not (members[type eq "Group"])`, want: &directory.Filter{Op: directory.OpEq, Field: directory.FieldDisplayName, Value: "x"}},
		{in: `not (members[type eq "User"] and value eq "u")`, bad: true}, // value is no group attribute
		{in: `members[type eq true]`, bad: true},
		{in: `members[type eq null]`, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, tr, err := groupFilter.parse(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("parsed %+v (%v); want an error", got, tr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil && tr != tc.t || tc.want != nil && tr != depends {
				t.Errorf("truth %v; want %v", tr, tc.t)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// wallTime is how long fn took by the clock.
func wallTime(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}
