package provider

import (
	"regexp"
	"testing"
)

// descriptionGrammar is error_description's: RFC 6749 section 5.2,
// 1*( %x20-21 / %x23-5B / %x5D-7E ), or empty.
var descriptionGrammar = regexp.MustCompile(`^[\x20-\x21\x23-\x5B\x5D-\x7E]*$`)

// TestOAuthText: what may go into an error_description is made printable
// ASCII without '"' and '\', as readable as it can stay.
func TestOAuthText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ASCII as it is", "the refresh token is not valid", "the refresh token is not valid"},
		{"a quoted slug", `Wiki asked for an organisation ("nope") that is not on admit.`, `Wiki asked for an organisation ('nope') that is not on admit.`},
		{"accents", "Café Zürich São Paulo Łódź", "Cafe Zurich Sao Paulo ?odz"},
		{"typographic quotes and dashes", "“Wiki” – ‘the’ app — here…", "'Wiki' - 'the' app - here..."},
		{"backslash", `C:\apps\wiki`, "C:/apps/wiki"},
		{"controls and other spaces", "a\tb\nc\u00a0d\u2028e", "a b c d e"},
		{"other scripts", "Вики 维基", "???? ??"},
		{"an emoji", "Wiki 📘", "Wiki ?"},
		{"a zero-width joiner", "a\u200db", "ab"},
		{"invalid UTF-8", "a\xffb", "a?b"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := oauthText(tc.in)
			if got != tc.want {
				t.Errorf("oauthText(%q) = %q; want %q", tc.in, got, tc.want)
			}
			if !descriptionGrammar.MatchString(got) {
				t.Errorf("oauthText(%q) = %q is not an error_description RFC 6749 allows", tc.in, got)
			}
		})
	}
}

// FuzzOAuthText: whatever an app, an operator or an attacker puts into
// a name, the description is one RFC 6749 allows.
func FuzzOAuthText(f *testing.F) {
	for _, s := range []string{"", `"\`, "Café “x”", "\x00\xff", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := oauthText(s); !descriptionGrammar.MatchString(got) {
			t.Errorf("oauthText(%q) = %q", s, got)
		}
	})
}
