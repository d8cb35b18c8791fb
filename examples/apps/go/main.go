// Command go-app is a web app that signs its users in through admit's
// OpenID provider, written as any Go app would be: go-oidc finds admit's
// endpoints and verifies the ID token, x/oauth2 runs the authorization
// code flow with PKCE. `make demo` runs it as its demo app.
//
// Register it with admit first (the demo does this for you):
//
//	admit app add --name "Go app" --account acme --redirect-uri http://127.0.0.1:8084/callback
//
// and run it with what that printed:
//
//	ADMIT_ISSUER=http://localhost:8080 APP_URL=http://127.0.0.1:8084 \
//	CLIENT_ID=admit_app_… CLIENT_SECRET=… go run ./examples/apps/go
//
// Its sessions are kept in memory: it forgets everyone when it stops.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	issuer, appURL := env("ADMIT_ISSUER", "http://localhost:8080"), env("APP_URL", "http://127.0.0.1:8084")
	clientID, clientSecret := os.Getenv("CLIENT_ID"), os.Getenv("CLIENT_SECRET")
	if clientID == "" || clientSecret == "" {
		log.Fatal("set CLIENT_ID and CLIENT_SECRET to what `admit app add` printed")
	}
	u, err := url.Parse(appURL)
	if err != nil || u.Host == "" {
		log.Fatalf("APP_URL %q: want the URL the app is reached at, such as http://127.0.0.1:8084", appURL)
	}
	// admit may still be starting: go-oidc reads its discovery document once.
	var app *app
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		app, err = newApp(ctx, issuer, appURL, clientID, clientSecret)
		cancel()
		if err == nil || attempt == 10 {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		log.Fatalf("admit's OpenID provider at %s: %v", issuer, err)
	}
	log.Printf("listening on %s", appURL)
	srv := &http.Server{Addr: u.Host, Handler: app, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

type app struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu       sync.Mutex
	pending  map[string]string         // state -> PKCE verifier
	sessions map[string]map[string]any // session cookie -> ID token claims
}

const sessionCookie = "go_app_session"

func newApp(ctx context.Context, issuer, appURL, clientID, clientSecret string) (*app, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return &app{
		oauth: oauth2.Config{ClientID: clientID, ClientSecret: clientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: appURL + "/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		pending:  map[string]string{},
		sessions: map[string]map[string]any{},
	}, nil
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		a.home(w, r)
	case "/login":
		a.login(w, r)
	case "/callback":
		a.callback(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		claims := a.sessions[c.Value]
		a.mu.Unlock()
		if claims != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_ = page.Execute(w, map[string]any{"Claims": sorted(claims),
				"Greeting": fmt.Sprintf("Welcome, %s of %s", claims["name"], accountName(claims))})
			return
		}
	}
	// Nobody here yet: off to admit, which signs them in (or finds them
	// signed in already) and sends them back.
	http.Redirect(w, r, "/login", http.StatusFound)
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	a.mu.Lock()
	a.pending[state] = verifier
	a.mu.Unlock()
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		http.Error(w, "admit answered: "+e+" "+q.Get("error_description"), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	verifier, ok := a.pending[q.Get("state")]
	delete(a.pending, q.Get("state"))
	a.mu.Unlock()
	if !ok {
		http.Error(w, "unknown state: start again at /", http.StatusBadRequest)
		return
	}
	token, err := a.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		http.Error(w, "code exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := token.Extra("id_token").(string)
	idToken, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		http.Error(w, "ID token: "+err.Error(), http.StatusBadGateway)
		return
	}
	claims := map[string]any{}
	if err := idToken.Claims(&claims); err != nil {
		http.Error(w, "ID token claims: "+err.Error(), http.StatusBadGateway)
		return
	}
	session := rand.Text()
	a.mu.Lock()
	a.sessions[session] = claims
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusFound)
}

// accountName reads the account claim admit adds: {"id", "slug", "name"}.
func accountName(claims map[string]any) string {
	if a, ok := claims["account"].(map[string]any); ok {
		if name, ok := a["name"].(string); ok {
			return name
		}
	}
	return "your account"
}

type claim struct{ Name, Value string }

func sorted(claims map[string]any) []claim {
	var out []claim
	for k, v := range claims {
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

var page = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Go app</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 48rem; margin: 3rem auto">
<h1 id="greeting">{{.Greeting}}</h1>
<p>This Go app signed you in through admit. The ID token's claims:</p>
<table>{{range .Claims}}<tr><th style="text-align: left; padding-right: 1rem">{{.Name}}</th><td><code>{{.Value}}</code></td></tr>{{end}}</table>
</body></html>`))
