package sso_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// sloFuzzWorld is a world with alice signed in through okta, the session
// cookie of her browser, and a genuine LogoutRequest of the IdP for her,
// signed: the only message that may sign her out, once.
func sloFuzzWorld(f *testing.F) (*world, *http.Cookie, []byte) {
	// SQLite only, as FuzzACSResponse: the endpoint does the same on both.
	w := newWorld(f, storetest.SQLite(f))
	b := w.signedIn("okta")
	u, _ := url.Parse(w.sp.URL)
	var session *http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == (web.SessionCookie{}).Name() {
			session = c
		}
	}
	if session == nil {
		f.Fatal("alice's browser holds no session cookie")
	}
	req := w.logoutRequest("okta", "alice@example.com")
	if err := w.idpSigner().SignLogoutRequest(req); err != nil {
		f.Fatal(err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.Element())
	genuine, err := doc.WriteToBytes()
	if err != nil {
		f.Fatal(err)
	}
	return w, session, genuine
}

// sloMutations are the seeds besides the genuine request, each a shape an
// attacker or a broken IdP sends, every one to be refused.
var sloMutations = []struct {
	name string
	edit func(string) string
}{
	{"unsigned", func(x string) string { return anySignature.ReplaceAllString(x, "") }},
	{"NameID altered under the signature", func(x string) string { return strings.ReplaceAll(x, "alice@example.com", "ceo@example.com") }},
	{"signed request wrapped in a forged one", func(x string) string {
		start := strings.Index(x, "<samlp:LogoutRequest")
		forged := strings.ReplaceAll(anySignature.ReplaceAllString(x[start:], ""), "alice@example.com", "ceo@example.com")
		forged = strings.Replace(forged, `ID="`, `ID="forged-`, 1)
		return strings.Replace(forged, "</saml:Issuer>", "</saml:Issuer><samlp:Extensions>"+x[start:]+"</samlp:Extensions>", 1)
	}},
	{"comment in the NameID", func(x string) string {
		return strings.ReplaceAll(x, "alice@example.com", "alice@example.com<!---->.evil.example")
	}},
	{"a LogoutResponse", func(x string) string { return strings.ReplaceAll(x, "LogoutRequest", "LogoutResponse") }},
	{"external entity", func(x string) string {
		return `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + strings.Replace(x, "alice@example.com", "&x;", 1)
	}},
	{"deeply nested", func(x string) string {
		return strings.Replace(x, "</saml:Issuer>", "</saml:Issuer>"+strings.Repeat("<a>", 5000)+strings.Repeat("</a>", 5000), 1)
	}},
	{"truncated", func(x string) string { return x[:len(x)/2] }},
	{"empty", func(string) string { return "" }},
}

// FuzzSLO sends arbitrary logout messages to okta's single logout
// endpoint, end to end: with post, a document as a posted SAMLRequest
// (HTTP-POST binding); otherwise, msg as the whole query (HTTP-Redirect:
// the parameters, their encoding, the DEFLATE stream, the query's
// signature). Reading, the bounds, the signature, the checks, the login
// log and the page: whatever arrives is refused (4xx), or, shaped as a
// LogoutResponse, lands on the signed-out page as not confirmed (no logout
// is in flight to confirm), and ends no session. Only the genuine
// request, by either binding, signs alice out, once, answered at the IdP.
func FuzzSLO(f *testing.F) {
	w, session, genuine := sloFuzzWorld(f)
	for _, m := range sloMutations {
		edited := m.edit(string(genuine))
		if edited == string(genuine) {
			f.Fatalf("mutation %q changed nothing", m.name)
		}
		f.Add(true, []byte(edited))
	}
	query := redirectQuery(f, requestMessage(w.logoutRequest("okta", "alice@example.com")), w.idpSigner(), "relay")
	for _, q := range []string{
		strings.Replace(query, "&Signature=", "&Signature=AAAA", 1),
		query[:strings.Index(query, "&SigAlg=")],
		strings.Replace(query, "SAMLRequest=", "SAMLRequest=%", 1),
		query + "&SAMLRequest=x",
		strings.Replace(query, "SAMLRequest=", "SAMLResponse=", 1),
		"SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0}, 100))),
		"RelayState=only",
		"",
	} {
		f.Add(false, []byte(q))
	}
	// Last, the genuine requests, so that the refusals above meet requests
	// not used yet; the second finds alice signed out, and is answered
	// all the same.
	f.Add(true, genuine)
	f.Add(false, []byte(query))
	slo := sso.SAMLURLs(w.sp.URL, "acme", "okta").SLO
	handler := w.sp.Config.Handler
	signedOut := false
	f.Fuzz(func(t *testing.T, post bool, msg []byte) {
		var req *http.Request
		if post {
			body := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(msg)}}.Encode()
			req = httptest.NewRequest(http.MethodPost, slo, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req = httptest.NewRequest(http.MethodGet, slo, nil)
			req.URL.RawQuery = string(msg)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		loc := rec.Header().Get("Location")
		genuineOne := post && bytes.Equal(msg, genuine) || !post && string(msg) == query
		switch {
		case genuineOne:
			// Answered at the IdP, whether or not alice was still signed
			// in (the second genuine request finds her gone: Success).
			if rec.Code != http.StatusFound || !strings.HasPrefix(loc, w.idp.URL+"/slo?") || sessionOwner(handler, slo, session) != "" {
				t.Fatalf("a genuine request: %d %q, alice signed in as %q; the harness is broken\nreason: %s\n%s",
					rec.Code, loc, sessionOwner(handler, slo, session), lastReason(w), rec.Body)
			}
			signedOut = true
			return
		case rec.Code == http.StatusSeeOther:
			if loc != "/logout?signed_out=1&idp=unconfirmed" {
				t.Fatalf("the SLO endpoint sent the browser to %q", loc)
			}
		case rec.Code < 400 || rec.Code >= 500:
			t.Fatalf("the SLO endpoint answered %d %q, want a 4xx refusal\nreason: %s\n%s", rec.Code, loc, lastReason(w), rec.Body)
		}
		if !signedOut && sessionOwner(handler, slo, session) == "" {
			t.Fatalf("a refused message signed alice out\nreason: %s", lastReason(w))
		}
		if strings.Contains(rec.Body.String(), "goroutine") {
			t.Fatalf("the failure page shows a stack:\n%s", rec.Body)
		}
	})
}
