package sso_test

import (
	"net/http"
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
		// The whole request, TLS and form parsing included; the check
		// itself is timed against 100 ms in TestDeepDocumentRefusedQuickly.
		if took > time.Second {
			t.Errorf("refusing took %s", took)
		}
		if at := w.lastAttempt(w.okta); at.Outcome != "refused" || !strings.Contains(at.Reason, "nested more than 64 deep") {
			t.Errorf("login log: %s %q", at.Outcome, at.Reason)
		}
	})
}
