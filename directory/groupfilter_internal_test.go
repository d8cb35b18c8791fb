package directory

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// TestGroupFilter is the matching rule: a name matches a group whole, a
// prefix* every group that starts with it, both without case; the empty
// filter lets every group through.
func TestGroupFilter(t *testing.T) {
	t.Parallel()
	groups := []string{"wiki-editors", "Wiki-Readers", "wiki", "wikipedia", "Admins", "admins-eu", "Engineering / Platform", "Straße-Team", "ǅemal", "kelvin-ops"}
	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"no filter", "", groups},
		{"a name matches whole, without case", "admins", []string{"Admins"}},
		{"a name is no prefix", "wiki", []string{"wiki"}},
		{"a prefix, without case", "WIKI-*", []string{"wiki-editors", "Wiki-Readers"}},
		{"a prefix takes the name itself too", "wiki*", []string{"wiki-editors", "Wiki-Readers", "wiki", "wikipedia"}},
		{"names and prefixes together, in the groups' order", "Engineering / *,admins", []string{"Admins", "Engineering / Platform"}},
		{"spaces around entries do not count", " admins-eu ,  wiki ", []string{"wiki", "admins-eu"}},
		{"non-ASCII folds by rune", "STRASSE-*,straße-*,ǆ*", []string{"Straße-Team", "ǅemal"}},
		{"Kelvin sign folds to k, in three bytes for one", "\u212aelvin-*", []string{"kelvin-ops"}},
		{"a prefix longer than the group", "wiki-editors-and-more*", nil},
		{"nothing matches", "billing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, problems := parseGroupFilter(tc.filter)
			if problems != nil {
				t.Fatalf("parseGroupFilter(%q): %v", tc.filter, problems)
			}
			if diff := cmp.Diff(tc.want, f.Apply(groups)); diff != "" {
				t.Errorf("%q.Apply (-want +got):\n%s", f, diff)
			}
		})
	}
}

func TestParseGroupFilter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"   ", ""},
		{"wiki-*", "wiki-*"},
		{" wiki-* , Admins ", "wiki-*,Admins"},
		{"admins,Admins,ADMINS,wiki-*", "admins,wiki-*"},
		{"Engineering / Platform", "Engineering / Platform"},
		{strings.Repeat("g", 256), strings.Repeat("g", 256)},
	} {
		got, problems := parseGroupFilter(tc.in)
		if problems != nil || string(got) != tc.want {
			t.Errorf("parseGroupFilter(%q) = %q, %v; want %q", tc.in, got, problems, tc.want)
		}
	}
	many := make([]string, maxGroupFilterEntries+1)
	for i := range many {
		many[i] = fmt.Sprint("g", i)
	}
	for _, tc := range []struct {
		in   string
		want []string // a word of each problem, in order
	}{
		{"a,,b", []string{"empty"}},
		{"a,", []string{"empty"}},
		{",a,,b,", []string{"empty"}},
		{"*", []string{"every group"}},
		{"wiki-*-eu", []string{"may only end"}},
		{"*admins", []string{"may only end"}},
		{"wiki**", []string{"may only end"}},
		{"ad\nmins", []string{"control character"}},
		{"admins\u202e", []string{"control character"}},
		{"bad\xffutf8", []string{"control character"}},
		{strings.Repeat("g", 257), []string{"longer than 256"}},
		{strings.Join(many, ","), []string{"at most 100 entries"}},
		{"ok,*,x*y,,a\tb", []string{"every group", "may only end", "empty", "control character"}},
	} {
		got, problems := parseGroupFilter(tc.in)
		if got != "" || len(problems) != len(tc.want) {
			t.Errorf("parseGroupFilter(%.60q) = %q, %q; want %d problems", tc.in, got, problems, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(problems[i], w) {
				t.Errorf("parseGroupFilter(%.60q) problem %d = %q; want it to mention %q", tc.in, i, problems[i], w)
			}
		}
	}
}

// TestGroupFilterIsEqualFold: Apply's folding takes what strings.EqualFold
// says is alike, and nothing else, letters with three cases included.
func TestGroupFilterIsEqualFold(t *testing.T) {
	t.Parallel()
	letters := []string{"k", "K", "\u212a", "s", "S", "\u017f", "ß", "ẞ", "σ", "ς", "Σ", "ǅ", "ǆ", "Ǆ", "ı", "I", "i", "İ", "µ", "μ", "a", "-"}
	var words []string
	for _, a := range letters {
		for _, b := range letters {
			words = append(words, a+b)
		}
	}
	for _, e := range letters {
		for _, entry := range []string{e + "k", e + "*", e + "s*"} {
			f, problems := parseGroupFilter(entry)
			if problems != nil {
				t.Fatal(problems)
			}
			text, prefix := strings.CutSuffix(entry, "*")
			var want []string
			for _, w := range words {
				// Every word has two letters, every entry's text one or two.
				if head := string([]rune(w)[:utf8.RuneCountInString(text)]); !prefix && strings.EqualFold(w, text) || prefix && strings.EqualFold(head, text) {
					want = append(want, w)
				}
			}
			if diff := cmp.Diff(want, f.Apply(words)); diff != "" {
				t.Errorf("%q (-want +got):\n%s", entry, diff)
			}
		}
	}
}
