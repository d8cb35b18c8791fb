package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// relyingParty is the platform's app that signs people in through admit's
// OpenID provider, written as any Go app would be: go-oidc verifies the ID
// token, x/oauth2 runs the code flow with PKCE. Its sessions are in memory;
// it is a demo, and it forgets everyone when the demo stops.
type relyingParty struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu       sync.Mutex
	pending  map[string]string         // state -> PKCE verifier
	sessions map[string]map[string]any // cookie -> ID token claims
}

const rpCookie = "demo_app_session"

func newRelyingParty(ctx context.Context, issuer, base, clientID, clientSecret string) (*relyingParty, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return &relyingParty{
		oauth: oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: base + "/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		pending:  map[string]string{},
		sessions: map[string]map[string]any{},
	}, nil
}

func (rp *relyingParty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		rp.home(w, r)
	case "/login":
		rp.login(w, r)
	case "/callback":
		rp.callback(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (rp *relyingParty) home(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(rpCookie); err == nil {
		rp.mu.Lock()
		claims := rp.sessions[c.Value]
		rp.mu.Unlock()
		if claims != nil {
			writePage(w, http.StatusOK, greetingPage, map[string]any{"Title": "Demo app", "Claims": sortedClaims(claims),
				"Greeting": "Welcome, " + claimString(claims, "name") + " of " + accountName(claims)})
			return
		}
	}
	// Nobody here yet: off to admit, which signs them in (or finds them
	// signed in already) and sends them back.
	http.Redirect(w, r, "/login", http.StatusFound)
}

func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	state, verifier := randomString(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.pending[state] = verifier
	rp.mu.Unlock()
	http.Redirect(w, r, rp.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		http.Error(w, "admit said: "+e+" "+q.Get("error_description"), http.StatusBadRequest)
		return
	}
	rp.mu.Lock()
	verifier, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	if !ok {
		http.Error(w, "unknown state: start again at /", http.StatusBadRequest)
		return
	}
	token, err := rp.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		http.Error(w, "code exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := token.Extra("id_token").(string)
	idToken, err := rp.verifier.Verify(r.Context(), raw)
	if err != nil {
		http.Error(w, "ID token: "+err.Error(), http.StatusBadGateway)
		return
	}
	claims := map[string]any{}
	if err := idToken.Claims(&claims); err != nil {
		http.Error(w, "ID token claims: "+err.Error(), http.StatusBadGateway)
		return
	}
	session := randomString()
	rp.mu.Lock()
	rp.sessions[session] = claims
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: rpCookie, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusFound)
}

// wikiApp is the app behind admit's reverse proxy: it knows nobody itself
// and reads who arrived from the headers admit sets.
func wikiApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]any{}
		for name, values := range r.Header {
			if strings.HasPrefix(name, "X-Admit-") && name != "X-Admit-Jwt" {
				headers[name] = strings.Join(values, ", ")
			}
		}
		if jwt := r.Header.Get("X-Admit-Jwt"); jwt != "" {
			headers["X-Admit-Jwt"] = jwt[:min(len(jwt), 24)] + "…"
		}
		writePage(w, http.StatusOK, greetingPage, map[string]any{"Title": "Acme wiki", "Claims": sortedClaims(headers),
			"Greeting": "Welcome to the wiki, " + r.Header.Get("X-Admit-Name") + " (" + r.Header.Get("X-Admit-Role") + ")"})
	})
}

var greetingPage = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 48rem; margin: 3rem auto">
<h1 id="greeting">{{.Greeting}}</h1>
<p>This is {{.Title}}, one of the platform's apps. admit told it who arrived:</p>
<table>{{range .Claims}}<tr><th style="text-align: left; padding-right: 1rem">{{.Name}}</th><td><code>{{.Value}}</code></td></tr>{{end}}</table>
</body></html>`))

type claim struct{ Name, Value string }

func sortedClaims(m map[string]any) []claim {
	var out []claim
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out = append(out, claim{k, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func claimString(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

// accountName reads the account claim admit adds: {"id", "slug", "name"}.
func accountName(m map[string]any) string {
	if a, ok := m["account"].(map[string]any); ok {
		if name, ok := a["name"].(string); ok {
			return name
		}
	}
	return "your account"
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}
