package sso_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestSAMLLogins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		ctx := context.Background()

		t.Run("first SP-initiated login creates the user and lands on return_to", func(t *testing.T) {
			b := w.browser()
			acs, form := b.samlResponse("okta", "alice", "/reports?week=3")
			p := b.post(acs, form)
			if p.status != http.StatusSeeOther || p.location != "/reports?week=3" {
				t.Fatalf("ACS: %d %q %s", p.status, p.location, p.body)
			}
			if got := b.me(); got != "alice@example.com acme member Alice Smith" {
				t.Errorf("signed in as %q", got)
			}
			if at := w.lastAttempt(w.okta); at.Outcome != "signed in" || at.Reason != "created user" {
				t.Errorf("login log: %+v", at)
			}
		})

		t.Run("a later login updates the name, and mapped groups give the role", func(t *testing.T) {
			if _, _, err := w.svc.MapGroupToRole(ctx, w.acme.ID, operator, "Admins", directory.RoleAdmin, nil); err != nil {
				t.Fatal(err)
			}
			w.addUser("alice", "alice@example.com", "Alicia", "Smith", "Engineering", "admins")
			b := w.browser()
			acs, form := b.samlResponse("okta", "alice", "")
			if p := b.post(acs, form); p.status != http.StatusSeeOther || p.location != "/me" {
				t.Fatalf("ACS: %d %q %s", p.status, p.location, p.body)
			}
			if got := b.me(); got != "alice@example.com acme admin Alicia Smith" {
				t.Errorf("signed in as %q", got)
			}
			// Leaving the mapped group takes the role away again.
			w.addUser("alice", "alice@example.com", "Alicia", "Smith", "Engineering")
			b = w.browser()
			acs, form = b.samlResponse("okta", "alice", "")
			b.post(acs, form)
			if got := b.me(); got != "alice@example.com acme member Alicia Smith" {
				t.Errorf("signed in as %q", got)
			}
		})

		t.Run("encrypted assertions are accepted", func(t *testing.T) {
			b := w.browser()
			acs, form := b.samlResponse("strict", "alice", "")
			if !strings.Contains(decode(t, form), "EncryptedAssertion") {
				t.Fatal("the IdP did not encrypt: the test proves nothing")
			}
			if p := b.post(acs, form); p.status != http.StatusSeeOther {
				t.Fatalf("ACS: %d %s", p.status, p.body)
			}
			if b.me() == "" {
				t.Error("not signed in")
			}
		})

		t.Run("an unreadable certificate beside a good one does not stop logins", func(t *testing.T) {
			// An IdP rolling its certificate over lists two; one Go cannot
			// parse must not make crewjam refuse everything.
			md := w.get(w.idp.URL + "/metadata")
			junk := `<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>bm90IGEgY2VydGlmaWNhdGU=</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`
			i := strings.Index(md, "<KeyDescriptor")
			if i < 0 {
				t.Fatalf("no KeyDescriptor in %.300s", md)
			}
			md = md[:i] + junk + md[i:]
			if _, err := w.svc.CreateConnection(ctx, w.acme.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "rollover", Metadata: md}); err != nil {
				t.Fatal(err)
			}
			w.registerSP("rollover", dropEncryption(w.get(w.sp.URL+"/sso/acme/saml/rollover/metadata")))
			b := w.browser()
			acs, form := b.samlResponse("rollover", "alice", "")
			if p := b.post(acs, form); p.status != http.StatusSeeOther {
				t.Fatalf("ACS: %d %.500s %s", p.status, p.body, w.lastAttempt(w.connection("rollover")).Reason)
			}
		})

		t.Run("an IdP that takes AuthnRequests only by HTTP-POST gets a page that posts one", func(t *testing.T) {
			md := strings.ReplaceAll(w.get(w.idp.URL+"/metadata"), saml.HTTPRedirectBinding, saml.HTTPArtifactBinding)
			if _, err := w.svc.CreateConnection(ctx, w.acme.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "postonly", Metadata: md}); err != nil {
				t.Fatal(err)
			}
			w.registerSP("postonly", dropEncryption(w.get(w.sp.URL+"/sso/acme/saml/postonly/metadata")))
			b := w.browser()
			req, _ := http.NewRequest(http.MethodGet, w.sp.URL+"/sso/acme/login?connection=postonly&return_to=/posted", nil)
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			action, form := fields(string(body))
			if resp.StatusCode != http.StatusOK || action != w.idp.URL+"/sso" || form.Get("SAMLRequest") == "" {
				t.Fatalf("start: %d, form to %q with %v", resp.StatusCode, action, form)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+w.idp.URL+";") {
				t.Errorf("the page's CSP does not let its form reach the IdP: %q", csp)
			}
			xmlReq, _ := base64.StdEncoding.DecodeString(form.Get("SAMLRequest"))
			if !strings.Contains(string(xmlReq), "SignatureValue") {
				t.Errorf("the posted AuthnRequest is not signed: %.400s", xmlReq)
			}
			form.Set("user", "alice")
			form.Set("password", "pw-alice")
			answer := b.post(action, form)
			acs, samlResp := fields(answer.body)
			if p := b.post(acs, samlResp); p.status != http.StatusSeeOther || p.location != "/posted" {
				t.Fatalf("ACS: %d %q %.300s", p.status, p.location, p.body)
			}
		})

		t.Run("IdP-initiated login, RelayState only as a local path", func(t *testing.T) {
			for relay, want := range map[string]string{"/projects/7": "/projects/7", "https://evil.example/phish": "/me", "//evil.example": "/me"} {
				b := w.browser()
				acs, form := b.idpInitiated("okta", "alice", relay)
				if p := b.post(acs, form); p.status != http.StatusSeeOther || p.location != want {
					t.Errorf("RelayState %q: %d %q, want %q", relay, p.status, p.location, want)
				}
			}
		})

		t.Run("a SCIM-pushed person signs in at once; SCIM-suspended and SCIM-deleted ones never", func(t *testing.T) {
			_, token, err := w.svc.CreateSCIMToken(ctx, w.acme.ID, operator, "okta")
			if err != nil {
				t.Fatal(err)
			}
			bob, err := w.svc.CreateSCIMUser(ctx, w.acme.ID, token, directory.SCIMUserInput{
				Email: "bob@example.com", Active: true, Profile: directory.SCIMProfile{UserName: "bob@example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			w.addUser("bob", "bob@example.com", "Bob", "Jones")
			b := w.browser()
			acs, form := b.samlResponse("okta", "bob", "")
			b.post(acs, form)
			if got := b.me(); !strings.HasPrefix(got, "bob@example.com acme member") {
				t.Fatalf("SCIM-pushed bob: signed in as %q", got)
			}
			if at := w.lastAttempt(w.okta); at.Reason == "created user" || at.Reason == "added membership" {
				t.Errorf("the SCIM-pushed membership was not the one used: %+v", at)
			}

			in := directory.SCIMUserInput{Email: "bob@example.com", Active: false, Profile: directory.SCIMProfile{UserName: "bob@example.com"}}
			if _, err := w.svc.ReplaceSCIMUser(ctx, w.acme.ID, token, bob.Membership.ID, in, directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
			if b.me() != "" {
				t.Error("suspension did not end bob's session")
			}
			b = w.browser()
			acs, form = b.samlResponse("okta", "bob", "")
			if p := b.post(acs, form); p.status != http.StatusForbidden || b.me() != "" {
				t.Errorf("SCIM-suspended bob: %d, signed in as %q", p.status, b.me())
			}

			if err := w.svc.DeleteSCIMUser(ctx, w.acme.ID, token, bob.Membership.ID, directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
			b = w.browser()
			acs, form = b.samlResponse("okta", "bob", "")
			if p := b.post(acs, form); p.status != http.StatusForbidden || b.me() != "" {
				t.Errorf("SCIM-deleted bob: %d, signed in as %q", p.status, b.me())
			}
			if _, err := w.svc.Member(ctx, w.acme.ID, "bob@example.com"); directory.KindOf(err) != directory.NotFound {
				t.Errorf("JIT brought bob back: %v", err)
			}
		})

		t.Run("a deactivated member is refused", func(t *testing.T) {
			w.addUser("carol", "carol@example.com", "Carol", "White")
			b := w.browser()
			acs, form := b.samlResponse("okta", "carol", "")
			b.post(acs, form)
			if _, err := w.svc.Deactivate(ctx, w.acme.ID, operator, "carol@example.com"); err != nil {
				t.Fatal(err)
			}
			b = w.browser()
			acs, form = b.samlResponse("okta", "carol", "")
			p := b.post(acs, form)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "deactivated") || !regexp.MustCompile(`Reference: <code>[^<]+</code>`).MatchString(p.body) {
				t.Errorf("deactivated carol: %d %s", p.status, p.body)
			}
		})
	})
}

// responseSignature is the Response's own signature (the first one, before
// the Status): the wrapping tests remove it so that the assertion's
// signature is all that protects the message, as with IdPs that sign only
// the assertion.
var responseSignature = regexp.MustCompile(`(?s)(<samlp:Response [^>]*>\s*<saml:Issuer[^>]*>[^<]*</saml:Issuer>)<ds:Signature .*?</ds:Signature>`)

func decode(t testing.TB, form url.Values) string {
	t.Helper()
	out := ""
	editResponse(t, form, func(s string) string { out = s; return s + " " })
	return out
}

// TestSAMLRefusals sends what an attacker or a misconfigured IdP would,
// one named case each, and checks that nobody is signed in and that the
// login log says why.
func TestSAMLRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		w.addUser("mallory", "alice@example.com.evil.example", "Mal", "Lory")
		acsOf := func(b *browser) (string, url.Values) { return b.samlResponse("okta", "alice", "") }
		cases := []struct {
			name    string
			tamper  func(*saml.Assertion)
			respond func(b *browser) (string, url.Values) // default acsOf
			edit    func(t *testing.T, form url.Values) url.Values
			poster  func(w *world) *browser // default: the same browser
			reason  string                  // in the login log
		}{
			{name: "wrong audience", reason: "audience",
				tamper: func(a *saml.Assertion) {
					a.Conditions.AudienceRestrictions[0].Audience.Value = "https://other.example/metadata"
				}},
			{name: "no audience restriction", reason: "no AudienceRestriction",
				tamper: func(a *saml.Assertion) { a.Conditions.AudienceRestrictions = nil }},
			{name: "wrong recipient", reason: "Recipient",
				tamper: func(a *saml.Assertion) {
					a.Subject.SubjectConfirmations[0].SubjectConfirmationData.Recipient = "https://other.example/acs"
				}},
			{name: "expired", reason: "expired",
				tamper: func(a *saml.Assertion) {
					old := time.Now().Add(-30 * time.Minute)
					a.Conditions.NotOnOrAfter = old
					a.Subject.SubjectConfirmations[0].SubjectConfirmationData.NotOnOrAfter = old
				}},
			{name: "not yet valid", reason: "not yet valid",
				tamper: func(a *saml.Assertion) { a.Conditions.NotBefore = time.Now().Add(30 * time.Minute) }},
			{name: "no bearer confirmation", reason: "bearer",
				tamper: func(a *saml.Assertion) {
					a.Subject.SubjectConfirmations[0].Method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
				}},
			{name: "unsigned", reason: "signature",
				edit: func(t *testing.T, f url.Values) url.Values {
					return editResponse(t, f, func(x string) string {
						return regexp.MustCompile(`(?s)<ds:Signature .*?</ds:Signature>`).ReplaceAllString(x, "")
					})
				}},
			{name: "signed assertion altered (digest no longer matches)", reason: "Signature could not be verified",
				edit: func(t *testing.T, f url.Values) url.Values {
					return editResponse(t, f, func(x string) string {
						return strings.ReplaceAll(responseSignature.ReplaceAllString(x, "$1"), ">Smith<", ">Smyth<")
					})
				}},
			{name: "XML signature wrapping: a forged assertion before the signed one", reason: "exactly one assertion",
				edit: func(t *testing.T, f url.Values) url.Values {
					return editResponse(t, f, func(x string) string {
						x = responseSignature.ReplaceAllString(x, "$1")
						signed := regexp.MustCompile(`(?s)<saml:Assertion .*</saml:Assertion>`).FindString(x)
						forged := regexp.MustCompile(`(?s)<ds:Signature .*?</ds:Signature>`).ReplaceAllString(signed, "")
						forged = strings.ReplaceAll(forged, "alice@example.com", "ceo@example.com")
						forged = regexp.MustCompile(`ID="[^"]+"`).ReplaceAllString(forged, `ID="forged"`)
						return strings.Replace(x, signed, forged+signed, 1)
					})
				}},
			{name: "XML signature wrapping: the signed assertion hidden inside a forged one", reason: "Signature could not be verified",
				edit: func(t *testing.T, f url.Values) url.Values {
					return editResponse(t, f, func(x string) string {
						x = responseSignature.ReplaceAllString(x, "$1")
						signed := regexp.MustCompile(`(?s)<saml:Assertion .*</saml:Assertion>`).FindString(x)
						sig := regexp.MustCompile(`(?s)<ds:Signature .*?</ds:Signature>`).FindString(signed)
						forged := strings.ReplaceAll(strings.Replace(signed, sig, "", 1), "alice@example.com", "ceo@example.com")
						wrapped := strings.Replace(sig, "</ds:Signature>", "<ds:Object>"+signed+"</ds:Object></ds:Signature>", 1)
						forged = strings.Replace(forged, "<saml:Subject>", wrapped+"<saml:Subject>", 1)
						return strings.Replace(x, signed, forged, 1)
					})
				}},
			{name: "comment injected into the NameID and email", reason: "alice@example.com.evil.example",
				respond: func(b *browser) (string, url.Values) { return b.samlResponse("okta", "mallory", "") },
				edit: func(t *testing.T, f url.Values) url.Values {
					return editResponse(t, f, func(x string) string {
						return strings.ReplaceAll(x, "alice@example.com.evil.example", "alice@example.com<!---->.evil.example")
					})
				}},
			{name: "signed by a key the connection does not trust", reason: "trusted certs",
				edit: func(t *testing.T, f url.Values) url.Values {
					_, other := keyPair(t, "attacker")
					return editResponse(t, f, func(x string) string {
						// The certificate in the signature is swapped for the
						// attacker's: admit must not take the key from the message.
						return regexp.MustCompile(`(?s)<ds:X509Certificate>.*?</ds:X509Certificate>`).ReplaceAllString(x,
							"<ds:X509Certificate>"+b64(other.Raw)+"</ds:X509Certificate>")
					})
				}},
			{name: "replayed response", reason: "already used",
				edit:   func(t *testing.T, f url.Values) url.Values { return f },
				poster: func(w *world) *browser { return nil }},
			{name: "a response answering another browser's request", reason: "pending in this browser",
				poster: func(w *world) *browser { return w.browser() }},
			{name: "InResponseTo removed from a signed response", reason: "Signature could not be verified",
				edit: func(t *testing.T, f url.Values) url.Values {
					return editResponse(t, f, func(x string) string {
						return regexp.MustCompile(`InResponseTo="[^"]*"`).ReplaceAllString(x, "")
					})
				}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w.tamper.set(tc.tamper)
				defer w.tamper.set(nil)
				b := w.browser()
				respond := acsOf
				if tc.respond != nil {
					respond = tc.respond
				}
				acs, form := respond(b)
				if tc.edit != nil {
					form = tc.edit(t, form)
				}
				poster := b
				if tc.poster != nil {
					if poster = tc.poster(w); poster == nil {
						// The replay: the genuine response first, then again.
						if p := b.post(acs, form); p.status != http.StatusSeeOther {
							t.Fatalf("first use refused: %d %s", p.status, p.body)
						}
						poster = b
					}
				}
				p := poster.post(acs, form)
				if p.status == http.StatusSeeOther || p.status < 400 {
					t.Fatalf("accepted: %d %q (signed in as %q)", p.status, p.location, poster.me())
				}
				if strings.Contains(p.body, "panic") || strings.Contains(p.body, "goroutine") {
					t.Errorf("the page shows internals: %s", p.body)
				}
				if got := poster.me(); got != "" && !strings.Contains(tc.name, "replayed") {
					t.Errorf("signed in as %q", got)
				}
				at := w.lastAttempt(w.okta)
				t.Logf("refused: %s", at.Reason)
				if at.Outcome != "refused" || !strings.Contains(at.Reason+string(at.Detail), tc.reason) {
					t.Errorf("login log: %s %q %s; want the reason to mention %q", at.Outcome, at.Reason, at.Detail, tc.reason)
				}
			})
		}

		t.Run("a replayed IdP-initiated response is refused by the replay cache", func(t *testing.T) {
			b := w.browser()
			acs, form := b.idpInitiated("okta", "alice", "")
			if p := b.post(acs, form); p.status != http.StatusSeeOther {
				t.Fatalf("first use: %d %s", p.status, p.body)
			}
			other := w.browser()
			if p := other.post(acs, form); p.status != http.StatusForbidden || other.me() != "" {
				t.Errorf("replay: %d, signed in as %q", p.status, other.me())
			}
			if at := w.lastAttempt(w.okta); !strings.Contains(at.Reason, "already used") {
				t.Errorf("login log: %q", at.Reason)
			}
		})

		t.Run("IdP-initiated login where the connection does not allow it", func(t *testing.T) {
			b := w.browser()
			acs, form := b.idpInitiated("strict", "alice", "")
			if p := b.post(acs, form); p.status != http.StatusForbidden || b.me() != "" {
				t.Errorf("%d, signed in as %q", p.status, b.me())
			}
		})

		t.Run("nothing was created for the forged identities", func(t *testing.T) {
			for _, email := range []string{"ceo@example.com", "alice@example.com.evil.example"} {
				if _, err := w.svc.Member(context.Background(), w.acme.ID, email); directory.KindOf(err) != directory.NotFound {
					t.Errorf("%s: %v", email, err)
				}
			}
		})
	})
}

// TestChoosePage is the intranet link of an account with several
// connections: it asks for the work email, keeps what was typed when no
// connection serves it, and offers the password sign-in with the address
// and destination kept.
func TestChoosePage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storetest.SQLite(t))
	b := w.browser()
	pg := b.get(w.sp.URL + "/sso/acme/login?return_to=/reports")
	if pg.status != http.StatusOK || !strings.Contains(pg.body, `name="email"`) || !strings.Contains(pg.body, `href="/login?return_to=%2Freports"`) {
		t.Errorf("choose page: %d %s", pg.status, pg.body)
	}
	pg = b.get(w.sp.URL + "/sso/acme/login?return_to=/reports&email=" + url.QueryEscape("pat@elsewhere.example"))
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "No identity provider of Acme serves that address") ||
		!strings.Contains(pg.body, `value="pat@elsewhere.example"`) || !strings.Contains(pg.body, `href="/login?email=pat%40elsewhere.example&amp;return_to=%2Freports"`) {
		t.Errorf("unknown domain: %d %s", pg.status, pg.body)
	}
	pg = b.get(w.sp.URL + "/sso/acme/login?return_to=" + url.QueryEscape("https://evil.example/"))
	if strings.Contains(pg.body, "evil.example") {
		t.Errorf("an outside return_to reached the page: %s", pg.body)
	}
}

// TestNameIDFormatAgrees: the NameID format admit asks for in its
// AuthnRequest is the one its metadata advertises, the email address.
func TestNameIDFormatAgrees(t *testing.T) {
	t.Parallel()
	w := newWorld(t, storetest.SQLite(t))
	u, err := url.Parse(w.browser().startSAML("okta"))
	if err != nil {
		t.Fatal(err)
	}
	deflated, err := base64.StdEncoding.DecodeString(u.Query().Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	var req saml.AuthnRequest
	if err := xml.NewDecoder(flate.NewReader(bytes.NewReader(deflated))).Decode(&req); err != nil {
		t.Fatal(err)
	}
	var md saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(w.get(w.sp.URL+"/sso/acme/saml/okta/metadata")), &md); err != nil {
		t.Fatal(err)
	}
	var advertised []string
	for _, f := range md.SPSSODescriptors[0].NameIDFormats {
		advertised = append(advertised, string(f))
	}
	asked := ""
	if req.NameIDPolicy != nil && req.NameIDPolicy.Format != nil {
		asked = *req.NameIDPolicy.Format
	}
	want := "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	if asked != want || !slices.Equal(advertised, []string{want}) {
		t.Errorf("the AuthnRequest asks for %q, the metadata advertises %q; want both %q", asked, advertised, want)
	}
}

// TestOnlyAPersistentNameIDLinks: a SAML NameID links the person's logins
// (and so renames them when the address changes) only when its format
// promises it is never given to someone else: persistent. An unspecified
// NameID is whatever the IdP puts there, often a username that a company
// hands to its next holder; linked, the new holder's first login renamed
// the former one to the new address and signed in as them (their
// memberships, their role, their apps), or was refused as deactivated.
func TestOnlyAPersistentNameIDLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format  saml.NameIDFormat
		renamed bool // whether bob's login is alice's person, renamed
	}{
		{saml.UnspecifiedNameIDFormat, false},
		{"urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName", false},
		{saml.PersistentNameIDFormat, true},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				w := newWorld(t, s)
				w.addUser("bob", "bob@example.com", "Bob", "Jones")
				w.tamper.set(func(a *saml.Assertion) {
					a.Subject.NameID.Format, a.Subject.NameID.Value = string(tc.format), "jdoe"
				})
				for _, user := range []string{"alice", "bob"} {
					b := w.browser()
					acs, form := b.idpInitiated("okta", user, "")
					if pg := b.post(acs, form); pg.status != http.StatusFound && pg.status != http.StatusSeeOther {
						t.Fatalf("%s's login: %d %s", user, pg.status, pg.body)
					}
				}
				alice, aliceErr := w.svc.Member(ctx, w.acme.ID, "alice@example.com")
				bob, err := w.svc.Member(ctx, w.acme.ID, "bob@example.com")
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case tc.renamed && (aliceErr == nil || bob.User.FirstName != "Bob"):
					t.Errorf("a persistent NameID: alice %v, bob %+v; want alice renamed to bob@example.com", aliceErr, bob.User)
				case !tc.renamed && (aliceErr != nil || alice.User.ID == bob.User.ID):
					t.Errorf("an %s NameID given to bob after alice: alice %v, bob is %s's person; want two people", tc.format, aliceErr, bob.User.ID)
				}
			})
		})
	}
}
