package directory

import (
	"fmt"
	"slices"
	"strings"
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
// a filter. It is strings.EqualFold's folding rather than groupKey's
// lower-casing, which would copy each name on every request; the two
// differ only for a few letters (final sigma), never for ASCII.
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
func (f GroupFilter) Apply(groups []string) []string {
	if f == "" {
		return groups
	}
	// This runs on every forward-auth request a replica has not answered
	// within FreshFor, for up to MaxGroupsPerLogin groups: the filter is
	// split once, and each comparison stops at the first rune that differs.
	type entry struct {
		text   string
		prefix bool
	}
	entries := make([]entry, 0, strings.Count(string(f), ",")+1)
	for e := range strings.SplitSeq(string(f), ",") {
		text, prefix := strings.CutSuffix(e, "*")
		entries = append(entries, entry{text, prefix})
	}
	var out []string
	for _, g := range groups {
		for _, e := range entries {
			if e.prefix && hasPrefixFold(g, e.text) || !e.prefix && strings.EqualFold(g, e.text) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// hasPrefixFold reports whether s starts with prefix, ignoring case as
// strings.EqualFold does: rune by rune, since simple case folding maps one
// rune to one rune (of any length in bytes: K, the Kelvin sign, is k).
func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		if c, p := s[0], prefix[0]; c < utf8.RuneSelf && p < utf8.RuneSelf {
			if c != p && lowerASCII(c) != lowerASCII(p) {
				return false
			}
			s, prefix = s[1:], prefix[1:]
			continue
		}
		_, n := utf8.DecodeRuneInString(s)
		_, m := utf8.DecodeRuneInString(prefix)
		if !strings.EqualFold(s[:n], prefix[:m]) {
			return false
		}
		s, prefix = s[n:], prefix[m:]
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
