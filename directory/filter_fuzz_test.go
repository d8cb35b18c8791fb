package directory

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMemberFilter feeds the console's query string values (search,
// status, source, cursor) to what reads them: whatever arrives is a valid
// query or an Invalid error, never a panic, and a valid query holds only
// values the store can take (known status and source, a search the
// databases can compare: valid UTF-8 without NUL).
func FuzzMemberFilter(f *testing.F) {
	f.Add("ada", "active", "scim", "")
	f.Add("", "", "", encodeCursor("ada@x.example", "u1"))
	f.Add("\xff", "invited", "sso", "!!")
	f.Add("a\x00b", "gone", "import", "AA")
	f.Fuzz(func(t *testing.T, search, status, source, cursor string) {
		q, err := MemberFilter{Search: search, Status: Status(status), Source: MembershipSource(source)}.query()
		if err != nil {
			if KindOf(err) != Invalid {
				t.Fatalf("error of kind %s: %v", KindOf(err), err)
			}
		} else {
			if q.Status != "" && !slices.Contains(Statuses(), q.Status) {
				t.Fatalf("status %q accepted", q.Status)
			}
			if q.Source != "" && !slices.Contains(MembershipSources(), q.Source) {
				t.Fatalf("source %q accepted", q.Source)
			}
			if !utf8.ValidString(q.Search) || strings.ContainsRune(q.Search, 0) || q.Search != strings.ToLower(q.Search) {
				t.Fatalf("search %q accepted as is", q.Search)
			}
		}
		if _, _, err := decodeCursor(cursor); err != nil && KindOf(err) != Invalid {
			t.Fatalf("cursor error of kind %s: %v", KindOf(err), err)
		}
	})
}
