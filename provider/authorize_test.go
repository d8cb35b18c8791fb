package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// refusedOnPage fails unless the authorization request q (GET, or POST
// as a form) was refused on admit's page, 400, and not redirected.
func refusedOnPage(t *testing.T, s *site, b *browser, method string, q url.Values, want string) {
	t.Helper()
	noFollow := &http.Client{Jar: b.client.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = noFollow.PostForm(s.issuer+"/oauth/authorize", q)
	} else {
		resp, err = noFollow.Get(s.issuer + "/oauth/authorize?" + q.Encode())
	}
	p := b.read(resp, err)
	if p.status != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(p.body, want) ||
		!strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("got %d (%s) Location %q:\n%.400s", p.status, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), p.body)
	}
}

// TestRequestURINotSupported: an authorization request that passes its
// parameters by reference (request_uri, OpenID Connect Core section 6.2)
// gets request_uri_not_supported at the app's redirect URI (section 6.3),
// by GET or POST, signed in or not, and never a code for the parameters
// outside the object: admit fetches no request object, as discovery says.
// With a redirect URI or client that is not good, the refusal is a page.
func TestRequestURINotSupported(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		r := newRP(t, s, app, "")
		byRef := oauth2.SetAuthURLParam("request_uri", "https://app.example/requests/1.jwt")
		b := s.browser()
		check := func(name string, q url.Values, state string) {
			t.Helper()
			if q.Get("error") != "request_uri_not_supported" || q.Get("state") != state || q.Get("code") != "" || q.Get("iss") != s.issuer {
				t.Errorf("%s: the app got %v; want request_uri_not_supported with its state and iss", name, q)
			}
		}
		l := r.start(t, byRef)
		check("signed out", b.get(l.url).atApp(t), l.state)

		b.code(t, r.start(t), "ada@acme.example", "correct horse battery")
		l = r.start(t, byRef)
		check("signed in", b.get(l.url).atApp(t), l.state)

		u, _ := url.Parse(r.start(t, byRef).url)
		form := u.Query()
		check("POST", b.read(b.client.PostForm(s.issuer+"/oauth/authorize", form)).atApp(t), form.Get("state"))

		bad := u.Query()
		bad.Set("redirect_uri", "https://evil.example/cb")
		refusedOnPage(t, s, b, http.MethodGet, bad, "redirect_uri")
		bad = u.Query()
		bad.Set("client_id", "admit_app_nope")
		refusedOnPage(t, s, b, http.MethodGet, bad, "client")
	})
}

// TestUnsupportedResponseType: a valid app that asks for another response
// type than code (the implicit or hybrid flow) gets
// unsupported_response_type at its redirect URI (RFC 6749 section
// 4.1.2.1: admit supports none for any app), not unauthorized_client; one
// that sends none gets invalid_request. A bad redirect URI is still a
// page.
func TestUnsupportedResponseType(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "cb"}, Public: true})
		r := newRP(t, s, app, "")
		b := s.browser()
		for _, tc := range []struct {
			responseType, want string
		}{
			{"token", "unsupported_response_type"},
			{"id_token", "unsupported_response_type"},
			{"id_token token", "unsupported_response_type"},
			{"code id_token", "unsupported_response_type"},
			{"code token", "unsupported_response_type"},
			{"none", "unsupported_response_type"},
			{"", "invalid_request"},
		} {
			t.Run(tc.responseType, func(t *testing.T) {
				l := r.start(t, oauth2.SetAuthURLParam("response_type", tc.responseType))
				p := b.get(l.url)
				// Errors of the implicit flow go in the fragment (OAuth 2.0
				// Multiple Response Types section 5).
				q, _ := url.ParseQuery(p.url.Fragment)
				if len(q) == 0 {
					q = p.atApp(t)
				} else {
					p.atApp(t)
				}
				if q.Get("error") != tc.want || q.Get("state") != l.state || q.Get("code") != "" || q.Get("iss") != s.issuer {
					t.Errorf("response_type=%q: the app got %v; want %s with its state and iss", tc.responseType, q, tc.want)
				}
			})
		}
		u, _ := url.Parse(r.start(t, oauth2.SetAuthURLParam("response_type", "token")).url)
		bad := u.Query()
		bad.Set("redirect_uri", "https://evil.example/cb")
		refusedOnPage(t, s, b, http.MethodGet, bad, "redirect_uri")
	})
}
