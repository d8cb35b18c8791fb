package sso_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// idpMetadata is crewjam's IdP metadata with a certificate valid for validFor.
func idpMetadata(t testing.TB, validFor time.Duration) string {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validFor)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	meta, _ := url.Parse("https://idp.example.net/metadata")
	ssoURL, _ := url.Parse("https://idp.example.net/sso")
	b, err := xml.Marshal((&saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *meta, SSOURL: *ssoURL}).Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRefreshKeepsTheLastGoodMetadata: a refresh that fails (server error,
// something that is not IdP metadata) records why and keeps the copy the
// connection had; one that works replaces it. Certificates about to end
// are warned of and exported.
func TestRefreshKeepsTheLastGoodMetadata(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var mu sync.Mutex
		status, body := http.StatusOK, ""
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		defer srv.Close()
		serve := func(st int, b string) { mu.Lock(); status, body = st, b; mu.Unlock() }

		svc := directory.NewService(directory.Config{Store: s})
		acme, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		first := idpMetadata(t, 10*24*time.Hour) // ends within the warning window
		c, err := svc.CreateConnection(ctx, acme.ID, operator, directory.NewConnection{
			Protocol: directory.ProtocolSAML, Name: "okta", Metadata: first, MetadataURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		reg := prometheus.NewRegistry()
		r := &sso.Refresher{Directory: svc, Watcher: certs.NewWatcher(reg, slog.New(slog.NewTextHandler(&logs, nil))),
			Fetch: localFetch(t, srv.Certificate()), Logger: slog.New(slog.DiscardHandler)}
		check := func(step, wantMetadata, wantErr string) {
			t.Helper()
			got, err := svc.Connection(ctx, acme.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Metadata != wantMetadata || !strings.Contains(got.MetadataError, wantErr) || (wantErr == "" && got.MetadataError != "") {
				t.Errorf("%s: metadata kept=%v, error %q; want error %q", step, got.Metadata == first, got.MetadataError, wantErr)
			}
		}

		serve(http.StatusInternalServerError, "down")
		r.RefreshOnce(ctx)
		check("server error", first, "500")
		if !strings.Contains(logs.String(), "a SAML certificate ends soon") || !strings.Contains(logs.String(), "connection=okta") {
			t.Errorf("no warning for the IdP certificate ending in 10 days: %s", logs.String())
		}
		if n := testutil.CollectAndCount(reg, "admit_certificate_not_after_seconds"); n != 1 {
			t.Errorf("exported %d certificate ends; want 1", n)
		}

		serve(http.StatusOK, `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="sp"><SPSSODescriptor/></EntityDescriptor>`)
		r.RefreshOnce(ctx)
		check("not IdP metadata", first, "no identity provider")

		next := idpMetadata(t, 365*24*time.Hour)
		serve(http.StatusOK, next)
		r.RefreshOnce(ctx)
		check("working again", next, "")
	})
}

// TestMetadataPublishesEveryCertificate: during a rotation the SP metadata
// lists the next certificate before it is used, and the previous one after.
func TestMetadataPublishesEveryCertificate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		count := func() int {
			return strings.Count(w.get(w.sp.URL+"/sso/acme/saml/okta/metadata"), `use="signing"`)
		}
		if n := count(); n != 1 {
			t.Fatalf("before rotation: %d signing certificates", n)
		}
		ctx := context.Background()
		if _, err := w.certs.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Errorf("after publishing the next certificate: %d", n)
		}
		if _, err := w.certs.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 {
			t.Errorf("after activating it: %d", n)
		}
		// Logins keep working across the rotation: the IdP still encrypts
		// to the certificate it was given before (now the previous one), so
		// admit must try every published key, not only the active one.
		b := w.browser()
		acs, form := b.samlResponse("strict", "alice", "")
		if p := b.post(acs, form); p.status != http.StatusSeeOther {
			t.Errorf("login encrypted to the previous certificate after rotation: %d %s", p.status, p.body)
		}
	})
}
