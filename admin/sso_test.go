package admin_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// ssoSetup is the connection setup cmd/admit gives the console: the real
// one, with the default outbound rules (nothing on this machine is
// reachable, so these tests give metadata as files and fields).
func ssoSetup(t testing.TB, svc *directory.Service) *sso.Setup {
	t.Helper()
	sealer, err := certs.NewSealer(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return sso.NewSetup(sso.SetupConfig{Directory: svc, Secrets: sealer, BaseURL: "https://admit.example"})
}

// idpCertificate is a self-signed certificate ending at notAfter, as PEM.
func idpCertificate(t testing.TB, notAfter time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// upload posts a multipart form with the CSRF token of the last page.
func (p *person) upload(path string, form url.Values, file string, data []byte) (int, string) {
	p.t.Helper()
	if m := csrfToken.FindStringSubmatch(p.last); m != nil && form.Get("csrf_token") == "" {
		form.Set("csrf_token", m[1])
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != "" {
		fw, _ := mw.CreateFormFile(file, "metadata.xml")
		_, _ = fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, p.site.server.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.last = string(b)
	return resp.StatusCode, resp.Request.URL.RequestURI()
}

// TestSSOPages: an admin adds SAML connections (a metadata file, the
// provider's fields, none yet), sees the values to paste and the setup
// steps, finishes a waiting one, edits, maps groups to roles, reads a Test
// sign-in's result and removes a connection; every change is audited with
// the admin as actor.
func TestSSOPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"acme.example", "acme-labs.example"}})
		if err != nil {
			t.Fatal(err)
		}
		p := s.signIn(t, s.add(t, a, "ada@acme.example", directory.RoleOwner), a)

		if code, _ := p.get("/admin/acme/sso"); code != 200 {
			t.Fatalf("list: %d", code)
		}
		p.sees("No connections yet", `href="/admin/acme/sso/new?protocol=saml"`)

		// From a metadata file: the certificate ends in 10 days, which the
		// pages warn of.
		soon := time.Now().Add(10 * 24 * time.Hour)
		doc, err := sso.MetadataFromFields("https://idp.acme.example", "https://idp.acme.example/sso", idpCertificate(t, soon))
		if err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/sso/new?protocol=saml")
		code, path := p.upload("/admin/acme/sso/new", url.Values{"protocol": {"saml"}, "name": {"okta"}, "idp": {"okta"}, "domains": {"acme.example"}}, "metadata_file", doc)
		if code != 200 || path != "/admin/acme/sso/connections/okta?done=added&idp=okta" {
			t.Fatalf("add from file: %d %s\n%s", code, path, p.last)
		}
		p.sees("Ready: it signs people in", `id="acs-url">https://admit.example/sso/acme/saml/okta/acs<`, `id="sp-entity-id">https://admit.example/sso/acme/saml/okta/metadata<`,
			`id="intranet-url">https://admit.example/sso/acme/login<`, `data-copy="acs-url"`, `src="/static/copy.js"`, "Okta Admin Console", "Metadata URL: give it to admit",
			"Ends "+soon.Format("2006-01-02"), `href="/sso/acme/test?connection=okta&amp;return_to=%2Fadmin%2Facme%2Fsso%2Fconnections%2Fokta%2Ftest"`)
		p.get("/admin/acme/sso")
		p.sees(`href="/admin/acme/sso/connections/okta"`, "Ends "+soon.Format("2006-01-02"))

		// A bad file is a readable problem on the form, and nothing is added.
		p.get("/admin/acme/sso/new?protocol=saml")
		if code, _ := p.upload("/admin/acme/sso/new", url.Values{"protocol": {"saml"}, "name": {"bad"}}, "metadata_file", []byte("<EntityDescriptor/>")); code != 400 {
			t.Errorf("bad metadata: %d", code)
		}
		p.sees("not a SAML EntityDescriptor")
		// Fields with a certificate that is not one.
		if code, _ := p.upload("/admin/acme/sso/new", url.Values{"protocol": {"saml"}, "name": {"bad"}, "entity_id": {"x"}, "sso_url": {"https://idp/sso"}, "certificate": {"nope"}}, "", nil); code != 400 {
			t.Errorf("bad certificate: %d", code)
		}
		p.sees("not an X.509 certificate")
		// OIDC: an issuer that is no URL is refused before anything is fetched.
		p.get("/admin/acme/sso/new?protocol=oidc")
		if code, _ := p.post("/admin/acme/sso/new", url.Values{"protocol": {"oidc"}, "name": {"google"}, "issuer": {"ftp://x"}, "client_id": {"c"}, "client_secret": {"s"}}); code != 400 {
			t.Errorf("bad issuer: %d", code)
		}
		p.sees("must be https")

		// An OIDC connection's page: the redirect URI to register.
		if _, err := s.svc.CreateConnection(ctx, a.ID, operator, directory.NewConnection{Protocol: directory.ProtocolOIDC, Name: "google", SealedSecret: "sealed",
			Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{Issuer: "https://accounts.google.com", ClientID: "client-1"}}}); err != nil {
			t.Fatal(err)
		}
		if code, _ := p.get("/admin/acme/sso/connections/google?idp=google"); code != 200 {
			t.Fatalf("OIDC connection page: %d", code)
		}
		p.sees(`id="redirect-uri">https://admit.example/sso/acme/oidc/google/callback<`, "client-1", "Authorized redirect URI: the redirect URI")

		// Without metadata the connection waits; fields finish it.
		p.get("/admin/acme/sso/new?protocol=saml")
		if code, path := p.upload("/admin/acme/sso/new", url.Values{"protocol": {"saml"}, "name": {"entra"}, "idp": {"entra"}}, "", nil); code != 200 || !strings.HasPrefix(path, "/admin/acme/sso/connections/entra") {
			t.Fatalf("add waiting: %d %s", code, path)
		}
		p.sees("Waiting for the identity provider", "Give the identity provider's metadata first", "Reply URL: the ACS URL")
		later := time.Now().Add(400 * 24 * time.Hour)
		if code, path := p.upload("/admin/acme/sso/connections/entra/metadata", url.Values{"entity_id": {"https://sts.windows.net/x/"}, "sso_url": {"https://login.microsoftonline.com/x/saml2"}, "certificate": {idpCertificate(t, later)}}, "", nil); code != 200 || path != "/admin/acme/sso/connections/entra?done=metadata" {
			t.Fatalf("set metadata: %d %s\n%s", code, path, p.last)
		}
		p.sees("Ready: it signs people in", "Valid until "+later.Format("2006-01-02"))

		// Edit: domains, mode, mapping, IdP-initiated.
		edit := url.Values{"domains": {"acme-labs.example"}, "jit_mode": {"link"}, "map_groups": {"memberOf"}, "map_subject": {" user.id "}, "allow_idp_initiated": {"on"}}
		if code, path := p.post("/admin/acme/sso/connections/entra", edit); code != 200 || path != "/admin/acme/sso/connections/entra?done=updated" {
			t.Fatalf("edit: %d %s", code, path)
		}
		c := connectionOf(t, s, a, "entra")
		if c.JITMode != directory.JITLink || !c.Settings.AllowIDPInitiated || c.Settings.Mapping.Groups != "memberOf" || c.Settings.Mapping.Subject != "user.id" || strings.Join(c.Domains, ",") != "acme-labs.example" {
			t.Errorf("after the edit: %+v", c)
		}
		if code, _ := p.post("/admin/acme/sso/connections/entra", url.Values{"domains": {"other.example"}, "jit_mode": {"create"}}); code != 400 {
			t.Errorf("a domain not the account's: %d", code)
		}
		// A subject attribute PostgreSQL's text cannot hold, or one
		// people share: a readable refusal, the connection as it was.
		for _, bad := range []string{"user\x00id", "user\xffid", "\u202euser.id", "http://schemas.microsoft.com/identity/claims/TenantID", "EMAIL"} {
			if code, _ := p.post("/admin/acme/sso/connections/entra", url.Values{"domains": {"acme-labs.example"}, "jit_mode": {"link"}, "map_groups": {"memberOf"}, "map_subject": {bad}}); code != 400 {
				t.Errorf("subject attribute %q: %d; want 400", bad, code)
			}
			if c := connectionOf(t, s, a, "entra"); c.Settings.Mapping.Subject != "user.id" {
				t.Errorf("after the subject attribute %q was refused: %q", bad, c.Settings.Mapping.Subject)
			}
		}

		// The attempts log and a Test sign-in's result.
		detail, _ := json.Marshal(map[string]any{"test": true, "subject": "bob@acme.example", "claims": map[string][]string{"memberOf": {"Admins"}},
			"identity": map[string]any{"Email": "bob@acme.example", "FirstName": "Bob", "Groups": []string{"Admins"}}, "role": "admin", "role_from": "Admins"})
		if err := s.svc.RecordLoginAttempt(ctx, directory.LoginAttempt{ConnectionID: c.ID, Outcome: sso.OutcomeTested, Reason: "created user", Reference: "ref-1", Email: "bob@acme.example", Detail: detail, Verified: true}); err != nil {
			t.Fatal(err)
		}
		if code, _ := p.get("/admin/acme/sso/connections/entra/test?ref=ref-1"); code != 200 {
			t.Fatalf("test result: %d", code)
		}
		p.sees("would create this person", `id="test-role">admin (from group Admins)`, "<code>memberOf</code>", "Nobody was signed in or changed")
		if code, _ := p.get("/admin/acme/sso/connections/okta/test?ref=ref-1"); code != 404 {
			t.Errorf("another connection's reference: %d", code)
		}
		p.get("/admin/acme/sso/connections/entra/attempts")
		p.sees("ref-1", "created user")

		// Groups and roles.
		if code, path := p.post("/admin/acme/sso/roles", url.Values{"group": {"Admins"}, "role": {"admin"}}); code != 200 || path != "/admin/acme/sso/roles?done=mapped" {
			t.Fatalf("map: %d %s", code, path)
		}
		p.sees("<td>Admins</td><td>admin</td>")
		if code, _ := p.post("/admin/acme/sso/roles", url.Values{"group": {"Owners"}, "role": {"owner"}}); code != 400 {
			t.Errorf("mapping to owner: %d", code)
		}
		if code, path := p.post("/admin/acme/sso/roles/unmap", url.Values{"group": {"Admins"}}); code != 200 || path != "/admin/acme/sso/roles?done=unmapped" {
			t.Fatalf("unmap: %d %s", code, path)
		}
		p.sees("No group gives a role yet")

		// Removal needs the confirmation page's form.
		if code, _ := p.post("/admin/acme/sso/connections/okta/remove", url.Values{}); code != 400 {
			t.Errorf("remove without confirmation: %d", code)
		}
		p.get("/admin/acme/sso/connections/okta/remove")
		p.sees("Remove connection okta?")
		if code, path := p.post("/admin/acme/sso/connections/okta/remove", url.Values{"confirm": {"okta"}}); code != 200 || path != "/admin/acme/sso?done=removed" {
			t.Fatalf("remove: %d %s", code, path)
		}
		if code, _ := p.get("/admin/acme/sso/connections/okta"); code != 404 {
			t.Errorf("a removed connection: %d", code)
		}

		for _, action := range []string{"connection.created", "connection.updated", "connection.deleted", "role_mapping.saved", "role_mapping.deleted"} {
			ev := s.events(t, a, action)
			if len(ev) == 0 || ev[0].Actor.Name != "ada@acme.example" {
				t.Errorf("%s: %+v", action, ev)
			}
		}
	})
}

func connectionOf(t *testing.T, s *site, a directory.Account, name string) directory.Connection {
	t.Helper()
	all, err := s.svc.Connections(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no connection %s", name)
	return directory.Connection{}
}

// TestSSOIsolation: an admin of one account reaches none of another's
// connections by any URL, and a member gets 403.
func TestSSOIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		acme, globex := s.account(t, "acme"), s.account(t, "globex")
		for _, a := range []directory.Account{acme, globex} {
			if _, err := s.svc.CreateConnection(ctx, a.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "okta-" + a.Slug}); err != nil {
				t.Fatal(err)
			}
		}
		owner := s.signIn(t, s.add(t, acme, "ada@acme.example", directory.RoleOwner), acme)
		admin := s.signIn(t, s.add(t, acme, "bea@acme.example", directory.RoleAdmin), acme)
		member := s.signIn(t, s.add(t, acme, "max@acme.example", directory.RoleMember), acme)
		owner.get("/admin/acme/sso")
		owner.sees("okta-acme")
		if strings.Contains(admin.last, "okta-globex") {
			t.Error("acme's list shows globex's connection")
		}
		// Globex's connection named under acme's console, and globex's console.
		for _, path := range []string{"/admin/acme/sso/connections/okta-globex", "/admin/acme/sso/connections/okta-globex/attempts",
			"/admin/acme/sso/connections/okta-globex/remove", "/admin/acme/sso/connections/okta-globex/test?ref=x", "/admin/globex/sso", "/admin/globex/sso/connections/okta-globex"} {
			if code, _ := owner.get(path); code != 404 {
				t.Errorf("GET %s: %d, want 404", path, code)
			}
		}
		owner.get("/admin/acme/sso")
		for _, path := range []string{"/admin/acme/sso/connections/okta-globex", "/admin/acme/sso/connections/okta-globex/remove", "/admin/acme/sso/connections/okta-globex/metadata"} {
			if code, _ := owner.post(path, url.Values{"confirm": {"okta-globex"}, "jit_mode": {"off"}}); code != 404 {
				t.Errorf("POST %s: %d, want 404", path, code)
			}
		}
		if c := connectionOf(t, s, globex, "okta-globex"); c.JITMode != directory.JITCreate {
			t.Errorf("globex's connection changed: %+v", c)
		}
		// Admins as well as members: a connection may sign in anyone of
		// the account's domains, owners included, so only owners set one
		// up (an admin pointing one at an identity provider of their own
		// would be anyone).
		// The section's first page, in every admin's menu, tells an admin
		// who may (as SCIM, Domains and Webhooks do) and shows no connection.
		if code, _ := admin.get("/admin/acme/sso"); code != 200 {
			t.Errorf("admin GET /admin/acme/sso: %d, want 200", code)
		}
		admin.sees("Only the owners of this account set up single sign-on")
		if strings.Contains(admin.last, "okta-acme") || strings.Contains(admin.last, "add-saml") {
			t.Errorf("an admin sees a connection or the add buttons:\n%s", admin.last)
		}
		if code, _ := member.get("/admin/acme/sso"); code != 403 {
			t.Errorf("member GET /admin/acme/sso: %d, want 403", code)
		}
		for who, p := range map[string]*person{"admin": admin, "member": member} {
			for _, path := range []string{"/admin/acme/sso/new", "/admin/acme/sso/roles", "/admin/acme/sso/connections/okta-acme"} {
				if code, _ := p.get(path); code != 403 {
					t.Errorf("%s GET %s: %d, want 403", who, path, code)
				}
				if who == "admin" {
					p.sees("Only the owners of Acme may do this.")
				}
			}
			p.get("/login")
			if code, _ := p.post("/admin/acme/sso/connections/okta-acme/remove", url.Values{"confirm": {"okta-acme"}}); code != 403 {
				t.Errorf("%s remove: %d, want 403", who, code)
			}
			p.get("/login")
			if code, _ := p.upload("/admin/acme/sso/new", url.Values{"protocol": {"saml"}, "name": {"mine"}, "entity_id": {"https://idp.evil/"}, "sso_url": {"https://idp.evil/sso"}}, "", nil); code != 403 {
				t.Errorf("%s add a connection: %d, want 403", who, code)
			}
		}
		connectionOf(t, s, acme, "okta-acme")
	})
}
