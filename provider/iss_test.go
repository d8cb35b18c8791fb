package provider_test

import (
	"context"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// TestAuthorizationResponsesNameTheIssuer: every answer at the app's
// redirect URI carries iss, admit's issuer, once (RFC 9207 section 2),
// whichever step answers: a code, an error of the authorization
// endpoint, and the errors of the sign-in step (login_required,
// access_denied); discovery says so (section 3). An app that talks to
// several providers tells them apart by it (a mix-up attack fails).
func TestAuthorizationResponsesNameTheIssuer(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		acme, globex := s.account("acme"), s.account("globex")
		s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
		spa, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		theirs, _ := s.app(directory.NewApp{Name: "Globex only", RedirectURIs: []string{appPrefix + "globex"}, Public: true, AccountID: globex.ID})
		r, other := newRP(t, s, spa, ""), newRP(t, s, theirs, "")

		var d struct {
			Iss *bool `json:"authorization_response_iss_parameter_supported"`
		}
		if err := r.provider.Claims(&d); err != nil || d.Iss == nil || !*d.Iss {
			t.Errorf("discovery: authorization_response_iss_parameter_supported = %v (%v); want true", d.Iss, err)
		}

		b := s.browser()
		check := func(name string, q url.Values, wantError string) {
			t.Helper()
			if q.Get("error") != wantError || wantError == "" && q.Get("code") == "" {
				t.Errorf("%s: the app got %v; want error %q", name, q, wantError)
			}
			if got := q["iss"]; len(got) != 1 || got[0] != s.issuer {
				t.Errorf("%s: iss %q; want [%s]", name, got, s.issuer)
			}
		}
		check("prompt=none, nobody signed in", b.get(r.start(t, oauth2.SetAuthURLParam("prompt", "none")).url).atApp(t), "login_required")
		check("no PKCE for a public app", b.get(r.conf.AuthCodeURL("st")).atApp(t), "invalid_request")
		l := r.start(t)
		p := b.signIn(b.get(l.url), "ada@acme.example", "correct horse battery")
		q := p.atApp(t)
		check("a code after sign-in", q, "")
		if _, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier)); err != nil {
			t.Errorf("exchange of a code that came with iss: %v", err)
		}
		check("a code, signed in", b.get(r.start(t).url).atApp(t), "")
		check("another account's app", b.get(other.start(t).url).atApp(t), "access_denied")
	})
}
