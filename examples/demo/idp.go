package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	stdlog "log"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/crewjam/saml/samlidp"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// demoPassword is every demo person's password at Acme's identity providers.
const demoPassword = "acme-demo"

// samlPeople are Acme's people at its SAML IdP. Nia is in the group that
// the demo maps to admit's admin role (see setup).
var samlPeople = []samlidp.User{
	{Name: "nia", Email: "nia@acme.example", GivenName: "Nia", Surname: "Ng", CommonName: "Nia Ng", Groups: []string{"Acme Admins"}},
	{Name: "omar", Email: "omar@acme.example", GivenName: "Omar", Surname: "Haddad", CommonName: "Omar Haddad", Groups: []string{"Sales"}},
}

// samlIdP is crewjam's samlidp with a login page that answers the request
// it was shown for. samlidp's own page posts to /login, which only opens a
// session at the IdP; the demo's posts back to the address it was served
// at, so the same request (SP-initiated) or tile (IdP-initiated) goes on.
type samlIdP struct {
	*samlidp.Server
	url string
}

var samlLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme sign-in (SAML)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>Acme sign-in</h1>
<p>Acme's SAML identity provider (the demo's: crewjam's samlidp). Try <b>nia</b> or <b>omar</b>, password <b>` + demoPassword + `</b>.</p>
{{if .Toast}}<p role="alert">{{.Toast}}</p>{{end}}
<form method="post">
<p><label>Username <input name="user" autocomplete="username" autofocus></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password"></label></p>
<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<p><button type="submit">Sign in</button></p>
</form></body></html>`))

func newSAMLIdP(base string) (*samlIdP, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Acme demo IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	srv, err := samlidp.New(samlidp.Options{URL: *u, Key: key, Certificate: cert, Store: &samlidp.MemoryStore{},
		Logger: stdlog.New(io.Discard, "", 0), LoginFormTemplate: samlLoginPage})
	if err != nil {
		return nil, err
	}
	for _, p := range samlPeople {
		pw := demoPassword
		p.PlaintextPassword = &pw
		if err := put(context.Background(), srv, "/users/"+p.Name, "application/json", p); err != nil {
			return nil, err
		}
	}
	return &samlIdP{Server: srv, url: base}, nil
}

// ServeHTTP parses a posted form first: samlidp reads the credentials
// from r.PostForm, which only its /login handler fills in.
func (s *samlIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
	}
	s.Server.ServeHTTP(w, r)
}

// trust registers admit as a service provider from its metadata URL, and
// the intranet tile "admit" that starts an IdP-initiated login landing on
// relayState.
func (s *samlIdP) trust(ctx context.Context, metadataURL, relayState string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("read admit's SAML metadata: %w", err)
	}
	defer resp.Body.Close()
	metadata, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read admit's SAML metadata at %s: %s %v", metadataURL, resp.Status, err)
	}
	if err := put(ctx, s.Server, "/services/admit", "application/xml", metadata); err != nil {
		return err
	}
	var entity struct {
		EntityID string `xml:"entityID,attr"`
	}
	if err := xml.Unmarshal(metadata, &entity); err != nil {
		return err
	}
	return put(ctx, s.Server, "/shortcuts/admit", "application/json",
		samlidp.Shortcut{Name: "admit", ServiceProviderID: entity.EntityID, RelayState: &relayState})
}

// put calls the IdP's own admin API in process, as its admin would over HTTP.
func put(ctx context.Context, h http.Handler, path, contentType string, body any) error {
	raw, ok := body.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.status >= 300 {
		return fmt.Errorf("demo IdP: PUT %s: %d %s", path, rec.status, rec.body.String())
	}
	return nil
}

// recorder is the least http.ResponseWriter the IdP's admin API needs.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) { r.status = status }

// oidcClient is the client admit is registered as at Acme's OpenID provider.
type oidcClient struct {
	id, secret, redirectURI string
}

// oidcPeople are Acme's people at its OpenID provider.
var oidcPeople = []*storage.User{
	{ID: "leo", Username: "leo", Password: demoPassword, FirstName: "Leo", LastName: "Park", Email: "leo@acme.example", EmailVerified: true, PreferredLanguage: language.English},
}

// newOIDCIdP runs zitadel's op over its example in-memory storage, with
// a login page of the demo's own (the example's is the client's concern).
func newOIDCIdP(issuer string, client oidcClient) (http.Handler, error) {
	users := peopleStore{}
	for _, p := range oidcPeople {
		users[p.ID] = p
	}
	st := storage.NewStorageWithClients(users, map[string]*storage.Client{client.id: storage.WebClient(client.id, client.secret, client.redirectURI)})
	key := sha256.Sum256([]byte("admit demo: the OpenID provider's key for its own state"))
	provider, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, AuthMethodPost: true},
		st, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// storage.WebClient sends the browser here with the request's id.
	mux.HandleFunc("GET /login/username", func(w http.ResponseWriter, r *http.Request) {
		writePage(w, http.StatusOK, oidcLoginPage, map[string]string{"ID": r.URL.Query().Get("authRequestID")})
	})
	mux.HandleFunc("POST /login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.PostFormValue("authRequestID")
		if err := st.CheckUsernamePassword(r.PostFormValue("user"), r.PostFormValue("password"), id); err != nil {
			writePage(w, http.StatusForbidden, oidcLoginPage, map[string]string{"ID": id, "Error": "Wrong username or password."})
			return
		}
		http.Redirect(w, r, op.AuthCallbackURL(provider)(r.Context(), id), http.StatusFound)
	})
	mux.Handle("/", provider)
	return mux, nil
}

var oidcLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme sign-in (OpenID Connect)</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>Acme Workforce sign-in</h1>
<p>Acme's OpenID provider (the demo's: zitadel's op). Try <b>leo</b>, password <b>` + demoPassword + `</b>.</p>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/login/username"><input type="hidden" name="authRequestID" value="{{.ID}}">
<p><label>Username <input name="user" autocomplete="username" autofocus></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password"></label></p>
<p><button type="submit">Sign in</button></p>
</form></body></html>`))

// peopleStore is the example storage's user store over a fixed list.
type peopleStore map[string]*storage.User

func (p peopleStore) GetUserByID(id string) *storage.User { return p[id] }
func (p peopleStore) GetUserByUsername(name string) *storage.User {
	for _, u := range p {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (p peopleStore) ExampleClientID() string { return "" }
