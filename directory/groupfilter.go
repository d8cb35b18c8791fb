package directory

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GroupFilter names the groups an app is told about (its groups claim, the
// X-Admit-Groups header and the groups in X-Admit-Jwt): a comma-separated
// list whose entries are a group's name, matched whole, or a prefix ending
// in "*" (wiki-* matches wiki-editors and wiki-readers). The empty filter
// lets every group through, as apps got before filters existed.
//
// A filter exists because people in hundreds of groups (Entra ID users in
// 300 or more) outgrow what proxies and app servers accept in headers and
// relying parties in cookies, while an app reads only the few groups of its
// own. It narrows what an app is told; it is not a rule about who may use
// the app.
//
// Matching ignores case, as the group-to-role mappings do (groupKey): the
// same group arrives as "Wiki-Editors" from one identity provider and
// "wiki-editors" from SCIM or a directory that folds case, and an operator
// who writes the filter cannot know which spelling comes. Ignoring case can
// only let a group through that the app would have been told about without
// a filter. It is strings.EqualFold's folding (appendFold) rather than
// groupKey's lower-casing; the two differ only for a few letters (final
// sigma), never for ASCII.
//
// The stored form is the one parseGroupFilter returns: entries trimmed,
// joined by "," alone, each checked.
type GroupFilter string

// Bounds of a filter: an app names the few groups it reads (or a prefix
// for them), and a group name is at most 256 characters (clip in claims.go).
const (
	maxGroupFilterEntries = 100
	maxGroupFilterEntry   = 256
)

// parseGroupFilter checks a filter an operator wrote and returns its
// stored form, or what is wrong with it. Duplicates (ignoring case) are
// dropped.
func parseGroupFilter(s string) (GroupFilter, []string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	entries := strings.Split(s, ",")
	if len(entries) > maxGroupFilterEntries {
		return "", []string{fmt.Sprintf("a group filter has at most %d entries (this one has %d): use a prefix like wiki-* for a family of groups", maxGroupFilterEntries, len(entries))}
	}
	var problems, kept []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			if p := "a group filter entry is empty (two commas in a row, or a comma at an end)"; !slices.Contains(problems, p) {
				problems = append(problems, p)
			}
		case utf8.RuneCountInString(e) > maxGroupFilterEntry:
			problems = append(problems, fmt.Sprintf("group filter entry %.40q… is longer than %d characters, the longest group name", e, maxGroupFilterEntry))
		case hasControl(e):
			problems = append(problems, fmt.Sprintf("group filter entry %q has a control character", e))
		case e == "*":
			problems = append(problems, "group filter entry * matches every group: leave the filter empty to send all groups")
		case strings.Contains(strings.TrimSuffix(e, "*"), "*"):
			problems = append(problems, fmt.Sprintf("group filter entry %q has a * that does not end it: * may only end an entry, as in wiki-*", e))
		default:
			if !slices.ContainsFunc(kept, func(k string) bool { return strings.EqualFold(k, e) }) {
				kept = append(kept, e)
			}
		}
	}
	if len(problems) > 0 {
		return "", problems
	}
	return GroupFilter(strings.Join(kept, ",")), nil
}

// Apply returns the groups the filter lets through, in their order: all
// of them (the same slice) when f is empty.
//
// This runs on every forward-auth request a replica has not answered
// within FreshFor and on every token and userinfo answer, for a person in
// up to MaxGroupsPerLogin groups (more through SCIM), against up to
// maxGroupFilterEntries entries: comparing each group with each entry
// took 40 ms and more a call for long names alike but for their end. So
// each group is folded once and looked up: a map for the names, a binary
// search among the prefixes, kept so that none starts another.
func (f GroupFilter) Apply(groups []string) []string {
	if f == "" {
		return groups
	}
	names := map[string]bool{}
	var prefixes []string
	// starts holds the first byte of each entry, folded: most groups start
	// otherwise, and are passed over without folding the rest of them.
	var starts [256]bool
	for e := range strings.SplitSeq(string(f), ",") {
		text, prefix := strings.CutSuffix(e, "*")
		folded := string(appendFold(nil, text))
		starts[folded[0]] = true
		if prefix {
			prefixes = append(prefixes, folded)
		} else {
			names[folded] = true
		}
	}
	// Of two prefixes where one starts the other, the shorter takes every
	// group the longer does. In a sorted list without such pairs, the one
	// prefix that can start a group is the greatest not above it.
	slices.Sort(prefixes)
	kept := prefixes[:0]
	for _, p := range prefixes {
		if len(kept) == 0 || !strings.HasPrefix(p, kept[len(kept)-1]) {
			kept = append(kept, p)
		}
	}
	var out []string
	var folded []byte
	for _, g := range groups {
		if g == "" {
			continue
		}
		_, n := utf8.DecodeRuneInString(g)
		if folded = appendFold(folded[:0], g[:n]); !starts[folded[0]] {
			continue
		}
		folded = appendFold(folded[:0], g)
		if names[string(folded)] {
			out = append(out, g)
			continue
		}
		i := sort.Search(len(kept), func(i int) bool { return kept[i] > string(folded) })
		if i > 0 && len(folded) >= len(kept[i-1]) && string(folded[:len(kept[i-1])]) == kept[i-1] {
			out = append(out, g)
		}
	}
	return out
}

// appendFold appends s to b with each rune as the least of its case
// folding orbit (K, k and K, the Kelvin sign, all as K): two strings are
// alike for strings.EqualFold exactly when they fold to the same bytes,
// and s starts with p, ignoring case so, when s's folding starts with p's.
func appendFold(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b = utf8.AppendRune(b, least)
		i += n
	}
	return b
}
