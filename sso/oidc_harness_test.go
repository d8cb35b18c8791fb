package sso_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/sso/oidctest"
)

// The provider's clients, one per connection of the world: "zitadel"
// gives claims only through userinfo (the ID token carries the subject),
// "inline" puts them in the ID token, "entra" is used with email trust
// by domain.
var opClients = []string{"zitadel", "inline", "entra"}

const clientSecret = "client-secret-for-tests"

// newProvider starts a real OpenID provider (see oidctest) and adds the
// world's OIDC connections to it; bob is one of its users.
func (w *world) newProvider() *oidctest.Provider {
	t := w.t
	t.Helper()
	var clients []oidctest.Client
	for _, name := range opClients {
		clients = append(clients, oidctest.Client{ID: "admit-" + name, Secret: clientSecret,
			RedirectURI: w.sp.URL + "/sso/acme/oidc/" + name + "/callback", ClaimsInIDToken: name == "inline"})
	}
	p := oidctest.Start(t, clients...)
	for _, name := range opClients {
		trust := directory.EmailVerified
		if name == "entra" {
			trust = directory.EmailDomain
		}
		if _, err := w.svc.CreateConnection(context.Background(), w.acme.ID, operator, directory.NewConnection{
			Protocol: directory.ProtocolOIDC, Name: name,
			Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{
				Issuer: p.Issuer, ClientID: "admit-" + name, EmailTrust: trust, Scopes: []string{"email", "profile", "groups"},
			}},
			SealedSecret: w.sealer.Seal([]byte(clientSecret), directory.ClientSecretPurpose(w.acme.ID, name)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	addUser(p, "bob", "bob@example.com", "Bob", "Jones", true)
	return p
}

// addUser adds or replaces a person at the provider, with groups.
func addUser(p *oidctest.Provider, name, email, given, family string, verified bool, groups ...string) {
	p.AddUser(oidctest.User{Username: name, Email: email, EmailVerified: verified, GivenName: given, FamilyName: family,
		Claims: map[string]any{"groups": groups}})
}

// oidcCallback starts a login at admit's intranet link for the
// connection, signs in at the provider as user, and returns the URL the
// provider sends the browser back to (admit's callback), not yet followed.
func (b *browser) oidcCallback(p *oidctest.Provider, connection, user, returnTo string) string {
	b.w.t.Helper()
	start := b.get(b.w.sp.URL + "/sso/acme/login?connection=" + connection + "&return_to=" + url.QueryEscape(returnTo))
	if start.status != http.StatusFound || !strings.HasPrefix(start.location, p.Issuer+"/authorize?") {
		b.w.t.Fatalf("intranet link: %d %s %s", start.status, start.location, start.body)
	}
	return b.atProvider(p, start.location, user)
}

// atProvider follows the provider's redirects from its authorization URL,
// signing in as user, until it sends the browser back to admit.
func (b *browser) atProvider(p *oidctest.Provider, authorize, user string) string {
	b.w.t.Helper()
	next := authorize
	for range 5 {
		pg := b.get(next)
		if pg.status != http.StatusFound && pg.status != http.StatusSeeOther {
			b.w.t.Fatalf("provider at %s: %d %s", next, pg.status, pg.body)
		}
		loc, err := url.Parse(pg.location)
		if err != nil {
			b.w.t.Fatal(err)
		}
		if loc.Host == "" {
			loc, _ = url.Parse(p.Issuer + pg.location)
		}
		if strings.HasPrefix(loc.String(), b.w.sp.URL) {
			return loc.String()
		}
		if loc.Path == "/login/username" {
			q := loc.Query()
			q.Set("user", user)
			loc.RawQuery = q.Encode()
		}
		next = loc.String()
	}
	b.w.t.Fatalf("the provider never sent the browser back to admit")
	return ""
}

// connection returns one of the world's connections by name.
func (w *world) connection(name string) directory.Connection {
	w.t.Helper()
	all, err := w.svc.Connections(context.Background(), w.acme.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, c := range all {
		if c.Name == name {
			return c
		}
	}
	w.t.Fatalf("no connection %s", name)
	return directory.Connection{}
}
