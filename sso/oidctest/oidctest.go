// Package oidctest runs a real OpenID provider for tests: zitadel's
// certified op package over its example in-memory storage, on a loopback
// HTTP server, with users the test adds, a signing key the test knows (so
// a test can alter an ID token and sign it again, as a compromised or
// misconfigured provider would) and a login page that signs in whoever is
// named, by a query parameter or through a form a browser fills in.
package oidctest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Client is an OAuth client registered at the provider.
type Client struct {
	ID          string
	Secret      string
	RedirectURI string
	// ClaimsInIDToken puts the profile claims in the ID token; otherwise
	// the ID token carries the subject and the rest is at userinfo, as
	// several providers do.
	ClaimsInIDToken bool
}

// User is a person at the provider. The subject is "sub-" + Username;
// the password is "pw-" + Username.
type User struct {
	Username      string
	Email         string
	EmailVerified bool
	GivenName     string
	FamilyName    string
	// Claims are more claims about the person (groups, hd...).
	Claims map[string]any
}

// Tamper changes the ID token of the next token responses: Edit changes
// its header and claims, and it is signed again with Key (the provider's
// own when nil), or not at all when the header says alg none.
type Tamper struct {
	Edit func(header, claims map[string]any)
	Key  *rsa.PrivateKey
}

// Provider is the running provider.
type Provider struct {
	// Issuer is the provider's issuer URL (http://127.0.0.1:port).
	Issuer string

	t     testing.TB
	users *users
	key   *rsa.PrivateKey
	keyID string

	mu     sync.Mutex
	tamper *Tamper

	userinfoCalls atomic.Int64
}

// Start runs the provider until the test ends.
func Start(t testing.TB, clients ...Client) *Provider {
	t.Helper()
	p := &Provider{t: t, users: &users{byID: map[string]*storage.User{}, claims: map[string]map[string]any{}}, keyID: "test-key-1"}
	var err error
	if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { handler.ServeHTTP(rw, r) }))
	t.Cleanup(srv.Close)
	p.Issuer = srv.URL

	registered := map[string]*storage.Client{}
	inline := map[string]bool{}
	for _, c := range clients {
		registered[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURI)
		inline[c.ID] = c.ClaimsInIDToken
	}
	st := &opStorage{Storage: storage.NewStorageWithClients(p.users, registered), p: p, inline: inline}
	key := sha256.Sum256([]byte("zitadel op crypto key for tests"))
	provider, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, AuthMethodPost: true},
		st, op.StaticIssuer(p.Issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// The login page the provider sends the browser to (the example
	// clients' login URL): ?user= signs that user in at once; a browser
	// gets a form.
	login := func(rw http.ResponseWriter, r *http.Request, id, user string) {
		if err := st.CheckUsernamePassword(user, "pw-"+user, id); err != nil {
			http.Error(rw, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(rw, r, p.Issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	}
	mux.HandleFunc("GET /login/username", func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if user := q.Get("user"); user != "" {
			login(rw, r, q.Get("authRequestID"), user)
			return
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = loginForm.Execute(rw, q.Get("authRequestID"))
	})
	mux.HandleFunc("POST /login/username", func(rw http.ResponseWriter, r *http.Request) {
		login(rw, r, r.PostFormValue("authRequestID"), r.PostFormValue("user"))
	})
	mux.Handle("/", provider)
	handler = p.intercept(mux)
	return p
}

var loginForm = template.Must(template.New("login").Parse(`<!doctype html><title>Test provider</title>
<form method="post" action="/login/username"><input type="hidden" name="authRequestID" value="{{.}}">
<label>Username <input id="username" name="user"></label><button type="submit">Sign in</button></form>`))

// AddUser adds or replaces a person.
func (p *Provider) AddUser(u User) {
	p.users.put(&storage.User{
		ID: "sub-" + u.Username, Username: u.Username, Password: "pw-" + u.Username, FirstName: u.GivenName, LastName: u.FamilyName,
		Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English,
	}, u.Claims)
}

// SetTamper alters the ID tokens of the next token responses; nil stops.
func (p *Provider) SetTamper(t *Tamper) {
	p.mu.Lock()
	p.tamper = t
	p.mu.Unlock()
}

// UserinfoCalls counts the requests to the userinfo endpoint.
func (p *Provider) UserinfoCalls() int64 { return p.userinfoCalls.Load() }

// intercept counts userinfo calls and applies the tamper to the token
// endpoint's ID token.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/userinfo" {
			p.userinfoCalls.Add(1)
		}
		p.mu.Lock()
		tamper := p.tamper
		p.mu.Unlock()
		if r.URL.Path != "/oauth/token" || tamper == nil {
			next.ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := map[string]any{}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err == nil && rec.Code == http.StatusOK {
			if raw, ok := body["id_token"].(string); ok {
				body["id_token"] = p.resign(raw, tamper)
			}
		}
		out, _ := json.Marshal(body)
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.Header().Del("Content-Length")
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(out)
	})
}

// resign applies the tamper to a compact JWS and signs it again (RS256).
func (p *Provider) resign(raw string, tamper *Tamper) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		p.t.Errorf("ID token is not a compact JWS: %q", raw)
		return raw
	}
	header, claims := p.decode(parts[0]), p.decode(parts[1])
	if tamper.Edit != nil {
		tamper.Edit(header, claims)
	}
	signingInput := encode(header) + "." + encode(claims)
	if header["alg"] == "none" {
		return signingInput + "."
	}
	key := tamper.Key
	if key == nil {
		key = p.key
	}
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Errorf("sign: %v", err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (p *Provider) decode(s string) map[string]any {
	out := map[string]any{}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		p.t.Errorf("decode JWS segment: %v", err)
		return out
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // exp and iat stay integers when encoded again
	if err := d.Decode(&out); err != nil {
		p.t.Errorf("decode JWS segment: %v", err)
	}
	return out
}

func encode(v map[string]any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// users is the provider's user store.
type users struct {
	mu     sync.Mutex
	byID   map[string]*storage.User
	claims map[string]map[string]any // more claims per user id
}

func (u *users) put(user *storage.User, claims map[string]any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byID[user.ID] = user
	u.claims[user.ID] = claims
}

func (u *users) GetUserByID(id string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byID[id]
}

func (u *users) GetUserByUsername(name string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, user := range u.byID {
		if user.Username == name {
			return user
		}
	}
	return nil
}

func (u *users) ExampleClientID() string { return "service" }

func (u *users) addClaims(info *oidc.UserInfo) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, v := range u.claims[info.Subject] {
		info.AppendClaims(k, v)
	}
}

// opStorage is the example storage with the test's signing key, the
// users' extra claims, and clients asserting claims in the ID token.
type opStorage struct {
	*storage.Storage
	p      *Provider
	inline map[string]bool
}

type opKey struct{ p *Provider }

func (k opKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k opKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k opKey) ID() string                                  { return k.p.keyID }
func (k opKey) Use() string                                 { return "sig" }

// publicKey is the key as the key set publishes it.
type publicKey struct{ opKey }

func (k publicKey) Key() any { return &k.p.key.PublicKey }

// signingKey is the key as the provider signs with it.
type signingKey struct{ opKey }

func (k signingKey) Key() any { return k.p.key }

func (s *opStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{opKey{s.p}}, nil
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{opKey{s.p}}}, nil
}

func (s *opStorage) SetUserinfoFromScopes(ctx context.Context, info *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, info, userID, clientID, scopes); err != nil {
		return err
	}
	s.p.users.addClaims(info)
	return nil
}

func (s *opStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, token, scopes); err != nil {
		return err
	}
	s.p.users.addClaims(info)
	return nil
}

func (s *opStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.p.users.addClaims(info)
	return nil
}

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || !s.inline[id] {
		return c, err
	}
	return claimsInIDToken{c}, nil
}

type claimsInIDToken struct{ op.Client }

func (claimsInIDToken) IDTokenUserinfoClaimsAssertion() bool { return true }
