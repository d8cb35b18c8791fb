package directory_test

import (
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestCheckPKCEVerifier is RFC 7636 section 4.1's rule: 43 to 128
// characters of A-Z a-z 0-9 - . _ ~.
func TestCheckPKCEVerifier(t *testing.T) {
	for _, tc := range []struct {
		verifier string
		ok       bool
	}{
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", 128), true},
		{"AZaz09-._~" + strings.Repeat("x", 33), true},
		{"", false},
		{"a", false},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 42) + " ", false},
		{strings.Repeat("a", 42) + "+", false},
		{strings.Repeat("a", 42) + "/", false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + "\x00", false},
		{strings.Repeat("é", 22), false}, // 44 bytes, not of the alphabet
	} {
		if err := directory.CheckPKCEVerifier(tc.verifier); (err == nil) != tc.ok {
			t.Errorf("CheckPKCEVerifier(%q) = %v; want ok %v", tc.verifier, err, tc.ok)
		} else if err != nil && directory.KindOf(err) != directory.Invalid {
			t.Errorf("CheckPKCEVerifier(%q) = %v; want Invalid", tc.verifier, err)
		}
	}
}
