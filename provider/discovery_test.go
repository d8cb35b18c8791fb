package provider_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// answer is an endpoint's response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// call sends a form to u, with HTTP Basic credentials when user is set.
func call(t *testing.T, method, u string, form url.Values, user, password string) answer {
	t.Helper()
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		u += "?" + form.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// exercised are the members of the discovery document this test puts to
// work; a member op adds in a new version fails it until it is checked
// here (or dropped in handleDiscovery).
var exercised = []string{
	"issuer", "authorization_endpoint", "token_endpoint", "introspection_endpoint", "userinfo_endpoint",
	"revocation_endpoint", "end_session_endpoint", "jwks_uri",
	"scopes_supported", "response_types_supported", "response_modes_supported", "grant_types_supported",
	"subject_types_supported", "id_token_signing_alg_values_supported", "claims_supported", "code_challenge_methods_supported",
	"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported",
	"request_parameter_supported", "request_uri_parameter_supported",
	// TestBackchannelLogout delivers one; TestBackchannelLogoutNamesEachSession
	// one for each session, naming its sid.
	"backchannel_logout_supported", "backchannel_logout_session_supported",
	// Every authorization response below is checked for it (and
	// TestAuthorizationResponsesNameTheIssuer checks each kind).
	"authorization_response_iss_parameter_supported",
	// TestPromptValues puts none, consent and select_account to work,
	// TestReauthentication login; checked against them below.
	"prompt_values_supported",
}

// TestDiscoveryEndpointsAnswer fetches discovery, as an app's library
// does, and uses every endpoint and every method it advertises: no
// endpoint answers 404, every client authentication method at the token,
// introspection and revocation endpoints is accepted, every grant type
// and scope works, and every claim it lists reaches the app.
//
// On SQLite only, to stay fast: what discovery says and which methods op
// takes does not depend on the store.
func TestDiscoveryEndpointsAnswer(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	ctx := context.Background()
	a := call(t, "GET", s.issuer+"/.well-known/openid-configuration", nil, "", "")
	var doc map[string]any
	if err := json.Unmarshal([]byte(a.body), &doc); a.status != http.StatusOK || err != nil {
		t.Fatalf("discovery: %d %v\n%s", a.status, err, a.body)
	}
	for k := range doc {
		if !slices.Contains(exercised, k) {
			t.Errorf("discovery advertises %s = %v, which no test puts to work", k, doc[k])
		}
	}
	list := func(k string) []string {
		var out []string
		vs, _ := doc[k].([]any)
		for _, v := range vs {
			out = append(out, v.(string))
		}
		return out
	}
	for k, v := range doc {
		if !strings.HasSuffix(k, "_endpoint") && k != "jwks_uri" {
			continue
		}
		u := v.(string)
		if !strings.HasPrefix(u, s.issuer+"/") {
			t.Errorf("%s %s is not under the issuer", k, u)
		}
		for _, method := range []string{"GET", "POST"} {
			a := call(t, method, u, nil, "", "")
			// The endpoints an app posts credentials to answer only POST
			// (RFC 6749 section 3.2; TestTokensStayOutOfURLs).
			postOnly := method == "GET" && (k == "token_endpoint" || k == "introspection_endpoint" || k == "revocation_endpoint")
			if postOnly && a.status == http.StatusMethodNotAllowed {
				continue
			}
			if a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed || a.status >= 500 {
				t.Errorf("%s %s (%s): %d %.200s", method, u, k, a.status, a.body)
			}
		}
	}
	for k, want := range map[string][]string{
		"response_types_supported": {"code"}, "response_modes_supported": {"query"},
		"code_challenge_methods_supported": {"S256"}, "subject_types_supported": {"public"},
		"grant_types_supported":   {"authorization_code", "refresh_token"},
		"prompt_values_supported": {"none", "login", "consent", "select_account"},
	} {
		// The test's flows use exactly these (code in the query, PKCE
		// S256, the same sub for every app).
		if got := list(k); !slices.Equal(got, want) {
			t.Errorf("%s = %v; the test exercises %v", k, got, want)
		}
	}
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v; the test exercises true", doc["authorization_response_iss_parameter_supported"])
	}
	// iss is the issuer, in every answer at the app's redirect URI
	// (RFC 9207 section 2).
	issuedBy := func(what string, q url.Values) {
		t.Helper()
		if got := q["iss"]; len(got) != 1 || got[0] != doc["issuer"] {
			t.Errorf("%s: iss %q; want [%v]", what, got, doc["issuer"])
		}
	}
	if doc["request_uri_parameter_supported"] != false || (doc["request_parameter_supported"] != nil && doc["request_parameter_supported"] != false) {
		t.Errorf("request objects advertised: request %v, request_uri %v", doc["request_parameter_supported"], doc["request_uri_parameter_supported"])
	}

	acme := s.account("acme")
	s.invited(acme, "ada@acme.example", "correct horse battery", directory.RoleMember)
	web, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
	spa, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "spa"}, PostLogoutRedirectURIs: []string{appPrefix + "bye"}, Public: true})
	b := s.browser()

	// Every token endpoint authentication method, each with every
	// scope, the code and the refresh grant.
	tokens := map[string]*oauth2.Token{}
	claims := map[string]bool{}
	for _, method := range list("token_endpoint_auth_methods_supported") {
		app, sec, style := web, secret, oauth2.AuthStyleInHeader
		switch method {
		case "none":
			app, sec = spa, ""
		case "client_secret_basic":
		case "client_secret_post":
			style = oauth2.AuthStyleInParams
		default:
			t.Errorf("token_endpoint_auth_methods_supported: %s is not exercised", method)
			continue
		}
		r := newRP(t, s, app, sec)
		r.conf.Endpoint.AuthStyle = style
		r.conf.Scopes = list("scopes_supported")
		l := r.start(t)
		p := b.get(l.url)
		if p.url.Path == "/login" {
			p = b.signIn(p, "ada@acme.example", "correct horse battery")
		}
		q := p.atApp(t)
		issuedBy(method+": the code", q)
		tok, err := r.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Errorf("%s: code grant: %v", method, err)
			continue
		}
		if granted := strings.Fields(tok.Extra("scope").(string)); !slices.Equal(granted, r.conf.Scopes) {
			t.Errorf("%s: granted scopes %v; asked %v", method, granted, r.conf.Scopes)
		}
		idt, err := r.verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Errorf("%s: ID token: %v", method, err)
			continue
		}
		var fromID map[string]any
		_ = idt.Claims(&fromID)
		info, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Errorf("%s: userinfo: %v", method, err)
			continue
		}
		var fromInfo map[string]any
		_ = info.Claims(&fromInfo)
		for k := range fromID {
			claims[k] = true
		}
		for k := range fromInfo {
			claims[k] = true
		}
		refreshed, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Errorf("%s: refresh grant: %v", method, err)
			continue
		}
		tokens[method] = refreshed
	}
	for _, c := range list("claims_supported") {
		if !claims[c] {
			t.Errorf("claims_supported lists %s, which neither the ID token nor userinfo carries", c)
		}
	}

	// Introspection by every method it advertises.
	introspect := doc["introspection_endpoint"].(string)
	for _, method := range list("introspection_endpoint_auth_methods_supported") {
		form, user := url.Values{"token": {tokens["client_secret_basic"].AccessToken}}, ""
		switch method {
		case "client_secret_basic":
			user = web.ClientID
		case "client_secret_post":
			form.Set("client_id", web.ClientID)
			form.Set("client_secret", secret)
		default:
			t.Errorf("introspection_endpoint_auth_methods_supported: %s is not exercised", method)
			continue
		}
		a := call(t, "POST", introspect, form, user, secret)
		var got struct {
			Active   bool   `json:"active"`
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal([]byte(a.body), &got); a.status != http.StatusOK || err != nil || !got.Active || got.ClientID != web.ClientID {
			t.Errorf("introspection by %s: %d %s", method, a.status, a.body)
		}
	}

	// Revocation by every method it advertises: each revokes the
	// access token that method's app holds.
	for _, method := range list("revocation_endpoint_auth_methods_supported") {
		tok := tokens[method]
		form, user := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, ""
		switch method {
		case "none":
			form.Set("client_id", spa.ClientID)
		case "client_secret_basic":
			user = web.ClientID
		case "client_secret_post":
			form.Set("client_id", web.ClientID)
			form.Set("client_secret", secret)
		default:
			t.Errorf("revocation_endpoint_auth_methods_supported: %s is not exercised", method)
			continue
		}
		if a := call(t, "POST", doc["revocation_endpoint"].(string), form, user, secret); a.status != http.StatusOK {
			t.Errorf("revocation by %s: %d %s", method, a.status, a.body)
		}
		if a := call(t, "POST", doc["userinfo_endpoint"].(string), url.Values{"access_token": {tok.AccessToken}}, "", ""); a.status != http.StatusUnauthorized {
			t.Errorf("userinfo after revocation by %s: %d %s", method, a.status, a.body)
		}
	}

	// A request object is refused, as request_parameter_supported
	// (absent: false) says.
	r := newRP(t, s, spa, "")
	if q := b.get(r.start(t, oauth2.SetAuthURLParam("request", "e30.e30.")).url).atApp(t); q.Get("error") != "request_not_supported" {
		t.Errorf("authorization with a request object: the app got %v; want request_not_supported", q)
	} else {
		issuedBy("request_not_supported", q)
	}

	// RP-initiated logout, back to the registered address.
	hint := tokens["none"].Extra("id_token").(string)
	a = call(t, "GET", doc["end_session_endpoint"].(string), url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {appPrefix + "bye"}, "client_id": {spa.ClientID}}, "", "")
	if a.status != http.StatusFound || a.header.Get("Location") != appPrefix+"bye" {
		t.Errorf("end_session: %d %q %.200s", a.status, a.header.Get("Location"), a.body)
	}
}
