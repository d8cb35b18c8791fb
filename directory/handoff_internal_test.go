package directory

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseHandoffURL: whatever a browser is sent with as a hand-off's
// return URL, what is kept is an absolute http(s) URL on a plain host,
// with no user info, control characters, backslashes or dot segments,
// whose path and query (where the hand-off lands) name no other host, and
// that reads back as itself.
func FuzzParseHandoffURL(f *testing.F) {
	for _, s := range []string{
		"https://app.test/docs?page=2", "http://localhost:8080/", "https://APP.test", "https://app.test/a/../b",
		"https://ada@app.test/", "//app.test/", "javascript:alert(1)", "https://app.test\\@evil.test/", "https://app.test/%2e%2e/x",
		"https://app.test:99999/", "https://[::1]:8080/x", "https://app.test/#frag", "http://app.test/\r\n",
		"https://app.test//evil.test/x", "https://app.test/%2Fevil.test",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, httpsOnly bool) {
		u, ok := parseHandoffURL(s, httpsOnly)
		if !ok {
			return
		}
		out := u.String()
		if (u.Scheme != "https" && (u.Scheme != "http" || httpsOnly)) || u.User != nil || u.Fragment != "" || !validHost(u.Host) ||
			!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.RequestURI(), "//") || HasDotSegment(u.Path) || hasControl(out) || strings.Contains(out, "\\\\") {
			t.Fatalf("kept %q from %q", out, s)
		}
		back, err := url.Parse(out)
		if err != nil || back.Host != u.Host || back.Scheme != u.Scheme || back.RequestURI() != u.RequestURI() {
			t.Fatalf("%q reads back as %v (%v)", out, back, err)
		}
	})
}
