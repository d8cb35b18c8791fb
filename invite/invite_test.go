package invite_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/invite"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI}

type site struct {
	svc    *directory.Service
	server *httptest.Server
	client *http.Client
}

func newSite(t *testing.T, s *store.Store, now *time.Time) *site {
	t.Helper()
	svc := directory.NewService(directory.Config{
		Store: s, Now: func() time.Time { return *now },
		Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}),
	})
	pages, err := web.NewRenderer(web.Config{Key: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := invite.New(invite.Config{Directory: svc, Pages: pages, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(web.RequestID(mux))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &site{svc: svc, server: srv, client: &http.Client{Jar: jar}}
}

// invite invites email to a new account and returns the link path.
func (s *site) invite(t *testing.T, slug, email string) string {
	t.Helper()
	ctx := context.Background()
	a, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: slug, Name: strings.ToUpper(slug)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: email}); err != nil {
		t.Fatal(err)
	}
	return s.mailedInvitation(t)
}

// mailedInvitation is the path of the one invitation link the outbox holds.
func (s *site) mailedInvitation(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	msgs, err := s.svc.ClaimMail(ctx, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("claim: %v", err)
	}
	body, err := s.svc.MailBodyOf(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	return "/invite/" + body.Token
}

var csrf = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (s *site) do(t *testing.T, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.server.URL+path, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *site) form(t *testing.T, path string) (string, string) {
	t.Helper()
	status, page := s.do(t, "GET", path, nil)
	if status != 200 {
		t.Fatalf("GET %s = %d\n%s", path, status, page)
	}
	m := csrf.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	return page, m[1]
}

func TestNewPersonPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		now := time.Now().UTC()
		s := newSite(t, st, &now)
		path := s.invite(t, "acme", "new@acme.example")
		page, token := s.form(t, path)
		for _, want := range []string{"Join ACME", "new@acme.example", `data-min-length="12"`, "at least 12 characters", `src="/static/password.js"`, `autocomplete="new-password"`} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		status, page := s.do(t, "POST", path, url.Values{"csrf_token": {token}, "first_name": {"N"}, "last_name": {"P"}, "password": {"violet staple orbit lantern"}, "confirm": {"violet staple orbit lanterns"}})
		if status != 400 || !strings.Contains(page, "not the same") {
			t.Errorf("mismatched confirmation: %d", status)
		}
		status, page = s.do(t, "POST", path, url.Values{"csrf_token": {token}, "first_name": {"N"}, "last_name": {"P"}, "password": {"violet staple orbit lantern"}, "confirm": {"violet staple orbit lantern"}})
		if status != 200 || !strings.Contains(page, "you are signed in") {
			t.Fatalf("accept: %d\n%s", status, page)
		}
		// Accepting signs the person in, in the account that invited them.
		if v, err := s.svc.Authenticate(context.Background(), s.sessionToken(t)); err != nil || v.User.Email != "new@acme.example" || v.Account.Slug != "acme" {
			t.Errorf("the session after accepting: %s in %s, %v", v.User.Email, v.Account.Slug, err)
		}
	})
}

// sessionToken is the session cookie the site's browser holds.
func (s *site) sessionToken(t *testing.T) string {
	t.Helper()
	u, _ := url.Parse(s.server.URL)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == "admit_session" {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestExistingPersonSignsInToAccept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		now := time.Now().UTC()
		s := newSite(t, st, &now)
		// Pat's password is their own: they chose it through an earlier
		// invitation's emailed link.
		first := s.invite(t, "home", "p@example.com")
		_, token := s.form(t, first)
		if status, _ := s.do(t, "POST", first, url.Values{"csrf_token": {token}, "first_name": {"Pat"}, "last_name": {"Q"}, "password": {"the password pat has"}, "confirm": {"the password pat has"}}); status != 200 {
			t.Fatalf("accepting the first invitation: %d", status)
		}
		path := s.invite(t, "other", "p@example.com")
		page, token := s.form(t, path)
		if !strings.Contains(page, "already have a password") || strings.Contains(page, "first_name") || !strings.Contains(page, `autocomplete="current-password"`) {
			t.Errorf("page for a person with a password:\n%s", page)
		}
		status, page := s.do(t, "POST", path, url.Values{"csrf_token": {token}, "password": {"a wrong guess"}})
		if status != http.StatusUnauthorized || !strings.Contains(page, "not the password") {
			t.Errorf("wrong password: %d", status)
		}
		if status, _ := s.do(t, "POST", path, url.Values{"csrf_token": {token}, "password": {"the password pat has"}}); status != 200 {
			t.Errorf("right password: %d", status)
		}
	})
}

func TestDeadLinksSayWhatToDo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		now := time.Now().UTC()
		s := newSite(t, st, &now)
		path := s.invite(t, "acme", "late@acme.example")
		now = now.Add(8 * 24 * time.Hour)
		status, page := s.do(t, "GET", path, nil)
		if status != http.StatusGone || !strings.Contains(page, "has expired") || !strings.Contains(page, "send it again") {
			t.Errorf("expired: %d\n%s", status, page)
		}
		status, page = s.do(t, "GET", "/invite/not-a-real-token", nil)
		if status != http.StatusNotFound || !strings.Contains(page, "not valid") {
			t.Errorf("unknown token: %d\n%s", status, page)
		}
	})
}

// TestAcceptingWhereSSOIsRequiredDoesNotSignIn: an account that requires
// its single sign-on for the person's domain gets the membership accepted,
// but the password chosen on the page opens nothing there: no session, and
// the page says where to sign in.
func TestAcceptingWhereSSOIsRequiredDoesNotSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		s := newSite(t, st, &now)
		bee, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "bee", Name: "Bee", Domains: []string{"b.example"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.CreateConnection(ctx, bee.ID, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "okta", Metadata: "<md/>"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Invite(ctx, bee.ID, operator, directory.NewInvitation{Email: "nia@b.example"}); err != nil {
			t.Fatal(err)
		}
		path := s.mailedInvitation(t)
		_, token := s.form(t, path)
		status, page := s.do(t, "POST", path, url.Values{"csrf_token": {token}, "first_name": {"Nia"}, "last_name": {"Ng"}, "password": {"violet staple orbit lantern"}, "confirm": {"violet staple orbit lantern"}})
		if status != 200 || !strings.Contains(page, "single sign-on") || strings.Contains(page, "you are signed in") {
			t.Errorf("accepting: %d\n%s", status, page)
		}
		u, _ := url.Parse(s.server.URL)
		for _, c := range s.client.Jar.Cookies(u) {
			if c.Name == "admit_session" {
				t.Errorf("a session cookie was set: %v", c)
			}
		}
		if m, err := s.svc.Member(ctx, bee.ID, "nia@b.example"); err != nil || m.Membership.Status != directory.StatusActive {
			t.Errorf("membership after accepting: %+v, %v", m.Membership, err)
		}
	})
}
