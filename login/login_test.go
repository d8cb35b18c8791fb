package login_test

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
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/login"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI}

// realms is home realm discovery for the test, by the email's domain: one
// domain whose account requires SSO, one that offers it beside passwords,
// and one that requires it but keeps a break-glass password for owners.
// (cmd/admit's tests run the real one, backed by the directory.)
type realms struct{}

var ssoDomains = map[string]login.SSOOption{
	"sso.example":    {AccountName: "SSO Co", URL: "/sso/sso-co/login", Required: true},
	"choice.example": {AccountName: "Choice Co", URL: "/sso/choice-co/login"},
	"glass.example":  {AccountName: "Glass Co", URL: "/sso/glass-co/login", Required: true, OwnersMayUsePassword: true},
}

func (realms) SSOFor(_ context.Context, email string) (login.SSOOption, bool, error) {
	_, domain, _ := strings.Cut(email, "@")
	opt, ok := ssoDomains[strings.ToLower(domain)]
	return opt, ok, nil
}

type site struct {
	apart  *sync.WaitGroup // the work after answers (login.Config.Apart)
	svc    *directory.Service
	server *httptest.Server
}

func newSite(t *testing.T, s *store.Store) *site {
	t.Helper()
	svc := directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
	pages, err := web.NewRenderer(web.Config{Key: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	apart := &sync.WaitGroup{}
	h, err := login.New(login.Config{Directory: svc, Pages: pages, Realms: realms{}, Logger: slog.New(slog.DiscardHandler), Apart: apart})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(web.RequestID(mux))
	t.Cleanup(srv.Close)
	return &site{svc: svc, server: srv, apart: apart}
}

// person is one browser.
type person struct {
	t      *testing.T
	site   *site
	client *http.Client
	last   string // the last page's body
}

func (s *site) browser(t *testing.T) *person {
	jar, _ := cookiejar.New(nil)
	return &person{t: t, site: s, client: &http.Client{Jar: jar}}
}

var csrfToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// get fetches a page, following redirects; it returns the status and the final path.
func (p *person) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.client.Get(p.site.server.URL + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.last = string(b)
	return resp.StatusCode, resp.Request.URL.RequestURI()
}

// post submits a form with the CSRF token of the last page.
func (p *person) post(path string, form url.Values) (int, string) {
	p.t.Helper()
	if m := csrfToken.FindStringSubmatch(p.last); m != nil && form.Get("csrf_token") == "" {
		form.Set("csrf_token", m[1])
	}
	resp, err := p.client.PostForm(p.site.server.URL+path, form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p.last = string(b)
	return resp.StatusCode, resp.Request.URL.RequestURI()
}

func (s *site) account(t *testing.T, slug string) directory.Account {
	t.Helper()
	a, err := s.svc.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:]})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (s *site) add(t *testing.T, a directory.Account, email, password string) {
	t.Helper()
	if _, err := s.svc.AddUser(context.Background(), a.ID, operator, directory.NewUser{Email: email, FirstName: "Pat", LastName: "Q", Password: password}); err != nil {
		t.Fatal(err)
	}
}

// mailedResetPath is the path of the one reset link the outbox holds.
func (s *site) mailedResetPath(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	// The reset page answers before it writes the link (so that its
	// timing tells nothing): the mail comes a moment after the answer.
	var msgs []directory.MailMessage
	var err error
	for deadline := time.Now().Add(10 * time.Second); len(msgs) == 0 && err == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		msgs, err = s.svc.ClaimMail(ctx, 10)
	}
	if err != nil || len(msgs) != 1 {
		t.Fatalf("reset emails: %d, %v; want one", len(msgs), err)
	}
	body, err := s.svc.MailBodyOf(ctx, msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	return "/password/reset/" + body.Token
}

func TestForcedChangeThenHome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		if _, path := p.get("/me"); !strings.HasPrefix(path, "/login?return_to=%2Fme") {
			t.Fatalf("signed out /me landed on %s; want /login with return_to", path)
		}
		status, path := p.post("/login", url.Values{"email": {"Pat@Acme.example"}, "password": {"initial password given"}, "return_to": {"/me"}})
		if status != 200 || path != "/password/change" || !strings.Contains(p.last, "Choose your own password") {
			t.Fatalf("after sign-in with an initial password: %d %s", status, path)
		}
		// Nothing else is reachable until the password is changed.
		if _, path := p.get("/me"); path != "/password/change" {
			t.Errorf("/me before the change landed on %s", path)
		}
		p.get("/password/change")
		status, _ = p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase!"}})
		if status != 400 || !strings.Contains(p.last, "not the same") {
			t.Errorf("mismatched confirmation: %d", status)
		}
		status, path = p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}})
		if status != 200 || path != "/me?changed=password" || !strings.Contains(p.last, "Hello, Pat") || !strings.Contains(p.last, "password has been changed") {
			t.Fatalf("after the change: %d %s", status, path)
		}
		status, _ = p.post("/me", url.Values{"first_name": {"Patricia"}, "last_name": {"Q"}})
		if status != 200 || !strings.Contains(p.last, "Hello, Patricia") {
			t.Errorf("rename: %d", status)
		}
		p.post("/logout", url.Values{})
		if _, path := p.get("/me"); !strings.HasPrefix(path, "/login") {
			t.Errorf("after signing out /me landed on %s", path)
		}
	})
}

// TestHomeLinksToConsole: an owner or admin finds the console from /me,
// where a sign-in lands and where the console's "Your home" leads; a
// member is offered no link to a console they may not open.
func TestHomeLinksToConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		for _, c := range []struct {
			email string
			role  directory.Role
			link  bool
		}{
			{"ada@acme.example", directory.RoleAdmin, true},
			{"mo@acme.example", directory.RoleMember, false},
		} {
			if _, err := s.svc.AddUser(context.Background(), a.ID, operator, directory.NewUser{Email: c.email, FirstName: "Pat", LastName: "Q", Password: "initial password given", Role: c.role}); err != nil {
				t.Fatal(err)
			}
			p := s.browser(t)
			p.get("/login")
			p.post("/login", url.Values{"email": {c.email}, "password": {"initial password given"}})
			if _, path := p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}}); path != "/me?changed=password" {
				t.Fatalf("%s: after the change landed on %s", c.email, path)
			}
			if got := strings.Contains(p.last, `<a href="/admin/acme" id="console-link">`); got != c.link {
				t.Errorf("%s (%s): link to the console %v; want %v", c.email, c.role, got, c.link)
			}
		}
	})
}

func TestAccountPickerAndSwitch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		alpha, beta := s.account(t, "alpha"), s.account(t, "beta")
		s.add(t, alpha, "pat@example.com", "one password for all")
		s.add(t, beta, "pat@example.com", "")
		p := s.browser(t)
		p.get("/login")
		// The initial password is changed first. alpha's admin set it, so
		// until Pat proves the address it opens alpha only: no picker.
		p.post("/login", url.Values{"email": {"pat@example.com"}, "password": {"one password for all"}})
		if _, path := p.post("/password/change", url.Values{"current": {"one password for all"}, "password": {"one new password for all"}, "confirm": {"one new password for all"}}); path != "/me?changed=password" {
			t.Errorf("after the forced change landed on %s; want /me (one account open to this password)", path)
		}
		p.post("/logout", url.Values{})
		// A reset by email proves the address; then the picker shows.
		p.get("/password/reset")
		p.post("/password/reset", url.Values{"email": {"pat@example.com"}})
		reset := s.mailedResetPath(t)
		p.get(reset)
		p.post(reset, url.Values{"password": {"one new password for all"}, "confirm": {"one new password for all"}})
		p.get("/login")
		_, path := p.post("/login", url.Values{"email": {"pat@example.com"}, "password": {"one new password for all"}})
		if !strings.HasPrefix(path, "/login/account") || !strings.Contains(p.last, "Alpha") || !strings.Contains(p.last, "Beta") {
			t.Fatalf("several accounts landed on %s", path)
		}
		beatForm := regexp.MustCompile(`name="account" value="` + beta.ID + `"`)
		if !beatForm.MatchString(p.last) {
			t.Fatal("no button for beta")
		}
		_, path = p.post("/login/account", url.Values{"account": {beta.ID}, "return_to": {"https://evil.example/"}})
		if path != "/me" || !strings.Contains(p.last, `<strong id="current-account">Beta</strong>`) {
			t.Fatalf("after choosing beta: %s", path)
		}
		// The choice is remembered: the next sign-in opens beta at once.
		p.post("/logout", url.Values{})
		p.get("/login")
		_, path = p.post("/login", url.Values{"email": {"pat@example.com"}, "password": {"one new password for all"}})
		if path != "/me" || !strings.Contains(p.last, `id="current-account">Beta<`) {
			t.Errorf("second sign-in landed on %s", path)
		}
		// Switching is one click from the home page.
		_, path = p.post("/login/account", url.Values{"account": {alpha.ID}})
		if path != "/me" || !strings.Contains(p.last, `id="current-account">Alpha<`) {
			t.Errorf("switch landed on %s", path)
		}
		other := s.account(t, "other")
		if status, _ := p.post("/login/account", url.Values{"account": {other.ID}}); status != http.StatusForbidden {
			t.Errorf("switch to a stranger's account: %d; want 403", status)
		}
	})
}

func TestSignInRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		p.get("/login")
		wrongStatus, _ := p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"wrong"}})
		wrong := normalize(p.last, "pat@acme.example")
		unknownStatus, _ := p.post("/login", url.Values{"email": {"nobody@acme.example"}, "password": {"wrong"}})
		unknown := normalize(p.last, "nobody@acme.example")
		if wrongStatus != 401 || unknownStatus != 401 || wrong != unknown {
			t.Errorf("wrong password %d and unknown email %d answer differently", wrongStatus, unknownStatus)
		}
		if status, _ := p.post("/login", url.Values{"csrf_token": {"forged"}, "email": {"pat@acme.example"}, "password": {"initial password given"}}); status != http.StatusForbidden {
			t.Errorf("forged CSRF token: %d; want 403", status)
		}
		p.get("/login")
		for range 4 {
			p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"wrong"}})
		}
		status, _ := p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}})
		if status != http.StatusTooManyRequests || !strings.Contains(p.last, "Try again in 15 minutes") {
			t.Errorf("after 5 failures: %d; want 429 saying when to try again", status)
		}
		// Home realm discovery: an SSO domain goes to its SSO, not the password form.
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Jar: p.client.Jar}).PostForm(
			s.server.URL+"/login", url.Values{"csrf_token": {csrfToken.FindStringSubmatch(p.last)[1]}, "email": {"x@sso.example"}, "password": {""}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `href="/sso/sso-co/login`) || strings.Contains(string(page), `type="password"`) {
			t.Errorf("SSO domain: %d; want the page offering its SSO alone\n%s", resp.StatusCode, page)
		}
		// Where the person was going goes with them: an app's sign-in step.
		resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Jar: p.client.Jar}).PostForm(
			s.server.URL+"/login", url.Values{"csrf_token": {csrfToken.FindStringSubmatch(p.last)[1]}, "email": {"x@sso.example"}, "password": {""},
				"return_to": {"/oauth/authorize/continue?id=v1.abc"}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := `href="/sso/sso-co/login?return_to=%2Foauth%2Fauthorize%2Fcontinue%3Fid%3Dv1.abc"`; !strings.Contains(string(page), want) {
			t.Errorf("SSO domain with return_to: the page lacks %s\n%s", want, page)
		}
	})
}

// normalize is a page without what differs between two answers to the
// same question: the CSRF token, the CSP nonce and the email it echoes
// (also where a link carries it).
func normalize(body, email string) string {
	body = csrfToken.ReplaceAllString(body, "")
	body = regexp.MustCompile(`nonce-[^']+|nonce="[^"]+"`).ReplaceAllString(body, "")
	body = strings.ReplaceAll(body, url.QueryEscape(email), "EMAIL")
	return strings.ReplaceAll(body, email, "EMAIL")
}

func TestDeactivationEndsTheSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		p.get("/login")
		p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}})
		if _, path := p.get("/password/change"); path != "/password/change" {
			t.Fatalf("signed in page landed on %s", path)
		}
		if _, err := s.svc.Deactivate(context.Background(), a.ID, operator, "pat@acme.example"); err != nil {
			t.Fatal(err)
		}
		if _, path := p.get("/password/change"); !strings.HasPrefix(path, "/login") {
			t.Errorf("after deactivation landed on %s; want /login", path)
		}
	})
}

func TestReturnToStaysOnThisSite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		p.get("/login")
		p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}})
		p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}})
		for _, rt := range []string{"https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/me?tab=1"} {
			_, path := p.get("/login?return_to=" + url.QueryEscape(rt))
			want := "/me"
			if rt == "/me?tab=1" {
				want = rt
			}
			if path != want {
				t.Errorf("return_to %q landed on %s; want %s", rt, path, want)
			}
		}
	})
}

func TestPasswordResetPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		p.get("/password/reset")
		known, _ := p.post("/password/reset", url.Values{"email": {"pat@acme.example"}})
		knownBody := strings.ReplaceAll(csrfToken.ReplaceAllString(p.last, ""), "pat@acme.example", "EMAIL")
		p.get("/password/reset")
		unknown, _ := p.post("/password/reset", url.Values{"email": {"ghost@acme.example"}})
		unknownBody := strings.ReplaceAll(csrfToken.ReplaceAllString(p.last, ""), "ghost@acme.example", "EMAIL")
		nonce := regexp.MustCompile(`nonce-[^']+|nonce="[^"]+"`)
		if known != 200 || unknown != 200 || nonce.ReplaceAllString(knownBody, "") != nonce.ReplaceAllString(unknownBody, "") {
			t.Errorf("known %d and unknown %d emails answer differently", known, unknown)
		}
		path := s.mailedResetPath(t) // the known address's: unknown ones get none
		if status, _ := p.get(path); status != 200 || !strings.Contains(p.last, "Choose a new password") {
			t.Fatalf("reset page: %d", status)
		}
		if status, _ := p.post(path, url.Values{"password": {"a fresh secret phrase"}, "confirm": {"a fresh secret phrase"}}); status != 200 || !strings.Contains(p.last, "Your new password is saved") {
			t.Fatalf("after the reset: %d", status)
		}
		if status, _ := p.get(path); status != http.StatusGone {
			t.Errorf("the used link: %d; want 410", status)
		}
		p.get("/login")
		if _, path := p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"a fresh secret phrase"}}); path != "/me" {
			t.Errorf("sign-in with the new password landed on %s; want /me (a chosen password need not change)", path)
		}
	})
}

// cookieOf returns the value of the browser's cookie of that name, or "".
func (p *person) cookieOf(name string) string {
	u, _ := url.Parse(p.site.server.URL)
	for _, c := range p.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// withCookie gives the browser a cookie, as a person editing it would.
func (p *person) withCookie(name, value string) *person {
	u, _ := url.Parse(p.site.server.URL)
	p.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	return p
}

// signIn posts the sign-in form from a fresh form page and returns the status.
func (p *person) signIn(email, password string) int {
	p.t.Helper()
	p.get("/login")
	status, _ := p.post("/login", url.Values{"email": {email}, "password": {password}})
	return status
}

func TestDeviceCookieOutlastsAStrangersLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		const email, right = "pat@acme.example", "initial password given"
		s.add(t, a, email, right)
		s.add(t, a, "sam@acme.example", "sams own password")

		owner := s.browser(t)
		if status := owner.signIn(email, right); status != http.StatusOK {
			t.Fatalf("owner's first sign-in: %d", status)
		}
		device := owner.cookieOf("admit_device")
		if device == "" {
			t.Fatal("no device cookie after a successful sign-in")
		}
		owner.get("/logout")
		owner.post("/logout", url.Values{})
		if owner.cookieOf("admit_device") != device {
			t.Fatal("signing out removed the device cookie")
		}
		sams := s.browser(t)
		sams.signIn("sam@acme.example", "sams own password")

		stranger := s.browser(t)
		for range 5 {
			if status := stranger.signIn(email, "a guess"); status != http.StatusUnauthorized {
				t.Fatalf("stranger's guess: %d", status)
			}
		}
		altered := []byte(device)
		altered[len(altered)-2] ^= 1
		for _, tc := range []struct {
			name    string
			browser *person
			want    int
		}{
			{"a browser without a device cookie", s.browser(t), http.StatusTooManyRequests},
			{"the stranger's browser", stranger, http.StatusTooManyRequests},
			{"a browser with another person's device cookie", sams, http.StatusTooManyRequests},
			{"a browser with an altered device cookie", s.browser(t).withCookie("admit_device", string(altered)), http.StatusTooManyRequests},
			{"a browser with a made-up device cookie", s.browser(t).withCookie("admit_device", "AAAA.BBBB"), http.StatusTooManyRequests},
			{"the owner's browser", owner, http.StatusOK},
		} {
			if status := tc.browser.signIn(email, right); status != tc.want {
				t.Errorf("%s, right password: %d; want %d", tc.name, status, tc.want)
			}
		}
		// The owner's sign-in leaves the stranger's count alone.
		if status := s.browser(t).signIn(email, right); status != http.StatusTooManyRequests {
			t.Errorf("a fresh browser after the owner signed in: %d; want still 429", status)
		}
		// The owner's own failures lock their device after 5.
		owner.get("/logout")
		owner.post("/logout", url.Values{})
		for range 5 {
			if status := owner.signIn(email, "my own typo"); status != http.StatusUnauthorized {
				t.Fatalf("owner's typo: %d", status)
			}
		}
		if status := owner.signIn(email, right); status != http.StatusTooManyRequests || !strings.Contains(owner.last, "Try again in 15 minutes") {
			t.Errorf("owner after 5 failures on the device: %d; want 429", status)
		}
	})
}

func TestResetLinkEndsWhenThePasswordIsChanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		p := s.browser(t)
		p.get("/password/reset")
		p.post("/password/reset", url.Values{"email": {"pat@acme.example"}})
		link := s.mailedResetPath(t)
		// The person remembers their password after all and changes it.
		p.signIn("pat@acme.example", "initial password given")
		if _, path := p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}}); path != "/me?changed=password" {
			t.Fatalf("password change landed on %s", path)
		}
		status, _ := p.get(link)
		if status != http.StatusGone || !strings.Contains(p.last, "This password reset link no longer works: your password was changed after it was sent.") {
			t.Errorf("the link after the change: %d; want 410 saying the password changed", status)
		}
		p.get("/password/reset") // a page with a form, for the CSRF token
		if status, _ := p.post(link, url.Values{"password": {"an attacker's choice"}, "confirm": {"an attacker's choice"}}); status != http.StatusGone {
			t.Errorf("posting to the link after the change: %d; want 410", status)
		}
	})
}

// TestForcedChangeGoesOn: a sign-in on its way somewhere (an app's sign-in
// step, a hand-off) that must first change a password someone else set
// goes on there afterwards, as the chooser of several accounts does; a
// return_to off this site, given to the password change page, lands on
// the home page instead.
func TestForcedChangeGoesOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		const onward = "/oauth/authorize/continue?id=v1.abc"
		p := s.browser(t)
		p.get("/login")
		status, path := p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}, "return_to": {onward}})
		if want := "/password/change?return_to=" + url.QueryEscape(onward); status != 200 || path != want {
			t.Fatalf("after sign-in with an initial password on the way to %s: %d %s; want %s", onward, status, path, want)
		}
		// A mistake keeps where the person is going.
		p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"not the same"},
			"return_to": {onward}})
		if !strings.Contains(p.last, `name="return_to" value="/oauth/authorize/continue?id=v1.abc"`) {
			t.Errorf("the form after a mistake lost return_to:\n%s", p.last)
		}
		status, path = p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"},
			"return_to": {onward}})
		if status != http.StatusNotFound || path != onward {
			t.Errorf("after the change: %d %s; want on to %s (404 here: no provider in this test)", status, path, onward)
		}

		for _, rt := range []string{"https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
			p.get("/password/change?return_to=" + url.QueryEscape(rt))
			if strings.Contains(p.last, `name="return_to"`) {
				t.Errorf("the password change form carries return_to %q", rt)
			}
			_, path := p.post("/password/change", url.Values{"current": {"my own secret phrase"}, "password": {"another secret phrase " + rt}, "confirm": {"another secret phrase " + rt},
				"return_to": {rt}})
			p.post("/password/change", url.Values{"current": {"another secret phrase " + rt}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}})
			if path != "/me?changed=password" {
				t.Errorf("password change with return_to %q landed on %s; want /me?changed=password", rt, path)
			}
		}
	})
}

// TestSignOutEverywhere: "Sign out everywhere" on /me ends the person's
// sessions in every browser, this one too, and lands on the sign-in page
// saying so; without the form's CSRF token it does nothing.
func TestSignOutEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		s.add(t, a, "pat@acme.example", "initial password given")
		here, other := s.browser(t), s.browser(t)
		here.get("/login")
		here.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}})
		here.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}})
		other.get("/login")
		other.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"my own secret phrase"}})
		for name, p := range map[string]*person{"this browser": here, "the other": other} {
			if _, path := p.get("/me"); path != "/me" {
				t.Fatalf("%s before: landed on %s", name, path)
			}
		}
		if !strings.Contains(here.last, `action="/logout/everywhere"`) {
			t.Fatal("/me has no sign-out-everywhere form")
		}
		if status, _ := here.post("/logout/everywhere", url.Values{"csrf_token": {"forged"}}); status != http.StatusForbidden {
			t.Errorf("without the CSRF token: %d; want 403", status)
		}
		if _, path := other.get("/me"); path != "/me" {
			t.Fatalf("after a forged post the other browser landed on %s; want still signed in", path)
		}
		here.get("/me")
		status, path := here.post("/logout/everywhere", url.Values{})
		if status != http.StatusOK || path != "/login?signed_out=everywhere" || !strings.Contains(here.last, "You are signed out everywhere") {
			t.Errorf("signed out everywhere: %d at %s; want the sign-in page with a notice", status, path)
		}
		for name, p := range map[string]*person{"this browser": here, "the other": other} {
			if _, path := p.get("/me"); !strings.HasPrefix(path, "/login") {
				t.Errorf("%s afterwards landed on %s; want /login", name, path)
			}
		}
	})
}

// TestSignedOutPage: where a single logout at the identity provider lands
// (/logout?signed_out=1, and &idp=unconfirmed when the provider did not
// confirm) says "signed out" only to a browser that is: a link cannot
// tell someone signed in that they are not.
func TestSignedOutPage(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	s.add(t, s.account(t, "acme"), "pat@acme.example", "initial password given")
	p := s.browser(t)
	p.get("/login")
	p.post("/login", url.Values{"email": {"pat@acme.example"}, "password": {"initial password given"}})
	if _, path := p.get("/password/change"); path != "/password/change" {
		t.Fatalf("signed in page landed on %s", path)
	}
	if p.get("/logout?signed_out=1&idp=unconfirmed"); strings.Contains(p.last, "You are signed out") || !strings.Contains(p.last, `action="/logout"`) {
		t.Errorf("a signed-in browser at the signed-out page:\n%s", p.last)
	}
	if p.post("/logout", url.Values{}); !strings.Contains(p.last, "You are signed out") || strings.Contains(p.last, "did not confirm") {
		t.Errorf("signing out (no single logout):\n%s", p.last)
	}
	if p.get("/logout?signed_out=1"); !strings.Contains(p.last, "You are signed out") || strings.Contains(p.last, "did not confirm") {
		t.Errorf("the signed-out page:\n%s", p.last)
	}
	if p.get("/logout?signed_out=1&idp=unconfirmed"); !strings.Contains(p.last, "You are signed out") || !strings.Contains(p.last, "did not confirm") {
		t.Errorf("the signed-out page, the IdP not confirming:\n%s", p.last)
	}
}
