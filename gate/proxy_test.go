package gate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestProxyTellsTheAppTheBrowsersScheme: admit serves no TLS itself, so
// with an https ADMIT_BASE_URL a TLS-terminating balancer stands in front
// of it and every connection admit sees is plain HTTP. The app behind
// admit's proxy must still learn that the browser used https
// (X-Forwarded-Proto), or it builds http:// links and redirects, refuses
// its own Secure cookies, or fails its Origin check on every form
// (https://admit.example against what it thinks is http://admit.example).
// A client's own X-Forwarded-* and X-Real-IP are not passed on: an app
// behind admit trusts its one proxy's word on the client's address.
func TestProxyTellsTheAppTheBrowsersScheme(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		got := make(chan http.Header, 1)
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
		t.Cleanup(upstream.Close)
		u, _ := url.Parse(upstream.URL)
		e := newEnv(t, st, nil)
		if _, _, err := e.dir.AddApp(context.Background(), operator, directory.NewApp{Name: "Proxied", ForwardAuthHost: "admit.test", AccountID: e.account.ID}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ issuer, proto string }{{"https://admit.test", "https"}, {"http://admit.test", "http"}} {
			g, err := gate.New(gate.Config{Directory: e.dir, Keys: e.keys, Pages: e.pages, Issuer: tc.issuer, Upstream: u})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			g.Register(mux)
			r := httptest.NewRequest(http.MethodGet, "http://admit.test/docs", nil)
			r.Header.Set("X-Forwarded-Proto", "gopher")
			r.Header.Set("X-Forwarded-Host", "evil.test")
			r.Header.Set("X-Forwarded-For", "203.0.113.66")
			r.Header.Set("X-Real-Ip", "203.0.113.66")
			r.AddCookie(session(e.token))
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", tc.issuer, w.Code, w.Body)
			}
			h := <-got
			if p := h.Values("X-Forwarded-Proto"); len(p) != 1 || p[0] != tc.proto {
				t.Errorf("behind %s the app got X-Forwarded-Proto %q; want %q", tc.issuer, p, tc.proto)
			}
			if fh := h.Values("X-Forwarded-Host"); len(fh) != 1 || fh[0] != "admit.test" {
				t.Errorf("behind %s the app got X-Forwarded-Host %q; want admit.test", tc.issuer, fh)
			}
			// The client's address, as admit saw it (httptest's 192.0.2.1),
			// in both headers apps read it from; never the client's word.
			for _, k := range []string{"X-Forwarded-For", "X-Real-Ip"} {
				if v := h.Values(k); len(v) != 1 || v[0] != "192.0.2.1" {
					t.Errorf("behind %s the app got %s %q; want 192.0.2.1", tc.issuer, k, v)
				}
			}
		}
	})
}

// TestPathPrefixAsLenientServersReadIt: an app for one account under a
// path prefix, beside an app of every account at the host's root. Many
// app servers route paths ignoring case (Express, ASP.NET, IIS), and
// Tomcat and Spring drop a segment's ;parameters before routing: to them
// /GLOBEX/secret and /globex;v=1/secret are /globex/secret. Judged by the
// root's app (open to a member of acme) and passed on, they would reach
// globex's pages. admit refuses them, through its proxy and at
// /auth/verify; a path that no prefix takes on either reading still goes
// to the root's app.
func TestPathPrefixAsLenientServersReadIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e, globex, reached := globexBeside(t, st)
		for _, host := range []string{"admit.test", "apps.test"} {
			for _, a := range []directory.NewApp{{Name: "Open " + host, ForwardAuthHost: host}, {Name: "Globex " + host, ForwardAuthHost: host, PathPrefix: "/globex", AccountID: globex.ID}} {
				if _, _, err := e.dir.AddApp(ctx, operator, a); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tc := range []struct {
			path string
			open bool
		}{
			{"/GLOBEX/secret", false},
			{"/Globex", false},
			{"/globex;v=1/secret", false},
			{"/gLoBeX;jsessionid=x", false},
			{"/globex;/secret", false},
			{"/globex/secret", false},
			// IIS drops a segment's trailing dots and spaces: /globex/secret.
			{"/globex./secret", false},
			{"/globex%20/secret", false},
			{"/%67lobex/secret", false},
			{"/globexes/x", true},
			{"/docs;v=2/page", true},
			{"/GLOBE/x", true},
		} {
			r := httptest.NewRequest(http.MethodGet, "http://admit.test"+tc.path, nil)
			r.AddCookie(session(e.token))
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, r)
			var got string
			select {
			case got = <-reached:
			default:
			}
			if tc.open && (w.Code != http.StatusOK || got != tc.path) {
				t.Errorf("proxy %s: %d, upstream got %q; want passed", tc.path, w.Code, got)
			}
			if !tc.open && (w.Code != http.StatusForbidden || got != "") {
				t.Errorf("proxy %s: %d, upstream got %q; want 403", tc.path, w.Code, got)
			}
			res := e.verify("", "apps.test", tc.path, e.token, nil)
			if tc.open != (res.StatusCode == http.StatusOK) {
				t.Errorf("/auth/verify %s: %d; want open %v", tc.path, res.StatusCode, tc.open)
			}
		}
	})
}

// globexBeside is an env whose upstream app tells reached the URI of
// each request it gets, with a second account, globex, beside acme.
func globexBeside(t *testing.T, st *store.Store) (*env, directory.Account, <-chan string) {
	t.Helper()
	reached := make(chan string, 16)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached <- r.URL.RequestURI() }))
	t.Cleanup(upstream.Close)
	u, _ := url.Parse(upstream.URL)
	e := newEnv(t, st, u)
	globex, err := e.dir.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: "globex", Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	return e, globex, reached
}

// TestPathSpelledTwoWaysIsRefused: the other side of the lenient reading.
// acme's app at the host's root, globex's at /globex, and a member of
// globex alone asking for /GLOBEX/secret: a server that reads paths as
// written serves it from the root app, acme's pages. Judged by globex's
// app as a lenient server would route it, it would pass. A path that
// reaches different apps on the two readings is refused with 403 by the
// proxy and at /auth/verify; as written, globex's pages are hers.
func TestPathSpelledTwoWaysIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e, globex, reached := globexBeside(t, st)
		gina := e.invited(globex, "gina@example.com")
		token, _, err := e.dir.StartSession(ctx, gina.User.ID, globex.ID, directory.Credential{Method: directory.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"admit.test", "apps.test"} {
			for _, a := range []directory.NewApp{{Name: "Acme " + host, ForwardAuthHost: host, AccountID: e.account.ID}, {Name: "Globex " + host, ForwardAuthHost: host, PathPrefix: "/globex", AccountID: globex.ID}} {
				if _, _, err := e.dir.AddApp(ctx, operator, a); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, tc := range []struct {
			path string
			want int
		}{
			{"/GLOBEX/secret", http.StatusForbidden},
			{"/Globex", http.StatusForbidden},
			{"/globex;v=1/secret", http.StatusForbidden},
			{"/globex/secret", http.StatusOK},
			{"/globex/caf%C3%A9", http.StatusOK},
			// Under /globex decoded, not as written: Express, ASP.NET and
			// Go's ServeMux route these to the root's app (one segment
			// globex%2Fsecret, %67lobex), nginx and IIS to globex's.
			{"/globex%2Fsecret", http.StatusForbidden},
			{"/%67lobex/secret", http.StatusForbidden},
			// IIS reads \ as /: /secret, the root's.
			{"/globex/x%5C..%5C..%5Csecret", http.StatusForbidden},
		} {
			r := httptest.NewRequest(http.MethodGet, "http://admit.test"+tc.path, nil)
			r.AddCookie(session(token))
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, r)
			var got string
			select {
			case got = <-reached:
			default:
			}
			if w.Code != tc.want || (got != "") != (tc.want == http.StatusOK) {
				t.Errorf("proxy %s: %d, upstream got %q; want %d", tc.path, w.Code, got, tc.want)
			}
			if res := e.verify("", "apps.test", tc.path, token, nil); res.StatusCode != tc.want {
				t.Errorf("/auth/verify %s: %d; want %d", tc.path, res.StatusCode, tc.want)
			}
		}
	})
}
