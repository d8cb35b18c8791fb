package sso_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// FuzzACSResponse posts arbitrary SAMLResponse documents to the ACS of
// connection okta, end to end: parsing, signature, decryption, the checks
// admit adds, the login log and the failure page. Whatever arrives, the
// ACS answers with a refusal (4xx) and signs nobody in; only the one
// genuine response this process's IdP signed may sign alice in, once.
//
// Each process builds its own world, with its own keys and ports: under
// -fuzz the workers cannot verify the seeds the coordinator made, so the
// fuzzer explores everything up to and around signature verification,
// which is where a forger without the IdP's key lives. The seed run
// (go test) checks the refusals of the seeds against a live, unused
// assertion, and then that the genuine response does sign in.
func FuzzACSResponse(f *testing.F) {
	// SQLite only: the ACS does the same on both databases, and a fresh
	// PostgreSQL database per fuzz worker is slow for no gain.
	w := newWorld(f, storetest.SQLite(f))
	acs, form := w.browser().idpInitiated("okta", "alice", "")
	genuine, err := base64.StdEncoding.DecodeString(form.Get("SAMLResponse"))
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range acsMutations {
		edited := m.edit(string(genuine))
		if edited == string(genuine) {
			f.Fatalf("mutation %q changed nothing", m.name)
		}
		f.Add([]byte(edited))
	}
	// Last, so that the refusals above meet an assertion the replay cache
	// has not seen yet, and are refused for what they are.
	f.Add(genuine)

	handler := w.sp.Config.Handler // in process: no TLS, no sockets per iteration
	session := web.SessionCookie{}.Name()
	signedIn := false
	f.Fuzz(func(t *testing.T, doc []byte) {
		body := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}}.Encode()
		req := httptest.NewRequest(http.MethodPost, acs, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)

		who := ""
		for _, c := range rec.Result().Cookies() {
			if c.Name == session && c.Value != "" {
				who = sessionOwner(handler, acs, c)
			}
		}
		if bytes.Equal(doc, genuine) && !signedIn {
			if rec.Code != http.StatusSeeOther || !strings.HasPrefix(who, "alice@example.com acme") {
				t.Fatalf("the genuine response: %d, signed in as %q; the harness is broken\n%s", rec.Code, who, rec.Body)
			}
			signedIn = true
			return
		}
		if rec.Code < 400 || rec.Code >= 500 || who != "" {
			t.Fatalf("ACS answered %d (signed in as %q), want a 4xx refusal\nreason: %s\n%s", rec.Code, who, lastReason(w), rec.Body)
		}
		if strings.Contains(rec.Body.String(), "goroutine") {
			t.Fatalf("the failure page shows a stack:\n%s", rec.Body)
		}
	})
}

// sessionOwner asks the world's /me who the session cookie belongs to.
func sessionOwner(handler http.Handler, base string, session *http.Cookie) string {
	req := httptest.NewRequest(http.MethodGet, base, nil)
	req.URL.Path = "/me"
	req.AddCookie(session)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return ""
	}
	return rec.Body.String()
}

// lastReason is the newest reason in okta's login log, for the failure
// message (world.lastAttempt fails through the F, which a fuzz body must
// not use).
func lastReason(w *world) string {
	all, err := w.svc.LoginAttempts(context.Background(), w.acme.ID, w.okta.ID, 1)
	if err != nil || len(all) == 0 {
		return "(none recorded)"
	}
	return all[0].Reason
}

var (
	anySignature  = regexp.MustCompile(`(?s)<ds:Signature .*?</ds:Signature>`)
	signedElement = regexp.MustCompile(`(?s)<saml:Assertion .*</saml:Assertion>`)
)

// acsMutations are the seeds besides the genuine response: each one a
// shape an attacker or a broken IdP sends, every one to be refused.
var acsMutations = []struct {
	name string
	edit func(string) string
}{
	{"unsigned", func(x string) string { return anySignature.ReplaceAllString(x, "") }},
	{"assertion altered under its signature", func(x string) string {
		return strings.ReplaceAll(responseSignature.ReplaceAllString(x, "$1"), "alice@example.com", "ceo@example.com")
	}},
	{"forged assertion before the signed one", func(x string) string {
		x = responseSignature.ReplaceAllString(x, "$1")
		signed := signedElement.FindString(x)
		forged := strings.ReplaceAll(anySignature.ReplaceAllString(signed, ""), "alice@example.com", "ceo@example.com")
		return strings.Replace(x, signed, forged+signed, 1)
	}},
	{"signed assertion hidden in the signature of a forged one", func(x string) string {
		x = responseSignature.ReplaceAllString(x, "$1")
		signed := signedElement.FindString(x)
		sig := anySignature.FindString(signed)
		forged := strings.ReplaceAll(strings.Replace(signed, sig, "", 1), "alice@example.com", "ceo@example.com")
		wrapped := strings.Replace(sig, "</ds:Signature>", "<ds:Object>"+signed+"</ds:Object></ds:Signature>", 1)
		return strings.Replace(x, signed, strings.Replace(forged, "<saml:Subject>", wrapped+"<saml:Subject>", 1), 1)
	}},
	{"comment in the NameID", func(x string) string {
		return strings.ReplaceAll(responseSignature.ReplaceAllString(x, "$1"), "alice@example.com", "alice@example.com<!---->.evil.example")
	}},
	{"encrypted assertion of garbage", func(x string) string {
		return signedElement.ReplaceAllString(responseSignature.ReplaceAllString(x, "$1"), `<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">`+
			`<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>`)
	}},
	{"external entity", func(x string) string {
		return `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + strings.Replace(x, "alice@example.com", "&x;", 1)
	}},
	{"truncated", func(x string) string { return x[:len(x)/2] }},
	{"empty", func(string) string { return "" }},
}
