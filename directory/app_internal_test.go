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

// TestAllowsRedirectURI: a redirect URI is the app's when registered
// exactly; one registered on http at 127.0.0.1 or [::1] is the app's on
// any port (RFC 8252 section 7.3), and on nothing else that differs. A
// post-logout redirect URI is held to the same rule.
func TestAllowsRedirectURI(t *testing.T) {
	t.Parallel()
	registered := []string{"http://127.0.0.1/cb", "http://[::1]:8080/cb?x=1", "http://localhost:3000/cb", "https://app.example/cb", "http://127.0.0.2:9/cb"}
	app := App{RedirectURIs: registered, PostLogoutRedirectURIs: registered}
	for _, tc := range []struct {
		uri  string
		want bool
	}{
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:49152/cb", true},
		{"http://127.0.0.1:1/cb", true},
		{"http://127.0.0.1:65535/cb", true},
		{"http://[::1]:8080/cb?x=1", true},
		{"http://[::1]:50000/cb?x=1", true},
		{"http://[::1]/cb?x=1", true},
		{"http://localhost:3000/cb", true},
		{"https://app.example/cb", true},
		{"http://127.0.0.2:9/cb", true},

		{"http://127.0.0.1:49152/cb/", false},
		{"http://127.0.0.1:49152/other", false},
		{"http://127.0.0.1:49152/cb?x=1", false},
		{"http://127.0.0.1:49152/CB", false},
		{"http://[::1]:50000/cb", false},
		{"http://[::1]:50000/cb?x=2", false},
		{"https://127.0.0.1:49152/cb", false},
		{"HTTP://127.0.0.1:49152/cb", false},
		{"http://localhost:49152/cb", false},
		{"http://127.0.0.2:49152/cb", false},
		{"http://127.0.0.1.evil.example/cb", false},
		{"http://127.0.0.1:80@evil.example/cb", false},
		{"http://user@127.0.0.1:49152/cb", false},
		{"http://127.0.0.1:/cb", false},
		{"http://127.0.0.1:0/cb", false},
		{"http://127.0.0.1:080/cb", false},
		{"http://127.0.0.1:65536/cb", false},
		{"http://127.0.0.1:+80/cb", false},
		{"http://127.0.0.1:80:81/cb", false},
		{"http://127.0.0.1:49152/cb#x", false},
		{"https://app.example:8443/cb", false},
		{"http://[::ffff:127.0.0.1]:49152/cb", false},
		{"http://[0:0:0:0:0:0:0:1]:8080/cb?x=1", false},
	} {
		if got := app.AllowsRedirectURI(tc.uri); got != tc.want {
			t.Errorf("AllowsRedirectURI(%q) = %v; want %v", tc.uri, got, tc.want)
		}
		if got := app.AllowsPostLogoutRedirectURI(tc.uri); got != tc.want {
			t.Errorf("AllowsPostLogoutRedirectURI(%q) = %v; want %v", tc.uri, got, tc.want)
		}
	}
}
