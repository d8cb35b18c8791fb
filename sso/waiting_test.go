package sso_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestConnectionWaitingForItsIdentityProvider is a connection made in the
// order the identity provider's admin needs it: its SP metadata is served
// at once, so the provider can import it; until admit has the provider's
// metadata, the intranet link shows a page that says so (not a failure),
// and the ACS refuses even a signed response and notes it in the login
// log; with the metadata, the same login goes through.
func TestConnectionWaitingForItsIdentityProvider(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		ctx := context.Background()
		bee, err := w.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "bee", Name: "Bee Corp", Domains: []string{"b.example"}})
		if err != nil {
			t.Fatal(err)
		}
		// Before any connection, the intranet link says so under an
		// honest heading (found: "Page not found" above it).
		if p := w.browser().get(w.sp.URL + "/sso/bee/login"); p.status != http.StatusNotFound || !strings.Contains(p.body, "<h1>Single sign-on is not set up</h1>") ||
			!strings.Contains(p.body, "Bee Corp has not set up single sign-on yet") || strings.Contains(p.body, "Page not found") {
			t.Errorf("the link of an account without single sign-on: %d\n%s", p.status, p.body)
		}
		waiting := func(name string) directory.Connection {
			t.Helper()
			c, err := w.svc.CreateConnection(ctx, bee.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: name,
				Settings: directory.ConnectionSettings{AllowIDPInitiated: true}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		entra := waiting("entra")
		waiting("later")
		urls := sso.SAMLURLs(w.sp.URL, "bee", "entra")

		// The SP metadata, before the provider's is known.
		b := w.browser()
		md := b.get(urls.Metadata)
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal([]byte(md.body), &ed); err != nil || md.status != http.StatusOK {
			t.Fatalf("SP metadata of a waiting connection: %d, %v\n%s", md.status, err, md.body)
		}
		if d := ed.SPSSODescriptors; ed.EntityID != urls.EntityID || len(d) != 1 || len(d[0].AssertionConsumerServices) != 1 || d[0].AssertionConsumerServices[0].Location != urls.ACS {
			t.Errorf("SP metadata names %q and %+v; want %s and %s", ed.EntityID, d, urls.EntityID, urls.ACS)
		}

		for _, path := range []string{"/sso/bee/login", "/sso/bee/login?connection=entra&email=" + url.QueryEscape("nia@b.example") + "&return_to=/reports"} {
			p := b.get(w.sp.URL + path)
			if p.status != http.StatusConflict || !strings.Contains(p.body, "Single sign-on for Bee Corp is not finished yet") || !strings.Contains(p.body, `href="/login`) {
				t.Errorf("%s: %d\n%s", path, p.status, p.body)
			}
		}
		if p := b.get(w.sp.URL + "/sso/bee/login?connection=entra&email=" + url.QueryEscape("nia@b.example") + "&return_to=/reports"); !strings.Contains(p.body, `href="/login?email=nia%40b.example&amp;return_to=%2Freports"`) {
			t.Errorf("the password link does not keep the address and destination:\n%s", p.body)
		}

		// The provider, set up from admit's SP metadata, answers before
		// admit has the provider's: refused without being read, noted.
		w.registerSP("bee-entra", md.body)
		w.addUser("nia", "nia@b.example", "Nia", "Ng")
		acs, form := idpInitiatedTo(b, urls.EntityID, "bee-entra", "nia")
		if acs != urls.ACS {
			t.Fatalf("the provider posts to %s; want %s", acs, urls.ACS)
		}
		p := b.post(acs, form)
		if p.status != http.StatusConflict || !strings.Contains(p.body, "not finished yet") || b.me() != "" {
			t.Errorf("ACS of a waiting connection: %d (signed in as %q)\n%s", p.status, b.me(), p.body)
		}
		attempts, err := w.svc.LoginAttempts(ctx, bee.ID, entra.ID, 5)
		if err != nil || len(attempts) != 1 || attempts[0].Verified || !strings.Contains(attempts[0].Reason, "waiting for its identity provider's metadata") {
			t.Errorf("login log: %+v, %v", attempts, err)
		}
		if _, err := w.svc.Member(ctx, bee.ID, "nia@b.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("a member was made through a waiting connection: %v", err)
		}

		// The provider's metadata finishes it; "later" still waits and is
		// passed over by the intranet link.
		idpMD, err := sso.CheckMetadata([]byte(w.get(w.idp.URL + "/metadata")))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.svc.SetConnectionMetadata(ctx, bee.ID, operator, entra.ID, idpMD); err != nil {
			t.Fatal(err)
		}
		if p := b.get(w.sp.URL + "/sso/bee/login"); p.status != http.StatusFound || !strings.HasPrefix(p.location, w.idp.URL+"/sso?") {
			t.Errorf("intranet link with one finished connection: %d %s\n%s", p.status, p.location, p.body)
		}
		if p := b.get(w.sp.URL + "/sso/bee/login?connection=later"); p.status != http.StatusConflict {
			t.Errorf("the still waiting connection by name: %d", p.status)
		}
		acs, form = idpInitiatedTo(b, urls.EntityID, "bee-entra", "nia")
		if p := b.post(acs, form); p.status != http.StatusSeeOther || !strings.HasPrefix(b.me(), "nia@b.example bee member") {
			t.Errorf("finished: %d, signed in as %q\n%s", p.status, b.me(), p.body)
		}
	})
}

// idpInitiatedTo signs in at the IdP and follows its shortcut to the SP
// with that entity ID.
func idpInitiatedTo(b *browser, entityID, shortcut, user string) (string, url.Values) {
	b.w.t.Helper()
	b.w.put(b.w.idp.URL+"/shortcuts/"+shortcut, "application/json", fmt.Sprintf(`{"name":%q,"service_provider":%q}`, shortcut, entityID))
	if p := b.post(b.w.idp.URL+"/login", url.Values{"user": {user}, "password": {"pw-" + user}}); p.status != http.StatusOK {
		b.w.t.Fatalf("IdP login: %d %s", p.status, p.body)
	}
	answer := b.get(b.w.idp.URL + "/login/" + shortcut)
	acs, resp := fields(answer.body)
	if resp.Get("SAMLResponse") == "" {
		b.w.t.Fatalf("IdP gave no SAMLResponse: %d %s", answer.status, answer.body)
	}
	return acs, resp
}
