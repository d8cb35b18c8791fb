package gate

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadForwarded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  string
		host    string // the request's Host header
		headers map[string]string
		want    original
		wantErr bool
	}{
		{name: "traefik and caddy", headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "App.Example.com", "X-Forwarded-Uri": "/a/b?c=d"},
			want: original{Proto: "https", Host: "app.example.com", URI: "/a/b?c=d", Path: "/a/b"}},
		{name: "a chain of proxies: the first is the client's", headers: map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "app.example.com, inner", "X-Forwarded-Uri": "/"},
			want: original{Proto: "https", Host: "app.example.com", URI: "/", Path: "/"}},
		{name: "nginx guides' X-Original-URI", host: "app.example.com:8443", headers: map[string]string{"X-Original-Uri": "/x%2Fy"},
			want: original{Proto: "http", Host: "app.example.com:8443", URI: "/x%2Fy", Path: "/x/y"}},
		{name: "envoy: the path after /auth/verify, the Host kept", target: "/auth/verify/docs/1?q=2", host: "app.example.com",
			want: original{Proto: "http", Host: "app.example.com", URI: "/docs/1?q=2", Path: "/docs/1"}},
		{name: "envoy: headers a client sent along are not read", target: "/auth/verify/secret", host: "app.example.com",
			headers: map[string]string{"X-Forwarded-Host": "open.example.com", "X-Original-Uri": "/", "X-Forwarded-Uri": "/"},
			want:    original{Proto: "http", Host: "app.example.com", URI: "/secret", Path: "/secret"}},
		{name: "dot segments", headers: map[string]string{"X-Forwarded-Uri": "/admin/../public"}, wantErr: true},
		{name: "encoded dot segments", headers: map[string]string{"X-Forwarded-Uri": "/admin/%2e%2e/public"}, wantErr: true},
		{name: "envoy dot segments", target: "/auth/verify/admin/%2E%2E/public", wantErr: true},
		// Tomcat and Spring drop a segment's ;parameters before resolving
		// dot segments: /public/..;/admin is /admin to them.
		{name: "dot segments with path parameters", headers: map[string]string{"X-Forwarded-Uri": "/public/..;/admin"}, wantErr: true},
		{name: "encoded dot segments with path parameters", headers: map[string]string{"X-Forwarded-Uri": "/public/%2e%2e;x=1/admin"}, wantErr: true},
		{name: "a dot segment with path parameters", headers: map[string]string{"X-Forwarded-Uri": "/public/.;/admin"}, wantErr: true},
		{name: "path parameters elsewhere pass", headers: map[string]string{"X-Forwarded-Uri": "/docs;v=2/page"},
			want: original{Proto: "http", Host: "admit.internal", URI: "/docs;v=2/page", Path: "/docs;v=2/page"}},
		{name: "nothing forwarded", host: "app.example.com", want: original{Proto: "http", Host: "app.example.com", URI: "/", Path: "/"}},
		{name: "scheme not http", headers: map[string]string{"X-Forwarded-Proto": "javascript"}, wantErr: true},
		{name: "absolute URI", headers: map[string]string{"X-Forwarded-Uri": "https://evil.example/"}, wantErr: true},
		{name: "scheme-relative URI", headers: map[string]string{"X-Forwarded-Uri": "//evil.example/"}, wantErr: true},
		{name: "backslash URI", headers: map[string]string{"X-Forwarded-Uri": "/\\evil.example"}, wantErr: true},
		{name: "control character in URI", headers: map[string]string{"X-Forwarded-Uri": "/a\tb"}, wantErr: true},
		{name: "host with user info", headers: map[string]string{"X-Forwarded-Host": "app.example.com@evil.example"}, wantErr: true},
		{name: "host with a path", headers: map[string]string{"X-Forwarded-Host": "evil.example/x"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "/auth/verify"
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			r.Host = tc.host
			if r.Host == "" {
				r.Host = "admit.internal"
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			got, err := readForwarded(r, VerifyPath)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v; want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestGroupsValue(t *testing.T) {
	for _, tc := range []struct {
		groups []string
		want   string
	}{
		{nil, ""},
		{[]string{"eng"}, "eng"},
		{[]string{"eng", "Sales EMEA"}, "eng,Sales EMEA"},
		{[]string{"a,b", "100%"}, "a%2Cb,100%25"},
		{[]string{"x\r\nX-Admit-Role: owner"}, "x%0D%0AX-Admit-Role: owner"},
	} {
		got := groupsValue(tc.groups)
		if got != tc.want {
			t.Errorf("groupsValue(%q) = %q; want %q", tc.groups, got, tc.want)
		}
		// Split on commas and unescape each: the names come back.
		if len(tc.groups) > 0 {
			var back []string
			for _, p := range strings.Split(got, ",") {
				g, err := url.PathUnescape(p)
				if err != nil {
					t.Fatal(err)
				}
				back = append(back, g)
			}
			if diff := cmp.Diff(tc.groups, back); diff != "" {
				t.Errorf("read back (-want +got)\n%s", diff)
			}
		}
	}
}

// FuzzReadForwarded: whatever a caller of /auth/verify sends, what is
// read is one host and a local path, and the sign-in URL made of them
// goes to that host and no other.
func FuzzReadForwarded(f *testing.F) {
	f.Add("https", "app.example.com", "/a?b=c", "/auth/verify")
	f.Add("http", "app.example.com:8080", "//evil", "/auth/verify/x")
	f.Add("https, http", "a@b", "/\\evil", "/auth/verify")
	f.Add("", "", "", "/auth/verify/%2F%2Fevil")
	f.Fuzz(func(t *testing.T, proto, host, uri, target string) {
		r, err := http.NewRequest(http.MethodGet, "http://admit.internal"+target, nil)
		if err != nil || !strings.HasPrefix(r.URL.Path, "/") {
			return
		}
		r.Header.Set("X-Forwarded-Proto", proto)
		r.Header.Set("X-Forwarded-Host", host)
		r.Header.Set("X-Forwarded-Uri", uri)
		o, err := readForwarded(r, VerifyPath)
		if err != nil {
			return
		}
		if hasControl(o.Host) || hasControl(o.URI) || !strings.HasPrefix(o.URI, "/") || strings.HasPrefix(o.URI, "//") {
			t.Fatalf("read %+v", o)
		}
		h := &Handler{issuer: "https://admit.internal", host: "admit.internal"}
		signIn := h.signInURL(o)
		u, err := url.Parse(signIn)
		if err != nil {
			t.Fatalf("sign-in URL %q: %v", signIn, err)
		}
		if o.Host == h.host {
			if u.Host != o.Host || u.Path != "/login" || u.Query().Get("return_to") != o.URI {
				t.Fatalf("sign-in URL %q for %+v", signIn, o)
			}
			return
		}
		// Another host: the hand-off, starting on the app's host, carrying
		// the original URL whole.
		to, err := url.Parse(u.Query().Get("to"))
		if u.Host != o.Host || u.Path != HandoffPath || err != nil || to.Host != o.Host || to.RequestURI() != o.URI {
			t.Fatalf("sign-in URL %q for %+v", signIn, o)
		}
	})
}
