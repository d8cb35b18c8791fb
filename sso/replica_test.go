package sso_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// replica is a second admit process: its own directory service, certificate
// manager and pages over the same database and server key, serving the
// same public base URL from another address.
func (w *world) replica() *httptest.Server { return w.replicaAt(w.sp.URL) }

// replicaAt is a replica that believes admit's public URL is base.
func (w *world) replicaAt(base string) *httptest.Server {
	w.t.Helper()
	return w.replicaOf(base, w.fetch, nil)
}

// replicaWith is a replica reaching identity providers through f.
func (w *world) replicaWith(base string, f *fetch.Client) *httptest.Server {
	w.t.Helper()
	return w.replicaOf(base, f, nil)
}

// replicaAtTime is a replica whose clock says now.
func (w *world) replicaAtTime(base string, now func() time.Time) *httptest.Server {
	w.t.Helper()
	return w.replicaOf(base, w.fetch, now)
}

// replicaOf is a replica reaching identity providers through f and reading
// the time from now (nil: the clock).
func (w *world) replicaOf(base string, f *fetch.Client, now func() time.Time) *httptest.Server {
	w.t.Helper()
	svc := directory.NewService(directory.Config{Store: w.store, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
	pages, err := web.NewRenderer(web.Config{Key: []byte("another replica's csrf key, 32 bytes+"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		w.t.Fatal(err)
	}
	h, err := sso.New(sso.Config{Directory: svc, Certs: certs.New(certs.Config{Store: w.store, Sealer: w.sealer}), Secrets: w.sealer,
		StateKey: w.stateKey, Pages: pages, BaseURL: base, Fetch: f, Now: now})
	if err != nil {
		w.t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewTLSServer(web.RequestID(mux))
	w.t.Cleanup(srv.Close)
	return srv
}

// TestAnyReplicaFinishesALogin starts logins at one replica and finishes
// them at another: the pending request is sealed in the browser's cookie
// (every replica has the key), the replay records are in the database,
// not in a process.
func TestAnyReplicaFinishesALogin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		other := w.replica()
		// Cookies are per host, not per port: the browser's binding cookie
		// from the first replica goes to the second, as it does behind one
		// load-balanced name.
		onOther := func(u string) string { return strings.Replace(u, w.sp.URL, other.URL, 1) }

		t.Run("SAML", func(t *testing.T) {
			b := w.browser()
			acs, form := b.samlResponse("strict", "alice", "/after")
			if pg := b.post(onOther(acs), form); pg.status != http.StatusSeeOther || pg.location != "/after" {
				t.Fatalf("ACS at the other replica: %d %q %.300s", pg.status, pg.location, pg.body)
			}
			if b.me() == "" {
				t.Error("not signed in")
			}
			// The replay record is shared too.
			if pg := w.browser().post(acs, form); pg.status != http.StatusForbidden {
				t.Errorf("the same response at the first replica: %d", pg.status)
			}
		})
		t.Run("OIDC", func(t *testing.T) {
			b := w.browser()
			callback := b.oidcCallback(p, "zitadel", "bob", "/after")
			if pg := b.get(onOther(callback)); pg.status != http.StatusSeeOther || pg.location != "/after" {
				t.Fatalf("callback at the other replica: %d %q %.300s", pg.status, pg.location, pg.body)
			}
			if b.me() == "" {
				t.Error("not signed in")
			}
			if pg := b.get(callback); pg.status != http.StatusForbidden {
				t.Errorf("the same answer at the first replica: %d", pg.status)
			}
		})
	})
}

// TestBrowserCookie checks the cookie that keeps a login in its browser:
// SameSite=None and Secure where browsers keep Secure cookies (https, or
// http on localhost); on plain http elsewhere, neither, so that it is
// kept at all.
func TestBrowserCookie(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storetest.SQLite(t))
	for base, secure := range map[string]bool{
		"https://admit.example.com": true,
		"http://localhost:8080":     true,
		"http://127.0.0.1:8080":     true,
		"http://admit.test:8080":    false,
	} {
		srv := w.replicaAt(base)
		client := srv.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Get(srv.URL + "/sso/acme/login?connection=okta")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var got *http.Cookie
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, "admit_sso_") {
				got = c
			}
		}
		switch {
		case got == nil:
			t.Errorf("%s: no browser cookie (status %d)", base, resp.StatusCode)
		case !got.HttpOnly || got.Path != "/sso/":
			t.Errorf("%s: cookie %+v", base, got)
		case secure && (!got.Secure || got.SameSite != http.SameSiteNoneMode):
			t.Errorf("%s: want Secure and SameSite=None, got %+v", base, got)
		case !secure && (got.Secure || got.SameSite != 0): // 0: no SameSite attribute
			t.Errorf("%s: want neither Secure nor SameSite, got %+v", base, got)
		}
	}
}
