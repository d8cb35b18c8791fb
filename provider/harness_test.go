package provider_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/login"
	"github.com/admit-dev/admit/provider"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

func TestMain(m *testing.M) {
	// As admit serve does (cmd/admit/serve.go): op logs through the
	// default logger only. Lines op writes outside a provider request
	// would go to standard error.
	slog.SetDefault(slog.New(provider.LogHandler(slog.NewTextHandler(os.Stderr, nil))))
	storetest.Main(m)
}

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

// clock is the directory's time, moved by tests (codes and tokens expire).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// site is admit's sign-in pages and its OpenID provider on a loopback
// server, over a real store.
type site struct {
	t      *testing.T
	store  *store.Store
	dir    *directory.Service
	keys   *certs.TokenKeys
	clock  *clock
	issuer string
}

func newSite(t *testing.T, st *store.Store) *site {
	t.Helper()
	return newLoggedSite(t, st, nil)
}

// newLoggedSite is newSite with the provider logging to log.
func newLoggedSite(t *testing.T, st *store.Store, log *slog.Logger) *site {
	t.Helper()
	clk := &clock{now: time.Now().UTC()}
	dir := directory.NewService(directory.Config{Store: st, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}), Now: clk.Now})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := certs.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	keys := certs.NewTokenKeys(certs.Config{Store: st, Sealer: sealer})
	pages, err := web.NewRenderer(web.Config{Key: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	openID, err := provider.New(provider.Config{Directory: dir, Keys: keys, Pages: pages, Issuer: issuer, Key: key, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	signIn, err := login.New(login.Config{Directory: dir, Pages: pages, Onward: openID, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	signIn.Register(mux)
	openID.Register(mux)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: web.SecurityHeaders(false)(web.RequestID(mux))}}
	srv.Start()
	t.Cleanup(srv.Close)
	return &site{t: t, store: st, dir: dir, keys: keys, clock: clk, issuer: issuer}
}

func (s *site) account(slug string, domains ...string) directory.Account {
	s.t.Helper()
	a, err := s.dir.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:], Domains: domains})
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// invited makes a member who accepted an invitation, with a password they
// chose (proven: they came through the emailed link).
func (s *site) invited(a directory.Account, email, password string, role directory.Role) directory.Member {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.dir.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: email, Role: role}); err != nil {
		s.t.Fatal(err)
	}
	msgs, err := s.dir.ClaimMail(ctx, 10)
	if err != nil || len(msgs) != 1 {
		s.t.Fatalf("invitation mail: %d, %v", len(msgs), err)
	}
	body, err := s.dir.MailBodyOf(ctx, msgs[0])
	if err != nil {
		s.t.Fatal(err)
	}
	m, err := s.dir.AcceptInvitation(ctx, body.Token, directory.Acceptance{FirstName: "Ada", LastName: "Lovelace", Password: password})
	if err != nil {
		s.t.Fatal(err)
	}
	return m
}

func (s *site) app(in directory.NewApp) (directory.App, string) {
	s.t.Helper()
	app, secret, err := s.dir.AddApp(context.Background(), operator, in)
	if err != nil {
		s.t.Fatal(err)
	}
	return app, secret
}

// browser is one person's browser: a cookie jar that follows redirects
// until one leaves for the app (a redirect URI under appPrefix).
type browser struct {
	t      *testing.T
	site   *site
	client *http.Client
}

const appPrefix = "http://127.0.0.1:9/"

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), appPrefix) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{t: s.t, site: s, client: c}
}

// page is a response the browser ended on.
type page struct {
	status int
	url    *url.URL // where it ended (the app's redirect URI when it left)
	header http.Header
	body   string
}

func (b *browser) read(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && strings.HasPrefix(loc, appPrefix) {
		p.url, _ = url.Parse(loc)
	}
	return p
}

func (b *browser) get(u string) page { b.t.Helper(); return b.read(b.client.Get(u)) }

var (
	csrfField     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	returnToField = regexp.MustCompile(`name="return_to" value="([^"]*)"`)
)

// signIn fills in the sign-in form the browser is on, as a person would.
func (b *browser) signIn(p page, email, password string) page {
	b.t.Helper()
	if p.url.Path != "/login" {
		b.t.Fatalf("expected the sign-in page, got %d %s", p.status, p.url)
	}
	csrf, ret := csrfField.FindStringSubmatch(p.body), returnToField.FindStringSubmatch(p.body)
	if csrf == nil || ret == nil {
		b.t.Fatalf("sign-in form without csrf_token or return_to:\n%s", p.body)
	}
	return b.read(b.client.PostForm(b.site.issuer+"/login", url.Values{
		"email": {email}, "password": {password}, "return_to": {html.UnescapeString(ret[1])}, "csrf_token": {csrf[1]},
	}))
}

// choose picks an account on the account chooser the browser is on.
func (b *browser) choose(p page, accountID string) page {
	b.t.Helper()
	if p.url.Path != "/login/account" {
		b.t.Fatalf("expected the account chooser, got %d %s", p.status, p.url)
	}
	csrf, ret := csrfField.FindStringSubmatch(p.body), returnToField.FindStringSubmatch(p.body)
	if csrf == nil || ret == nil {
		b.t.Fatalf("account chooser without csrf_token or return_to:\n%s", p.body)
	}
	return b.read(b.client.PostForm(b.site.issuer+"/login/account", url.Values{
		"account": {accountID}, "return_to": {html.UnescapeString(ret[1])}, "csrf_token": {csrf[1]},
	}))
}

// atApp reports the query the app received, failing unless the browser
// was sent to the app's redirect URI.
func (p page) atApp(t *testing.T) url.Values {
	t.Helper()
	if !strings.HasPrefix(p.url.String(), appPrefix) {
		t.Fatalf("the browser did not go back to the app: %d %s\n%.600s", p.status, p.url, p.body)
	}
	return p.url.Query()
}

func eachStore(t *testing.T, fn func(t *testing.T, s *site)) {
	storetest.Each(t, func(t *testing.T, st *store.Store) { fn(t, newSite(t, st)) })
}

// changePassword fills in the password change form the browser is on.
func (b *browser) changePassword(p page, current, next string) page {
	b.t.Helper()
	if p.url.Path != "/password/change" {
		b.t.Fatalf("expected the password change page, got %d %s", p.status, p.url)
	}
	csrf := csrfField.FindStringSubmatch(p.body)
	if csrf == nil {
		b.t.Fatalf("password change form without csrf_token:\n%s", p.body)
	}
	form := url.Values{"current": {current}, "password": {next}, "confirm": {next}, "csrf_token": {csrf[1]}}
	if ret := returnToField.FindStringSubmatch(p.body); ret != nil {
		form.Set("return_to", html.UnescapeString(ret[1]))
	}
	return b.read(b.client.PostForm(b.site.issuer+"/password/change", form))
}
