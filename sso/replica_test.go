package sso_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// replica is a second admit process: its own directory service, certificate
// manager and pages over the same database and server key, serving the
// same public base URL from another address.
func (w *world) replica() *httptest.Server {
	w.t.Helper()
	svc := directory.NewService(directory.Config{Store: w.store, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
	pages, err := web.NewRenderer(web.Config{Key: []byte("another replica's csrf key, 32 bytes+"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		w.t.Fatal(err)
	}
	h, err := sso.New(sso.Config{Directory: svc, Certs: certs.New(certs.Config{Store: w.store, Sealer: w.sealer}), Secrets: w.sealer,
		Pages: pages, BaseURL: w.sp.URL})
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
// them at another: the pending request, the browser binding and the
// replay record live in the database, not in a process.
func TestAnyReplicaFinishesALogin(t *testing.T) {
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
