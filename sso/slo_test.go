package sso_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store/storetest"
)

// The single logout endpoint against the messages of the world's IdP
// (crewjam's samlidp, whose key signs them here: samlidp makes no logout
// messages of its own) and against forgeries. samlify, which does make
// them, runs the same flows end to end in TestNodeIdPLogins.

// signer is a key pair as crewjam signs with it: the IdP's, or another.
func signer(key *rsa.PrivateKey, cert *x509.Certificate) *saml.ServiceProvider {
	return &saml.ServiceProvider{Key: key, Certificate: cert, SignatureMethod: dsig.RSASHA256SignatureMethod}
}

func (w *world) idpSigner() *saml.ServiceProvider { return signer(w.idpKey, w.idpCert) }

// idpEntityID is the world's IdP's entity id, as its metadata says.
func (w *world) idpEntityID() string {
	md, err := sso.ParseMetadata([]byte(w.okta.Metadata))
	if err != nil {
		w.t.Fatal(err)
	}
	return md.EntityID
}

// logoutRequest is a LogoutRequest of the world's IdP to the connection's
// single logout URL for nameID, issued now, with no SessionIndex (every
// session of the person).
func (w *world) logoutRequest(connection, nameID string) *saml.LogoutRequest {
	return &saml.LogoutRequest{ID: "id-" + randomHex(), Version: "2.0", IssueInstant: time.Now().UTC(),
		Destination: sso.SAMLURLs(w.sp.URL, "acme", connection).SLO, Issuer: &saml.Issuer{Value: w.idpEntityID()},
		NameID: &saml.NameID{Format: string(saml.EmailAddressNameIDFormat), Value: nameID}}
}

// logoutResponse is the world's IdP's answer to admit's LogoutRequest id.
func (w *world) logoutResponse(connection, inResponseTo string) *saml.LogoutResponse {
	return &saml.LogoutResponse{ID: "id-" + randomHex(), InResponseTo: inResponseTo, Version: "2.0", IssueInstant: time.Now().UTC(),
		Destination: sso.SAMLURLs(w.sp.URL, "acme", connection).SLO, Issuer: &saml.Issuer{Value: w.idpEntityID()},
		Status: saml.Status{StatusCode: saml.StatusCode{Value: saml.StatusSuccess}}}
}

func randomHex() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// message is a logout message and how s signs it (nil: left unsigned).
type message struct {
	field string // SAMLRequest or SAMLResponse
	dest  string
	el    func() *etree.Element
	sign  func(s *saml.ServiceProvider) error
}

func requestMessage(req *saml.LogoutRequest) message {
	return message{"SAMLRequest", req.Destination, req.Element, func(s *saml.ServiceProvider) error { req.Signature = nil; return s.SignLogoutRequest(req) }}
}

func responseMessage(resp *saml.LogoutResponse) message {
	return message{"SAMLResponse", resp.Destination, resp.Element, func(s *saml.ServiceProvider) error { resp.Signature = nil; return s.SignLogoutResponse(resp) }}
}

// postLogout sends m by HTTP-POST, signed in its XML by s (nil: not).
func (b *browser) postLogout(m message, s *saml.ServiceProvider, relayState string) page {
	b.w.t.Helper()
	if s != nil {
		if err := m.sign(s); err != nil {
			b.w.t.Fatal(err)
		}
	}
	doc := etree.NewDocument()
	doc.SetRoot(m.el())
	x, err := doc.WriteToBytes()
	if err != nil {
		b.w.t.Fatal(err)
	}
	form := url.Values{m.field: {b64(x)}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	return b.post(m.dest, form)
}

// redirectLogout sends m by HTTP-Redirect, its query signed by s (nil:
// not), as saml-bindings 3.4.4.1 says.
func (b *browser) redirectLogout(m message, s *saml.ServiceProvider, relayState string) page {
	b.w.t.Helper()
	return b.get(m.dest + "?" + redirectQuery(b.w.t, m, s, relayState))
}

func redirectQuery(t testing.TB, m message, s *saml.ServiceProvider, relayState string) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(m.el())
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	if _, err := doc.WriteTo(fw); err != nil {
		t.Fatal(err)
	}
	fw.Close()
	q := m.field + "=" + url.QueryEscape(b64(buf.Bytes()))
	if relayState != "" {
		q += "&RelayState=" + url.QueryEscape(relayState)
	}
	if s == nil {
		return q
	}
	q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
	ctx, err := saml.GetSigningContext(s)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ctx.SignString(q)
	if err != nil {
		t.Fatal(err)
	}
	return q + "&Signature=" + url.QueryEscape(b64(sig))
}

// signIn signs alice in through okta in a new browser.
func (w *world) signedIn(connection string) *browser {
	w.t.Helper()
	b := w.browser()
	acs, form := b.samlResponse(connection, "alice", "")
	if p := b.post(acs, form); p.status != http.StatusSeeOther {
		w.t.Fatalf("alice's login: %d %s", p.status, p.body)
	}
	if b.me() == "" {
		w.t.Fatal("alice is not signed in")
	}
	return b
}

// answered checks that admit answered the IdP's LogoutRequest by
// redirecting to the IdP's single logout URL with a LogoutResponse, and
// returns that response's query.
func (w *world) answered(t testing.TB, p page) url.Values {
	t.Helper()
	if p.status != http.StatusFound || !strings.HasPrefix(p.location, w.idp.URL+"/slo?") {
		t.Fatalf("admit did not answer the LogoutRequest at the IdP: %d %q\nlogin log: %+v\n%s", p.status, p.location, w.lastAttempt(w.okta), p.body)
	}
	u, _ := url.Parse(p.location)
	if u.Query().Get("SAMLResponse") == "" || u.Query().Get("Signature") == "" {
		t.Fatalf("no signed SAMLResponse in %s", p.location)
	}
	return u.Query()
}

// refusedLogout checks that admit refused a LogoutRequest, with a reason
// in the login log that mentions reason.
func (w *world) refusedLogout(t testing.TB, p page, reason string) {
	t.Helper()
	w.refusedLogoutAt(t, w.okta, p, reason)
}

func (w *world) refusedLogoutAt(t testing.TB, c directory.Connection, p page, reason string) {
	t.Helper()
	if p.status < 400 || p.status >= 500 {
		t.Fatalf("not refused: %d %q", p.status, p.location)
	}
	if !strings.Contains(p.body, "nothing was signed out") && !strings.Contains(p.body, "already used") && !strings.Contains(p.body, "expired") {
		t.Errorf("the page does not say nothing was signed out:\n%s", p.body)
	}
	at := w.lastAttempt(c)
	if at.Outcome != sso.OutcomeLogoutRefused || !strings.Contains(at.Reason, reason) {
		t.Errorf("login log: %s %q; want %q mentioning %q", at.Outcome, at.Reason, sso.OutcomeLogoutRefused, reason)
	}
}

func inflateParam(t testing.TB, v string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return string(x)
}

// TestSingleLogout runs the single logout cases, one after another in one
// world (a world is most of a case's cost): each case signs alice in anew
// and reads the login log after its own step.
func TestSingleLogout(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storetest.SQLite(t))
	t.Run("the SP metadata offers single logout", func(t *testing.T) { spMetadataOffersSingleLogout(t, w) })
	t.Run("a LogoutRequest of the IdP ends the session", func(t *testing.T) { idpLogoutEndsTheSession(t, w) })
	t.Run("unsigned LogoutRequest", func(t *testing.T) { logoutRequestUnsigned(t, w) })
	t.Run("LogoutRequest signed by another key", func(t *testing.T) { logoutRequestSignedByAnotherKey(t, w) })
	t.Run("the issuer of another connection", func(t *testing.T) { logoutRequestOfAnotherConnectionsIssuer(t, w) })
	t.Run("replayed LogoutRequest", func(t *testing.T) { logoutRequestReplayed(t, w) })
	t.Run("stale LogoutRequest", func(t *testing.T) { logoutRequestStale(t, w) })
	t.Run("NameID of someone in another account", func(t *testing.T) { logoutRequestForAnotherAccountsPerson(t, w) })
	t.Run("LogoutResponse with the wrong InResponseTo", func(t *testing.T) { logoutResponseWrongInResponseTo(t, w) })
	t.Run("RelayState as an open redirect", func(t *testing.T) { logoutRelayStateIsNoRedirect(t, w) })
}

func spMetadataOffersSingleLogout(t *testing.T, w *world) {
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(w.get(w.sp.URL+"/sso/acme/saml/okta/metadata")), &ed); err != nil {
		t.Fatal(err)
	}
	slo := sso.SAMLURLs(w.sp.URL, "acme", "okta").SLO
	var bindings []string
	for _, s := range ed.SPSSODescriptors[0].SingleLogoutServices {
		if s.Location != slo {
			t.Errorf("SingleLogoutService at %q, want %q", s.Location, slo)
		}
		bindings = append(bindings, s.Binding)
	}
	if strings.Join(bindings, " ") != saml.HTTPRedirectBinding+" "+saml.HTTPPostBinding {
		t.Errorf("SingleLogoutService bindings %v; want HTTP-Redirect and HTTP-POST", bindings)
	}
}

// idpLogoutEndsTheSession: the IdP's signed LogoutRequest, by either
// binding, ends the person's session at this connection and is answered
// with a signed LogoutResponse to the IdP, carrying its RelayState back.
func idpLogoutEndsTheSession(t *testing.T, w *world) {
	// Some providers sign the XML of a redirect-binding message as well,
	// which the binding says to remove: it is ignored.
	other := w.signedIn("strict")
	for _, binding := range []string{"redirect", "redirect, XML signed too", "post"} {
		b := w.signedIn("okta")
		m := requestMessage(w.logoutRequest("okta", "alice@example.com"))
		var p page
		if strings.HasPrefix(binding, "redirect") {
			if binding != "redirect" {
				if err := m.sign(w.idpSigner()); err != nil {
					t.Fatal(err)
				}
			}
			p = b.redirectLogout(m, w.idpSigner(), "back-to-idp")
		} else {
			p = b.postLogout(m, w.idpSigner(), "back-to-idp")
		}
		q := w.answered(t, p)
		if q.Get("RelayState") != "back-to-idp" {
			t.Errorf("%s: RelayState %q, want the request's", binding, q.Get("RelayState"))
		}
		resp := inflateParam(t, q.Get("SAMLResponse"))
		if !strings.Contains(resp, saml.StatusSuccess) || !strings.Contains(resp, `InResponseTo="`) {
			t.Errorf("%s: the LogoutResponse: %s", binding, resp)
		}
		if got := b.me(); got != "" {
			t.Errorf("%s: still signed in as %q", binding, got)
		}
		if got := other.me(); got == "" {
			t.Errorf("%s: alice's session through another connection ended too", binding)
		}
		if at := w.lastAttempt(w.okta); at.Outcome != sso.OutcomeSignedOut || !at.Verified || !strings.Contains(at.Reason, "alice@example.com") {
			t.Errorf("%s: login log %+v", binding, at)
		}
	}
}

// logoutRequestUnsigned: anyone can make a LogoutRequest; unsigned,
// by either binding, it is refused and nothing ends. Signed, the same
// request is accepted (so the refusal was the signature's).
func logoutRequestUnsigned(t *testing.T, w *world) {
	b := w.signedIn("okta")
	m := requestMessage(w.logoutRequest("okta", "alice@example.com"))
	w.refusedLogout(t, b.postLogout(m, nil, ""), "not signed")
	w.refusedLogout(t, b.redirectLogout(m, nil, ""), "not signed")
	if b.me() == "" {
		t.Fatal("an unsigned LogoutRequest signed alice out")
	}
	if at := w.lastAttempt(w.okta); at.Verified {
		t.Errorf("an unsigned request is in the verified part of the login log")
	}
	w.answered(t, b.postLogout(m, w.idpSigner(), ""))
	if b.me() != "" {
		t.Error("the signed request did not sign alice out")
	}
}

// logoutRequestSignedByAnotherKey: a signature by a key that is not
// the connection's IdP's (its certificate in the signature's KeyInfo, as
// a forger would put it) is refused, by either binding.
func logoutRequestSignedByAnotherKey(t *testing.T, w *world) {
	b := w.signedIn("okta")
	forger := signer(keyPair(t, "forger"))
	w.refusedLogout(t, b.postLogout(requestMessage(w.logoutRequest("okta", "alice@example.com")), forger, ""), "could not be verified")
	w.refusedLogout(t, b.redirectLogout(requestMessage(w.logoutRequest("okta", "alice@example.com")), forger, ""), "not made with any")
	if b.me() == "" {
		t.Fatal("a forged LogoutRequest signed alice out")
	}
}

// logoutRequestOfAnotherConnectionsIssuer: acme has a second identity
// provider. Its LogoutRequest, sent to okta's endpoint, is refused: its
// signature is not okta's IdP's; and okta's IdP's key cannot speak for the
// other provider's entity either. A request addressed to another
// connection's endpoint is refused too.
func logoutRequestOfAnotherConnectionsIssuer(t *testing.T, w *world) {
	key, cert := keyPair(t, "second idp")
	secondURL, _ := url.Parse("https://second-idp.example")
	second := saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *secondURL.JoinPath("metadata"), SSOURL: *secondURL.JoinPath("sso"), LogoutURL: *secondURL.JoinPath("slo")}
	md, err := xml.Marshal(second.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateConnection(context.Background(), w.acme.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "second", Metadata: string(md)}); err != nil {
		t.Fatal(err)
	}
	b := w.signedIn("okta")
	req := w.logoutRequest("okta", "alice@example.com")
	req.Issuer.Value = second.Metadata().EntityID
	w.refusedLogout(t, b.postLogout(requestMessage(req), signer(key, cert), ""), "could not be verified")
	w.refusedLogout(t, b.postLogout(requestMessage(req), w.idpSigner(), ""), "not by this connection's identity provider")
	// Addressed to okta's endpoint, posted to strict's (the same IdP).
	toStrict := requestMessage(w.logoutRequest("okta", "alice@example.com"))
	toStrict.dest = sso.SAMLURLs(w.sp.URL, "acme", "strict").SLO
	w.refusedLogoutAt(t, w.strict, b.postLogout(toStrict, w.idpSigner(), ""), "addressed to")
	if b.me() == "" {
		t.Fatal("another connection's LogoutRequest signed alice out")
	}
}

// logoutRequestReplayed: a LogoutRequest acts once. Posted again (by
// whoever saw it go by), after alice signed in again, it is refused and
// her new session stays.
func logoutRequestReplayed(t *testing.T, w *world) {
	b := w.signedIn("okta")
	m := requestMessage(w.logoutRequest("okta", "alice@example.com"))
	w.answered(t, b.postLogout(m, w.idpSigner(), ""))
	again := w.signedIn("okta")
	w.refusedLogout(t, again.postLogout(m, nil /* as posted before, signature and all */, ""), "already used")
	if again.me() == "" {
		t.Fatal("the replayed LogoutRequest signed alice out again")
	}
	if at := w.lastAttempt(w.okta); at.Verified {
		t.Error("a replay is in the verified part of the login log")
	}
}

// logoutRequestStale: a LogoutRequest issued long ago, or in the
// future, or past its NotOnOrAfter, is refused.
func logoutRequestStale(t *testing.T, w *world) {
	b := w.signedIn("okta")
	old := w.logoutRequest("okta", "alice@example.com")
	old.IssueInstant = time.Now().Add(-10 * time.Minute).UTC()
	w.refusedLogout(t, b.postLogout(requestMessage(old), w.idpSigner(), ""), "more than 5m0s ago")
	future := w.logoutRequest("okta", "alice@example.com")
	future.IssueInstant = time.Now().Add(10 * time.Minute).UTC()
	w.refusedLogout(t, b.redirectLogout(requestMessage(future), w.idpSigner(), ""), "in the future")
	expired := w.logoutRequest("okta", "alice@example.com")
	past := time.Now().Add(-5 * time.Minute).UTC()
	expired.NotOnOrAfter = &past
	w.refusedLogout(t, b.postLogout(requestMessage(expired), w.idpSigner(), ""), "expired")
	if b.me() == "" {
		t.Fatal("a stale LogoutRequest signed alice out")
	}
}

// logoutRequestForAnotherAccountsPerson: globex is connected to the
// same identity provider. A LogoutRequest at acme's endpoint naming a
// person signed in at globex, or naming alice, who is signed in at both,
// ends nothing at globex: it is answered (Success: nobody of that name is
// signed in here), and acme's own session of alice ends.
func logoutRequestForAnotherAccountsPerson(t *testing.T, w *world) {
	ctx := context.Background()
	globex, err := w.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "globex", Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := w.svc.CreateConnection(ctx, globex.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "okta", Metadata: w.okta.Metadata})
	if err != nil {
		t.Fatal(err)
	}
	inGlobex := func(email string) string {
		t.Helper()
		u, err := w.svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: email, FirstName: "G", LastName: "X"})
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := w.svc.StartSession(ctx, u.Member.User.ID, globex.ID, directory.BySAML(conn, directory.SAMLSubject{NameID: email, Format: string(saml.EmailAddressNameIDFormat)}))
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	bob, alice := inGlobex("bob@globex.example"), inGlobex("alice@example.com")
	b := w.signedIn("okta")

	w.answered(t, w.browser().postLogout(requestMessage(w.logoutRequest("okta", "bob@globex.example")), w.idpSigner(), ""))
	if at := w.lastAttempt(w.okta); at.Outcome != sso.OutcomeSignedOut || !strings.Contains(at.Reason, "no session") {
		t.Errorf("login log: %+v; want answered with nothing ended", at)
	}
	w.answered(t, b.postLogout(requestMessage(w.logoutRequest("okta", "alice@example.com")), w.idpSigner(), ""))
	if b.me() != "" {
		t.Error("alice's acme session did not end")
	}
	for name, token := range map[string]string{"bob's": bob, "alice's": alice} {
		if _, err := w.svc.Authenticate(ctx, token); err != nil {
			t.Errorf("%s globex session after acme's LogoutRequests: %v; want it alive", name, err)
		}
	}
}

// spLogout signs alice in, signs her out of admit, and returns the
// browser and the LogoutRequest admit sends her to the IdP with: its
// query, and the request.
func (w *world) spLogout(t testing.TB) (*browser, url.Values, string) {
	t.Helper()
	b := w.signedIn("okta")
	p := b.post(w.sp.URL+"/logout", nil)
	if b.me() != "" {
		t.Fatal("signing out of admit left alice signed in")
	}
	m := regexp.MustCompile(`href="([^"]+)" data-autofollow`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("signing out did not lead to the IdP: %d %s", p.status, p.body)
	}
	to, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || !strings.HasPrefix(to.String(), w.idp.URL+"/slo?") {
		t.Fatalf("signing out leads to %q, not the IdP's single logout URL", m[1])
	}
	q := to.Query()
	req := inflateParam(t, q.Get("SAMLRequest"))
	id := regexp.MustCompile(`ID="([^"]+)"`).FindStringSubmatch(req)
	if id == nil || q.Get("Signature") == "" || !strings.Contains(req, ">alice@example.com<") || !strings.Contains(req, "SessionIndex") {
		t.Fatalf("admit's LogoutRequest (signature %q): %s", q.Get("Signature"), req)
	}
	return b, q, id[1]
}

// logoutResponseWrongInResponseTo: signing out of admit sends alice to
// the IdP; its answer counts only if it answers the request this browser
// sent. One answering another id, or the right one from another browser,
// lands on the signed-out page saying the IdP did not confirm.
func logoutResponseWrongInResponseTo(t *testing.T, w *world) {
	b, q, id := w.spLogout(t)
	unconfirmed := "/logout?signed_out=1&idp=unconfirmed"
	if p := b.redirectLogout(responseMessage(w.logoutResponse("okta", "id-never-sent")), w.idpSigner(), q.Get("RelayState")); p.status != http.StatusSeeOther || p.location != unconfirmed {
		t.Errorf("a LogoutResponse to another request: %d %q; want %q", p.status, p.location, unconfirmed)
	}
	if at := w.lastAttempt(w.okta); at.Outcome != sso.OutcomeLogoutUnconfirmed || !strings.Contains(at.Reason, "InResponseTo") {
		t.Errorf("login log: %s %q", at.Outcome, at.Reason)
	}
	if p := w.browser().redirectLogout(responseMessage(w.logoutResponse("okta", id)), w.idpSigner(), q.Get("RelayState")); p.location != unconfirmed {
		t.Errorf("the right LogoutResponse in another browser: %d %q; want %q", p.status, p.location, unconfirmed)
	}
	if p := b.redirectLogout(responseMessage(w.logoutResponse("okta", id)), w.idpSigner(), q.Get("RelayState")); p.location != "/logout?signed_out=1" {
		t.Errorf("the right LogoutResponse: %d %q; want confirmed\nlogin log: %+v", p.status, p.location, w.lastAttempt(w.okta))
	}
	if at := w.lastAttempt(w.okta); at.Outcome != sso.OutcomeLogoutConfirmed || !at.Verified {
		t.Errorf("login log: %+v", at)
	}
}

// logoutRelayStateIsNoRedirect: a RelayState is never followed. The
// IdP's answer carrying an address as RelayState lands on admit's own
// page (not confirmed: it is not what admit sent); an IdP-initiated
// request's RelayState only goes back to the IdP with the answer.
func logoutRelayStateIsNoRedirect(t *testing.T, w *world) {
	b, _, id := w.spLogout(t)
	evil := "https://evil.example/phish"
	resp := responseMessage(w.logoutResponse("okta", id))
	for _, p := range []page{b.redirectLogout(resp, w.idpSigner(), evil), b.postLogout(resp, w.idpSigner(), evil)} {
		if p.location != "/logout?signed_out=1&idp=unconfirmed" || strings.Contains(p.body, "evil.example") {
			t.Errorf("a LogoutResponse with RelayState %q: %d %q", evil, p.status, p.location)
		}
	}
	c := w.signedIn("okta")
	q := w.answered(t, c.postLogout(requestMessage(w.logoutRequest("okta", "alice@example.com")), w.idpSigner(), evil))
	if q.Get("RelayState") != evil {
		t.Errorf("the IdP's RelayState did not go back to it: %q", q.Get("RelayState"))
	}
}
