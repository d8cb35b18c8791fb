package sso_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// deepResponse is a Response with one assertion, as admit's own checks
// want it, holding levels nested elements.
func deepResponse(levels int) string {
	return `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1" Version="2.0">` +
		`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1" Version="2.0">` +
		strings.Repeat("<a>", levels) + strings.Repeat("</a>", levels) + `</saml:Assertion></samlp:Response>`
}

// TestDeepResponseRefusedAtACS posts the attack that cost 47 s of CPU,
// 95,000 nested elements (887 KB as a SAMLResponse), to an ACS, anonymously:
// it is refused on the failure page with a reference, quickly, and the
// login log says why.
func TestDeepResponseRefusedAtACS(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		doc := deepResponse(95_000)
		form := url.Values{"SAMLResponse": {b64([]byte(doc))}}
		t.Logf("SAMLResponse: %d bytes", len(form.Get("SAMLResponse")))
		b := w.browser()
		start := time.Now()
		p := b.post(w.sp.URL+"/sso/acme/saml/okta/acs", form)
		took := time.Since(start)
		t.Logf("refused in %s", took)
		if p.status != http.StatusBadRequest || !regexp.MustCompile(`Reference: <code>[^<]+</code>`).MatchString(p.body) {
			t.Errorf("ACS: %d %.500s", p.status, p.body)
		}
		// The whole request, TLS and form parsing included, on a machine
		// that may be busy: the attack took 47 s, so 5 s still tells.
		// The check itself is timed in TestDeepDocumentRefusedQuickly.
		if took > 5*time.Second {
			t.Errorf("refusing took %s", took)
		}
		if at := w.lastAttempt(w.okta); at.Outcome != "refused" || !strings.Contains(at.Reason, "nested more than 64 deep") {
			t.Errorf("login log: %s %q", at.Outcome, at.Reason)
		}
	})
}

// BenchmarkACSBounds measures what an anonymous post costs the ACS: the
// deep attack (refused by the bounds), and the costliest response the
// bounds let through to crewjam: 4,000 groups written as Okta writes them
// and a signature over the assertion that does not verify, so that crewjam
// parses, canonicalizes and digests all of it before refusing.
func BenchmarkACSBounds(b *testing.B) {
	w := newWorld(b, storetest.SQLite(b))
	handler := w.sp.Config.Handler // in process: the handler's work, not TLS
	var groups strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&groups, `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">group-%d</saml:AttributeValue>`, i)
	}
	signature := `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>` +
		`<ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
		`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>`
	// As crewjam wants a response before it reads the assertion: to this
	// ACS, issued now, successful.
	widest := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="r1" Version="2.0" Destination="` + w.sp.URL + `/sso/acme/saml/okta/acs"` +
		` IssueInstant="` + time.Now().UTC().Format(time.RFC3339) + `"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
		`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1" Version="2.0">` + signature +
		`<saml:AttributeStatement><saml:Attribute Name="groups">` + groups.String() + `</saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>`
	for _, tc := range []struct{ name, doc, reason string }{
		{"deep attack", deepResponse(95_000), "nested more than 64 deep"},
		{"costliest accepted", widest, "Signature could not be verified"},
	} {
		body := url.Values{"SAMLResponse": {b64([]byte(tc.doc))}}.Encode()
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, w.sp.URL+"/sso/acme/saml/okta/acs", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
			}
			if at := w.lastAttempt(w.okta); !strings.Contains(at.Reason, tc.reason) {
				b.Fatalf("refused for %q; want %q", at.Reason, tc.reason)
			}
		})
	}
}
