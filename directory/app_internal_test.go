package directory

import (
	"net/url"
	"strings"
	"testing"
)

func TestCheckRedirectURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		uri  string
		want string // a word of the problem, or "" for accepted
	}{
		{"https://app.example.com/callback", ""},
		{"https://app.example.com:8443/cb?tenant=a", ""},
		{"http://localhost:3000/callback", ""},
		{"http://127.0.0.1:8080/cb", ""},
		{"http://[::1]:8080/cb", ""},
		{"http://app.example.com/callback", "https"},
		{"http://localhost.evil.example/cb", "https"},
		{"https://app.example.com/cb#frag", "fragment"},
		{"https://*.example.com/cb", "wildcard"},
		{"https://app.example.com/*", "wildcard"},
		{"https://user:pw@app.example.com/cb", "user name"},
		{"/callback", "absolute"},
		{"", "absolute"},
		{"javascript:alert(1)", "absolute"},
		{"com.example.app:/cb", "absolute"},
		{"ftp://app.example.com/cb", "https"},
		{"https://app.example.com/c b", "characters"},
		{"https://app.example.com/cb\n", "characters"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			got := checkRedirectURI(tc.uri)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("checkRedirectURI(%q) = %q; want a problem mentioning %q", tc.uri, got, tc.want)
			}
		})
	}
}

// FuzzCheckRedirectURI: whatever an operator (or a script fed from
// elsewhere) registers, an accepted URI is absolute, https or loopback
// http, and has no fragment, wildcard or credentials.
func FuzzCheckRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://localhost:1/x", "http://127.0.0.1/", "https://a/#x", "https://*/", "http://[::1]/", "https://u@a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkRedirectURI(s) != "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(s, "*#") {
			t.Fatalf("accepted %q", s)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
			t.Fatalf("accepted %q with scheme %q on %q", s, u.Scheme, u.Hostname())
		}
	})
}
