package sso_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

	"github.com/admit-dev/admit/directory"
)

// provider is a real OpenID provider in the test: zitadel's certified op
// package over its example in-memory storage, with its own users, a
// signing key the test knows (so a test can alter an ID token and sign it
// again, as a compromised or misconfigured provider would), and a login
// page that signs in whoever the browser names.
type provider struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string
	users  *opUsers
	key    *rsa.PrivateKey
	keyID  string

	mu     sync.Mutex
	tamper *idTokenTamper

	userinfoCalls atomic.Int64
}

// idTokenTamper changes the ID token of the next token responses: edit
// changes its header and claims, and it is signed again with key (the
// provider's own when nil), or not at all when the header says alg none.
type idTokenTamper struct {
	edit func(header, claims map[string]any)
	key  *rsa.PrivateKey
}

func (p *provider) setTamper(t *idTokenTamper) {
	p.mu.Lock()
	p.tamper = t
	p.mu.Unlock()
}

// The provider's clients, one per connection of the world: "zitadel"
// gives claims only through userinfo (the ID token carries the subject),
// "inline" puts them in the ID token, "entra" is used with email trust
// by domain.
var opClients = []string{"zitadel", "inline", "entra"}

const clientSecret = "client-secret-for-tests"

// newProvider starts the provider and adds the world's OIDC connections.
func (w *world) newProvider() *provider {
	t := w.t
	t.Helper()
	p := &provider{t: t, users: &opUsers{byID: map[string]*storage.User{}, extra: map[string]map[string]any{}}}
	var err error
	if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	p.keyID = "test-key-1"
	var handler http.Handler
	p.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { handler.ServeHTTP(rw, r) }))
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL

	clients := map[string]*storage.Client{}
	for _, name := range opClients {
		clients["admit-"+name] = storage.WebClient("admit-"+name, clientSecret, w.sp.URL+"/sso/acme/oidc/"+name+"/callback")
	}
	st := &opStorage{Storage: storage.NewStorageWithClients(p.users, clients), p: p}
	key := sha256.Sum256([]byte("zitadel op crypto key for tests"))
	openID, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, AuthMethodPost: true},
		st, op.StaticIssuer(p.issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// The login page the provider sends the browser to: it signs in the
	// user named in ?user= and resumes the authorization.
	mux.HandleFunc("GET /login/username", func(rw http.ResponseWriter, r *http.Request) {
		id, user := r.URL.Query().Get("authRequestID"), r.URL.Query().Get("user")
		if err := st.CheckUsernamePassword(user, "pw-"+user, id); err != nil {
			http.Error(rw, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(rw, r, p.issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	})
	mux.Handle("/", openID)
	handler = p.intercept(mux)

	for _, name := range opClients {
		trust := directory.EmailVerified
		if name == "entra" {
			trust = directory.EmailDomain
		}
		if _, err := w.svc.CreateConnection(context.Background(), w.acme.ID, operator, directory.NewConnection{
			Protocol: directory.ProtocolOIDC, Name: name,
			Settings: directory.ConnectionSettings{OIDC: &directory.OIDCSettings{
				Issuer: p.issuer, ClientID: "admit-" + name, EmailTrust: trust, Scopes: []string{"email", "profile", "groups"},
			}},
			SealedSecret: w.sealer.Seal([]byte(clientSecret), directory.ClientSecretPurpose(w.acme.ID, name)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	p.addUser("bob", "bob@example.com", "Bob", "Jones", true)
	return p
}

// addUser adds or replaces a person at the provider; groups go in the
// groups claim.
func (p *provider) addUser(name, email, given, family string, verified bool, groups ...string) {
	p.users.put(&storage.User{
		ID: "sub-" + name, Username: name, Password: "pw-" + name, FirstName: given, LastName: family,
		Email: email, EmailVerified: verified, PreferredLanguage: language.English,
	}, map[string]any{"groups": groups})
}

// intercept counts userinfo calls and applies the tamper to the token
// endpoint's ID token.
func (p *provider) intercept(next http.Handler) http.Handler {
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
func (p *provider) resign(raw string, tamper *idTokenTamper) string {
	p.t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		p.t.Fatalf("ID token is not a compact JWS: %q", raw)
	}
	header, claims := decodeSegment(p.t, parts[0]), decodeSegment(p.t, parts[1])
	if tamper.edit != nil {
		tamper.edit(header, claims)
	}
	signingInput := encodeSegment(header) + "." + encodeSegment(claims)
	if header["alg"] == "none" {
		return signingInput + "."
	}
	key := tamper.key
	if key == nil {
		key = p.key
	}
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Fatal(err)
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func decodeSegment(t testing.TB, s string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // exp and iat stay integers when encoded again
	out := map[string]any{}
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func encodeSegment(v map[string]any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// opUsers is the provider's user store.
type opUsers struct {
	mu    sync.Mutex
	byID  map[string]*storage.User
	extra map[string]map[string]any // more claims per user id
}

func (u *opUsers) put(user *storage.User, extra map[string]any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.byID[user.ID] = user
	u.extra[user.ID] = extra
}

func (u *opUsers) GetUserByID(id string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byID[id]
}

func (u *opUsers) GetUserByUsername(name string) *storage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, user := range u.byID {
		if user.Username == name {
			return user
		}
	}
	return nil
}

func (u *opUsers) ExampleClientID() string { return "service" }

func (u *opUsers) addClaims(info *oidc.UserInfo) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, v := range u.extra[info.Subject] {
		info.AppendClaims(k, v)
	}
}

// opStorage is the example storage with the test's signing key, the
// users' extra claims, and the "inline" client asserting claims in the ID
// token.
type opStorage struct {
	*storage.Storage
	p *provider
}

type opKey struct{ p *provider }

func (k opKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k opKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k opKey) ID() string                                  { return k.p.keyID }
func (k opKey) Use() string                                 { return "sig" }

// opPublicKey is the key as the key set publishes it.
type opPublicKey struct{ opKey }

func (k opPublicKey) Key() any { return &k.p.key.PublicKey }

// opSigningKey is the key as the provider signs with it.
type opSigningKey struct{ opKey }

func (k opSigningKey) Key() any { return k.p.key }

func (s *opStorage) SigningKey(context.Context) (op.SigningKey, error) {
	return opSigningKey{opKey{s.p}}, nil
}

func (s *opStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{opPublicKey{opKey{s.p}}}, nil
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
	if err != nil || id != "admit-inline" {
		return c, err
	}
	return claimsInIDToken{c}, nil
}

type claimsInIDToken struct{ op.Client }

func (claimsInIDToken) IDTokenUserinfoClaimsAssertion() bool { return true }

// oidcCallback starts a login at admit's intranet link for the
// connection, signs in at the provider as user, and returns the URL the
// provider sends the browser back to (admit's callback), not yet followed.
func (b *browser) oidcCallback(p *provider, connection, user, returnTo string) string {
	b.w.t.Helper()
	start := b.get(b.w.sp.URL + "/sso/acme/login?connection=" + connection + "&return_to=" + url.QueryEscape(returnTo))
	if start.status != http.StatusFound || !strings.HasPrefix(start.location, p.issuer+"/authorize?") {
		b.w.t.Fatalf("intranet link: %d %s %s", start.status, start.location, start.body)
	}
	return b.atProvider(p, start.location, user)
}

// atProvider follows the provider's redirects from its authorization URL,
// signing in as user, until it sends the browser back to admit.
func (b *browser) atProvider(p *provider, authorize, user string) string {
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
			loc, _ = url.Parse(p.issuer + pg.location)
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

// oidcConnection returns the world's OIDC connection by name.
func (w *world) oidcConnection(name string) directory.Connection {
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
