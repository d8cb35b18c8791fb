package sso_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// publisher is an identity provider's metadata URL: it serves what the
// test last gave it and counts the requests it got.
type publisher struct {
	mu   sync.Mutex
	body string
	hits atomic.Int64
}

func (p *publisher) publish(md string) {
	p.mu.Lock()
	p.body = md
	p.mu.Unlock()
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	p.hits.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = w.Write([]byte(p.body))
}

// testNames resolves the names of these tests without DNS.
type testNames map[string]string

func (n testNames) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := n[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such test name", Name: host, IsNotFound: true}
}

// samlConnection adds SAML connection okta to a new account acme with
// metadata and its URL.
func samlConnection(t *testing.T, svc *directory.Service, metadata, url string) directory.Connection {
	t.Helper()
	ctx := context.Background()
	acme, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	md, err := sso.CheckMetadata([]byte(metadata))
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.CreateConnection(ctx, acme.ID, operator, directory.NewConnection{
		Protocol: directory.ProtocolSAML, Name: "okta", Metadata: md.Metadata, MetadataURL: url, SigningCertificates: md.SigningCertificates})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// certificateChanges returns the connection's audited certificate changes.
func certificateChanges(t *testing.T, svc *directory.Service, c directory.Connection) []directory.AuditEvent {
	t.Helper()
	all, err := svc.AuditEvents(context.Background(), c.AccountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(e directory.AuditEvent) bool {
		return e.Action != "connection.signing_certificates_changed" || e.TargetID != c.ID
	})
}

func fingerprintsOf(t *testing.T, metadata string) []string {
	t.Helper()
	md, err := sso.CheckMetadata([]byte(metadata))
	if err != nil {
		t.Fatal(err)
	}
	return md.SigningCertificates
}

// TestRefreshOverPlainHTTPIsRefused: a metadata URL over http is not
// fetched unless its host is allowed, and the connection keeps trusting
// the certificates it had; once allowed, the refresh goes through.
func TestRefreshOverPlainHTTPIsRefused(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		idp := &publisher{}
		srv := httptest.NewServer(idp)
		defer srv.Close()
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		svc := directory.NewService(directory.Config{Store: s})
		first := idpMetadata(t, 365*24*time.Hour)
		c := samlConnection(t, svc, first, "http://idp.test:"+port+"/metadata")
		// An attacker on the path serves metadata with their own key.
		planted := idpMetadata(t, 365*24*time.Hour)
		idp.publish(planted)
		names := testNames{"idp.test": "127.0.0.1"}

		refresh := func(allow string) directory.Connection {
			t.Helper()
			a, err := fetch.ParseAllow(allow)
			if err != nil {
				t.Fatal(err)
			}
			r := &sso.Refresher{Directory: svc, Fetch: fetch.New(fetch.Config{Allow: a, Resolver: names}), Logger: slog.New(slog.DiscardHandler)}
			r.RefreshOnce(ctx)
			got, err := svc.Connection(ctx, c.AccountID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		// Loopback allowed as an address, but http only to hosts allowed
		// by name or by address literal.
		got := refresh("127.0.0.0/8")
		if got.Metadata != first || !slices.Equal(got.SigningCertificates, fingerprintsOf(t, first)) || !strings.Contains(got.MetadataError, "plain http") {
			t.Errorf("after a refused refresh: kept=%v, error %q", got.Metadata == first, got.MetadataError)
		}
		if idp.hits.Load() != 0 || len(certificateChanges(t, svc, c)) != 0 {
			t.Errorf("the refused refresh reached the server (%d) or changed certificates", idp.hits.Load())
		}
		got = refresh("127.0.0.0/8,idp.test")
		if got.Metadata != planted || got.MetadataError != "" || len(certificateChanges(t, svc, c)) != 1 {
			t.Errorf("with idp.test allowed: replaced=%v, error %q", got.Metadata == planted, got.MetadataError)
		}
	})
}

// TestRefreshAuditsNewSigningCertificates: a refresh that brings other
// signing certificates is an audit event on the connection's account,
// with the fingerprints before and after, and the connection says when;
// one that brings the same certificates is not. A connection from before
// fingerprints were kept has its certificates compared too.
func TestRefreshAuditsNewSigningCertificates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		idp := &publisher{}
		srv := httptest.NewTLSServer(idp)
		defer srv.Close()
		svc := directory.NewService(directory.Config{Store: s})
		first := idpMetadata(t, 365*24*time.Hour)
		c := samlConnection(t, svc, first, srv.URL)
		r := &sso.Refresher{Directory: svc, Fetch: localFetch(t, srv.Certificate()), Logger: slog.New(slog.DiscardHandler)}

		// The same certificates in a document written anew.
		idp.publish(strings.Replace(first, "<", "\n<", 1))
		r.RefreshOnce(ctx)
		got, _ := svc.Connection(ctx, c.AccountID, c.ID)
		if got.SigningCertificatesChangedAt != nil || len(certificateChanges(t, svc, c)) != 0 {
			t.Fatalf("the same certificates counted as a change: %v", got.SigningCertificatesChangedAt)
		}

		next := idpMetadata(t, 365*24*time.Hour)
		idp.publish(next)
		r.RefreshOnce(ctx)
		got, _ = svc.Connection(ctx, c.AccountID, c.ID)
		events := certificateChanges(t, svc, c)
		if got.Metadata != next || got.SigningCertificatesChangedAt == nil || len(events) != 1 {
			t.Fatalf("new certificates: replaced=%v, changed at %v, %d events", got.Metadata == next, got.SigningCertificatesChangedAt, len(events))
		}
		var data struct{ Previous, Current, Added, Removed []string }
		if err := json.Unmarshal(events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		before, after := fingerprintsOf(t, first), fingerprintsOf(t, next)
		if !slices.Equal(data.Previous, before) || !slices.Equal(data.Current, after) || !slices.Equal(data.Added, after) ||
			!slices.Equal(data.Removed, before) || events[0].Actor.Source != directory.SourceSystem {
			t.Errorf("audit event: %s by %+v; want %v -> %v by the system", events[0].Data, events[0].Actor, before, after)
		}

		// A connection made before fingerprints were kept: its first
		// refresh compares against the metadata it holds.
		legacy, err := svc.CreateConnection(ctx, c.AccountID, operator, directory.NewConnection{
			Protocol: directory.ProtocolSAML, Name: "legacy", Metadata: first, MetadataURL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		r.RefreshOnce(ctx)
		got, _ = svc.Connection(ctx, c.AccountID, legacy.ID)
		if events := certificateChanges(t, svc, legacy); got.Metadata != next || len(events) != 1 || !slices.Equal(got.SigningCertificates, after) {
			t.Errorf("legacy connection: replaced=%v, %d events, certificates %v", got.Metadata == next, len(events), got.SigningCertificates)
		}
	})
}

// TestOpenIDProvidersOnlyThroughTheGuardedClient: the SSO handler reaches
// OpenID providers through the client it is given: a provider on a
// loopback address that is not allowed is never asked for its
// configuration, and the login log says why, never quoting an answer.
func TestOpenIDProvidersOnlyThroughTheGuardedClient(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		var hits atomic.Int64
		provider := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Error(rw, "internal-only-marker", http.StatusNotFound)
		}))
		provider.Listener.Close()
		l, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		provider.Listener = l
		provider.Start()
		defer provider.Close()
		c, err := w.svc.CreateConnection(context.Background(), w.acme.ID, operator, directory.NewConnection{
			Protocol: directory.ProtocolOIDC, Name: "elsewhere",
			Settings:     directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: provider.URL, ClientID: "admit"}},
			SealedSecret: w.sealer.Seal([]byte("s"), directory.ClientSecretPurpose(w.acme.ID, "elsewhere")),
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			allow string
			hits  int64
			log   string
		}{
			{"127.0.0.1/32", 0, "refused to fetch from 127.0.0.2: plain http"},
			{"127.0.0.0/8", 1, "404"},
		} {
			allow, _ := fetch.ParseAllow(tc.allow)
			site := w.replicaWith(w.sp.URL, fetch.New(fetch.Config{Allow: allow}))
			b := w.browser()
			pg := b.get(site.URL + "/sso/acme/login?connection=elsewhere")
			if pg.status != http.StatusBadGateway {
				t.Errorf("allow %s: login start %d; want 502", tc.allow, pg.status)
			}
			if at := w.lastAttempt(c); !strings.Contains(at.Reason+string(at.Detail), tc.log) || strings.Contains(at.Reason+string(at.Detail), "internal-only-marker") {
				t.Errorf("allow %s: login log %+v; want it to say %q, and nothing of the answer's body", tc.allow, at, tc.log)
			}
			if got := hits.Swap(0); got != tc.hits {
				t.Errorf("allow %s: the provider got %d requests; want %d", tc.allow, got, tc.hits)
			}
		}
	})
}

// TestOwnersLearnNoInternalNames: an account's owner adding a connection
// in the console is told that a URL cannot be reached in the same words
// for a name that resolves only to private addresses and for a name that
// does not resolve, and to ask the operators; they were told the private
// address the name resolved to and the allow-list entry to add, so an owner
// could map which internal names exist and where. Operators (the command
// line) still read the whole refusal and the entry to add.
func TestOwnersLearnNoInternalNames(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	ctx := context.Background()
	svc := directory.NewService(directory.Config{Store: s})
	acme, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	setup := sso.NewSetup(sso.SetupConfig{Directory: svc, Fetch: fetch.New(fetch.Config{Resolver: testNames{"adfs.corp.example": "10.1.2.3"}})})
	owner := directory.Actor{Source: directory.SourceAdmin, ID: "usr_owner", Name: "owner@example.com"}
	refusal := func(actor directory.Actor, how, host string) string {
		t.Helper()
		var err error
		if how == "saml" {
			_, err = setup.AddSAML(ctx, acme.ID, actor, directory.NewConnection{Name: "corp"}, directory.MetadataSource{URL: "https://" + host + "/metadata"})
		} else {
			_, err = setup.AddOIDC(ctx, acme.ID, actor, directory.NewConnection{Name: "corp", Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: "https://" + host, ClientID: "admit"}}}, "s3cret")
		}
		if directory.KindOf(err) != directory.Invalid {
			t.Fatalf("%s %s as %s: %v; want invalid", how, host, actor.Source, err)
		}
		return strings.ReplaceAll(err.Error(), host, "HOST")
	}
	for _, how := range []string{"saml", "oidc"} {
		private, missing := refusal(owner, how, "adfs.corp.example"), refusal(owner, how, "missing.corp.example")
		if private != missing {
			t.Errorf("%s: an owner tells a private name from a missing one:\n%s\n%s", how, private, missing)
		}
		if strings.Contains(private, "10.1.2.3") || strings.Contains(private, "ADMIT_OUTBOUND_ALLOW") || !strings.Contains(private, "ask the platform's operators") {
			t.Errorf("%s: an owner is told %q", how, private)
		}
		if got := refusal(owner, how, "10.1.2.3"); strings.Contains(got, "ADMIT_OUTBOUND_ALLOW") || !strings.Contains(got, "admit does not send to") {
			t.Errorf("%s: an owner giving an address is told %q", how, got)
		}
		if got := refusal(operator, how, "adfs.corp.example"); !strings.Contains(got, "10.1.2.3") || !strings.Contains(got, "add 10.1.2.3/32 to ADMIT_OUTBOUND_ALLOW") {
			t.Errorf("%s: the command line is told %q", how, got)
		}
	}

	// The failure a refresh records is shown on the connection's page.
	other := directory.NewService(directory.Config{Store: storetest.SQLite(t)})
	c := samlConnection(t, other, idpMetadata(t, 365*24*time.Hour), "https://adfs.corp.example/metadata")
	names := fetch.New(fetch.Config{Resolver: testNames{"adfs.corp.example": "10.1.2.3"}})
	(&sso.Refresher{Directory: other, Fetch: names, Logger: slog.New(slog.DiscardHandler)}).RefreshOnce(ctx)
	got, err := other.Connection(ctx, c.AccountID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.MetadataError == "" || strings.Contains(got.MetadataError, "10.1.2.3") || strings.Contains(got.MetadataError, "ADMIT_OUTBOUND_ALLOW") {
		t.Errorf("a refresh recorded %q", got.MetadataError)
	}
}
