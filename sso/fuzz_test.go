package sso

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
)

// The two parsers here read what anyone on the internet can send (a
// SAMLResponse) or what an admin pastes from an identity provider
// (metadata): they must answer with an error, never a panic. Their seed
// tables double as the tests of their rules.

// samlResponseWith wraps children in a samlp:Response with the usual prefixes.
func samlResponseWith(children string) string {
	return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0">` +
		`<saml:Issuer>https://idp.example.com/metadata</saml:Issuer>` +
		`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
		children + `</samlp:Response>`
}

const plainAssertion = `<saml:Assertion ID="a1" Version="2.0"><saml:Issuer>https://idp.example.com/metadata</saml:Issuer>` +
	`<saml:Subject><saml:NameID>alice@example.com</saml:NameID></saml:Subject></saml:Assertion>`

var assertionCounts = []struct {
	name    string
	doc     string
	want    int
	wantErr bool
}{
	{name: "one assertion", doc: samlResponseWith(plainAssertion), want: 1},
	{name: "two assertions (signature wrapping)", doc: samlResponseWith(plainAssertion + strings.Replace(plainAssertion, `ID="a1"`, `ID="forged"`, 1)), want: 2},
	{name: "encrypted assertion", doc: samlResponseWith(`<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>`), want: 1},
	{name: "plain and encrypted", doc: samlResponseWith(plainAssertion + `<saml:EncryptedAssertion/>`), want: 2},
	// Advice may carry other assertions as evidence; they are not the
	// response's own and must not make a genuine response look wrapped.
	{name: "assertion nested in Advice", doc: samlResponseWith(strings.Replace(plainAssertion, "<saml:Subject>",
		`<saml:Advice><saml:Assertion ID="evidence"/></saml:Advice><saml:Subject>`, 1)), want: 1},
	{name: "assertion hidden in an Extensions element", doc: samlResponseWith(`<samlp:Extensions>` + plainAssertion + `</samlp:Extensions>` + plainAssertion), want: 1},
	{name: "default namespace, no prefixes", doc: `<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol"><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1"/></Response>`, want: 1},
	{name: "Assertion of another namespace is not one", doc: `<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol"><Assertion ID="a1"/></Response>`, want: 0},
	{name: "no assertion", doc: samlResponseWith(""), want: 0},
	{name: "empty", doc: "", want: 0},
	{name: "unclosed assertion", doc: strings.TrimSuffix(samlResponseWith(plainAssertion), "</samlp:Response>") + "<saml:Assertion>", wantErr: true},
	{name: "mismatched end tag", doc: samlResponseWith(`<saml:Assertion></saml:Subject>`), wantErr: true},
	{name: "undeclared entity", doc: samlResponseWith(`<saml:Assertion>&xxe;</saml:Assertion>`), wantErr: true},
	{name: "text, no element", doc: "SAMLResponse=PHNhbWxwOlJlc3BvbnNl", want: 0},
	{name: "not XML", doc: "<<samlp:Response>", wantErr: true},
}

func TestCountAssertions(t *testing.T) {
	t.Parallel()
	for _, tc := range assertionCounts {
		t.Run(tc.name, func(t *testing.T) {
			n, err := countAssertions([]byte(tc.doc))
			if (err != nil) != tc.wantErr || n != tc.want {
				t.Errorf("countAssertions = %d, %v; want %d, error %v", n, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzCountAssertions(f *testing.F) {
	for _, tc := range assertionCounts {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		n, err := countAssertions(doc)
		if err != nil {
			if n != 0 {
				t.Errorf("countAssertions = %d with error %v; an error must count nothing", n, err)
			}
			return
		}
		// Element names are read as written, never through an entity, so
		// each element counted has its local name spelled out in the input.
		if most := strings.Count(string(doc), "Assertion"); n < 0 || n > most {
			t.Errorf("countAssertions = %d, but the input spells Assertion only %d times", n, most)
		}
	})
}

// seedIDPMetadata is an identity provider's metadata as crewjam's IdP
// publishes it: one certificate for signing and encryption, the
// HTTP-Redirect and HTTP-POST single sign-on endpoints.
func seedIDPMetadata(tb testing.TB) string {
	tb.Helper()
	// ECDSA keeps the seed cheap: ParseMetadata only parses the certificate.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	meta, _ := url.Parse("https://idp.example.com/metadata")
	ssoURL, _ := url.Parse("https://idp.example.com/sso")
	idp := saml.IdentityProvider{Certificate: cert, MetadataURL: *meta, SSOURL: *ssoURL}
	out, err := xml.Marshal(idp.Metadata())
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

type metadataSeed struct {
	name   string
	doc    string
	refuse string // part of the error; "" when accepted
}

func metadataSeeds(tb testing.TB) []metadataSeed {
	md := seedIDPMetadata(tb)
	return []metadataSeed{
		{"crewjam IdP metadata", md, ""},
		{"inside an EntitiesDescriptor", `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` +
			`<EntityDescriptor entityID="https://sp.example.com"><SPSSODescriptor/></EntityDescriptor>` + md + `</EntitiesDescriptor>`, ""},
		{"key descriptor with no use", strings.Replace(md, `use="signing"`, "", 1), ""},
		// ADFS serves its FederationMetadata.xml with a byte order mark.
		{"byte order mark and XML declaration", "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?>" + md, ""},
		{"a document type declaration", `<!DOCTYPE EntityDescriptor [<!ENTITY e "x">]>` + md, "document type"},
		{"nested too deep", strings.Replace(md, "</IDPSSODescriptor>", strings.Repeat("<x>", 64)+strings.Repeat("</x>", 64)+"</IDPSSODescriptor>", 1), "nested more than 64 deep"},
		{"EntitiesDescriptor without an IdP", `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><EntityDescriptor entityID="x"/></EntitiesDescriptor>`, "no identity provider"},
		{"service provider metadata", `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><SPSSODescriptor/></EntityDescriptor>`, "no identity provider"},
		{"no entityID", strings.Replace(md, `entityID="https://idp.example.com/metadata"`, "", 1), "no entityID"},
		{"POST binding only", strings.ReplaceAll(md, saml.HTTPRedirectBinding, saml.HTTPPostBinding), ""},
		{"artifact binding only", strings.ReplaceAll(strings.ReplaceAll(md, saml.HTTPRedirectBinding, saml.HTTPArtifactBinding), saml.HTTPPostBinding, saml.HTTPArtifactBinding), "HTTP-Redirect or HTTP-POST"},
		{"encryption certificate only", strings.Replace(md, `use="signing"`, `use="encryption"`, 1), "no usable signing certificate"},
		{"signing certificate not base64", regexp.MustCompile(`(?s)(<KeyDescriptor use="signing">.*?<X509Certificate[^>]*>)[^<]*`).ReplaceAllString(md, "${1}not*base64"), "no usable signing certificate"},
		{"another root", `<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol"/>`, "root element"},
		{"not XML", "https://idp.example.com/metadata", "not XML"},
		{"empty", "", "not XML"},
	}
}

func TestParseMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range metadataSeeds(t) {
		t.Run(tc.name, func(t *testing.T) {
			ed, err := ParseMetadata([]byte(tc.doc))
			switch {
			case tc.refuse == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refuse == "":
				checkMetadataUsable(t, ed)
			case err == nil || !strings.Contains(err.Error(), tc.refuse):
				t.Errorf("error %v; want one mentioning %q", err, tc.refuse)
			}
		})
	}
}

func FuzzParseMetadata(f *testing.F) {
	for _, tc := range metadataSeeds(f) {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ed, err := ParseMetadata(doc)
		if err == nil {
			checkMetadataUsable(t, ed)
		}
	})
}

// checkMetadataUsable checks what ParseMetadata promises of metadata it
// accepts, written out here rather than through ssoEndpoint and
// signingCertificates so that the test does not grade them by themselves.
func checkMetadataUsable(t *testing.T, ed *saml.EntityDescriptor) {
	t.Helper()
	if ed == nil || ed.EntityID == "" || len(ed.IDPSSODescriptors) == 0 {
		t.Fatalf("accepted metadata without an entity id or an IDPSSODescriptor: %+v", ed)
	}
	redirect, signing := false, false // redirect: a Redirect or POST endpoint
	for _, d := range ed.IDPSSODescriptors {
		for _, s := range d.SingleSignOnServices {
			redirect = redirect || s.Binding == saml.HTTPRedirectBinding || s.Binding == saml.HTTPPostBinding
		}
		for _, kd := range d.KeyDescriptors {
			// No use means both, as SAML metadata 2.4.1.1 says.
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					continue
				}
				if _, err := x509.ParseCertificate(der); err == nil {
					signing = true
				}
			}
		}
	}
	if !redirect || !signing {
		t.Errorf("accepted metadata with an HTTP-Redirect or HTTP-POST SSO endpoint %v, a signing certificate %v; want both", redirect, signing)
	}
}
