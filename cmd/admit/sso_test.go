package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// idpMetadataFile writes an identity provider's metadata, as crewjam's IdP
// publishes it, to a file.
func idpMetadataFile(t *testing.T) string {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	meta, _ := url.Parse("https://idp.example.net/metadata")
	sso, _ := url.Parse("https://idp.example.net/sso")
	idp := saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *meta, SSOURL: *sso}
	b, err := xml.Marshal(idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idp.xml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSSOAndCertsCommands(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	md := idpMetadataFile(t)
	bad := filepath.Join(t.TempDir(), "sp.xml")
	_ = os.WriteFile(bad, []byte(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><SPSSODescriptor/></EntityDescriptor>`), 0o600)
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com")
	admit(t, db, "", "account", "create", "--slug", "globex", "--name", "Globex", "--domain", "globex.example")
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"sso", "list", "--account", "acme"}, 0, "no connections"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-file", md}, 0, "http://localhost:8080/sso/acme/saml/okta/acs"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-file", md}, exitError, "already has a connection named"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "other", "--metadata-file", md, "--domain", "globex.example"}, exitError, "belongs to another account"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "sp", "--metadata-file", bad}, exitError, "no identity provider"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "x", "--metadata-url", "https://idp.example.net/md", "--metadata-file", md}, exitUsage, "not both"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "x"}, 0, "waiting for its identity provider"},
		{[]string{"sso", "set-metadata", "--account", "acme", "--connection", "x", "--metadata-file", bad}, exitError, "no identity provider"},
		{[]string{"sso", "set-metadata", "--account", "acme", "--connection", "x", "--metadata-file", md}, 0, "is finished"},
		{[]string{"sso", "remove", "--account", "acme", "--connection", "x"}, 0, "removed connection x"},
		{[]string{"sso", "add-saml", "--account", "acme", "--name", "y", "--metadata-file", md, "--jit", "sometimes"}, exitError, "want create, link or off"},
		{[]string{"sso", "list", "--account", "acme"}, 0, "/sso/acme/login"},
		{[]string{"sso", "attempts", "--account", "acme", "--connection", "okta"}, 0, "no login attempts yet"},
		{[]string{"sso", "set-metadata", "--account", "acme", "--connection", "okta", "--metadata-file", md}, 0, "replaced the metadata"},
		{[]string{"sso", "remove", "--account", "acme", "--connection", "nope"}, exitError, "no connection named"},
		{[]string{"certs", "list"}, 0, "active"},
		{[]string{"certs", "rotate"}, 0, "not used yet"},
		{[]string{"certs", "rotate"}, 0, "now signs"},
		{[]string{"certs", "retire", "--id", "nope"}, exitError, "no certificate nope"},
	} {
		r := admit(t, db, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) {
			t.Errorf("%v: exit %d, %q %q; want exit %d with %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
	// set-metadata prints the connection as it is now: as sso list shows
	// it, with the time the metadata was replaced.
	updated := decode[map[string]any](t, admit(t, db, "", "sso", "set-metadata", "--account", "acme", "--connection", "okta", "--metadata-file", md, "--json"))
	listed := decode[[]map[string]any](t, admit(t, db, "", "sso", "list", "--account", "acme", "--json"))
	if updated["idp_metadata_fetched_at"] == nil || len(listed) != 1 || !reflect.DeepEqual(updated, listed[0]) {
		t.Errorf("set-metadata printed %v; sso list shows %v", updated, listed)
	}
	r := admit(t, db, "", "certs", "list", "--json")
	certs := decode[[]map[string]any](t, r)
	if len(certs) != 2 || certs[0]["state"] != "active" || certs[1]["state"] != "previous" {
		t.Fatalf("after two rotations: %v", certs)
	}
	if r := admit(t, db, "", "certs", "retire", "--id", certs[0]["id"].(string)); r.code != exitError || !strings.Contains(r.stderr, "cannot be retired") {
		t.Errorf("retire active: %d %s", r.code, r.stderr)
	}
	if r := admit(t, db, "", "certs", "retire", "--id", certs[1]["id"].(string)); r.code != 0 {
		t.Errorf("retire previous: %d %s", r.code, r.stderr)
	}
}

func TestSSOUpdateCommand(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com", "--domain", "example.org")
	admit(t, db, "", "account", "create", "--slug", "globex", "--name", "Globex", "--domain", "globex.example")
	if r := admit(t, db, "", "sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-file", idpMetadataFile(t)); r.code != 0 {
		t.Fatalf("add-saml: %s", r.stderr)
	}
	update := func(args ...string) result {
		return admit(t, db, "", append([]string{"sso", "update", "--account", "acme", "--connection", "okta", "--json"}, args...)...)
	}
	r := update("--jit", "link", "--allow-idp-initiated", "--domain", "example.org", "--email-attribute", "mail", "--return-host", "https://app.example.com")
	got := decode[map[string]any](t, r)
	settings, _ := got["settings"].(map[string]any)
	mapping, _ := settings["mapping"].(map[string]any)
	if r.code != 0 || got["jit_mode"] != "link" || settings["allow_idp_initiated"] != true || mapping["email"] != "mail" ||
		fmt.Sprint(got["domains"]) != "[example.org]" || fmt.Sprint(settings["return_hosts"]) != "[https://app.example.com]" {
		t.Fatalf("update: exit %d %v", r.code, got)
	}
	// Only the flags given change.
	got = decode[map[string]any](t, update("--allow-idp-initiated=false", "--all-domains"))
	settings, _ = got["settings"].(map[string]any)
	if got["jit_mode"] != "link" || settings["allow_idp_initiated"] != nil || fmt.Sprint(got["domains"]) != "[]" ||
		settings["mapping"].(map[string]any)["email"] != "mail" {
		t.Errorf("second update: %v", got)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--email-claim", "email"}, exitUsage, "does not apply to SAML connection okta"},
		{[]string{"--domain", "globex.example"}, exitError, "belongs to another account"},
		{[]string{"--jit", "sometimes"}, exitError, "want create, link or off"},
		{[]string{"--clock-skew", "10m"}, exitError, "clock skew"},
		{[]string{"--domain", "example.com", "--all-domains"}, exitUsage, "not both"},
	} {
		r := update(tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) {
			t.Errorf("%v: exit %d, %q %q; want exit %d with %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
	// The lasting subject's attribute: set, printed for the provider's
	// admin, and back to the default; SAML only.
	got = decode[map[string]any](t, update("--subject-attribute", "user.id"))
	settings, _ = got["settings"].(map[string]any)
	attributes, _ := got["attributes"].(map[string]any)
	if settings["mapping"].(map[string]any)["subject"] != "user.id" || fmt.Sprint(attributes["subject"]) != "[user.id]" ||
		settings["mapping"].(map[string]any)["email"] != "mail" {
		t.Errorf("--subject-attribute user.id: %v", got)
	}
	got = decode[map[string]any](t, update("--subject-attribute", ""))
	attributes, _ = got["attributes"].(map[string]any)
	if settings, _ = got["settings"].(map[string]any); settings["mapping"].(map[string]any)["subject"] != nil ||
		fmt.Sprint(attributes["subject"]) != "["+directory.EntraObjectIDClaim+" "+directory.EntraTenantIDClaim+"]" {
		t.Errorf("--subject-attribute \"\": %v", got)
	}
	if r := admit(t, db, "", "sso", "add-saml", "--account", "acme", "--name", "entra", "--metadata-file", idpMetadataFile(t), "--subject-attribute", "nameid"); r.code != 0 ||
		!strings.Contains(r.stdout, "subject:    a persistent NameID") {
		t.Errorf("add-saml --subject-attribute nameid: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := admit(t, db, "", "sso", "add-oidc", "--account", "acme", "--issuer", "https://idp.example.net", "--client-id", "c", "--subject-attribute", "oid"); r.code != exitUsage ||
		!strings.Contains(r.stderr, "subject-attribute") {
		t.Errorf("add-oidc --subject-attribute: %d %s", r.code, r.stderr)
	}
	// The refused updates changed nothing.
	list := decode[[]map[string]any](t, admit(t, db, "", "sso", "list", "--account", "acme", "--json"))
	if len(list) != 2 || list[0]["jit_mode"] != "link" || fmt.Sprint(list[0]["domains"]) != "[]" {
		t.Errorf("after refused updates: %v", list)
	}
}
