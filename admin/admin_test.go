package admin_test

import (
	"bytes"
	"context"
	"fmt"
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

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/directory/dnstest"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/login"
	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI}

type site struct {
	svc    *directory.Service
	server *httptest.Server
}

// newSite serves the console beside the sign-in pages (the account switch
// is theirs), as cmd/admit mounts them.
func newSite(t *testing.T, s *store.Store) *site {
	t.Helper()
	svc := directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
	pages, err := web.NewRenderer(web.Config{Key: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	signIn, err := login.New(login.Config{Directory: svc, Pages: pages, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	signIn.Register(mux)
	renderer, err := mail.NewRenderer("https://admit.example", "admit@admit.example")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := certs.NewSealer(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	// Test events go out through a worker whose clients look names up in
	// a DNS server of the test's, where no webhook host has an address.
	clients := fetch.New(fetch.Config{Resolver: dnstest.Start(t).Resolver()})
	sender := events.NewWorker(events.Config{Directory: svc, Client: clients, PublicClient: clients, Secrets: sealer, TestTimeout: 50 * time.Millisecond})
	console, err := admin.New(admin.Config{Directory: svc, Pages: pages, SSO: ssoSetup(t, svc), Mail: renderer, SignIn: signIn, Secrets: events.Secrets{Sealer: sealer}, Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	console.Register(mux)
	srv := httptest.NewServer(web.RequestID(mux))
	t.Cleanup(srv.Close)
	return &site{svc: svc, server: srv}
}

func (s *site) account(t *testing.T, slug string) directory.Account {
	t.Helper()
	a, err := s.svc.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:]})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// add adds a person with a role and returns their membership.
func (s *site) add(t *testing.T, a directory.Account, email string, role directory.Role) directory.Member {
	t.Helper()
	added, err := s.svc.AddUser(context.Background(), a.ID, operator, directory.NewUser{Email: email, FirstName: "Pat", LastName: "Q", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return added.Member
}

// person is one browser.
type person struct {
	t      *testing.T
	site   *site
	client *http.Client
	last   string
}

// signIn opens a session for the member in the account, as a password
// sign-in would, and gives the browser its cookie.
func (s *site) signIn(t *testing.T, m directory.Member, a directory.Account) *person {
	t.Helper()
	token, _, err := s.svc.StartSession(context.Background(), m.User.ID, a.ID, directory.ByPassword)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(s.server.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie{}.Name(), Value: token, Path: "/"}})
	return &person{t: t, site: s, client: &http.Client{Jar: jar}}
}

func (s *site) anonymous(t *testing.T) *person {
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

// post submits a form with the CSRF token of the last page (a fresh one
// from /login when the last page had none).
func (p *person) post(path string, form url.Values) (int, string) {
	p.t.Helper()
	if form.Get("csrf_token") == "" {
		m := csrfToken.FindStringSubmatch(p.last)
		if m == nil {
			p.get("/login")
			m = csrfToken.FindStringSubmatch(p.last)
		}
		if m != nil {
			form.Set("csrf_token", m[1])
		}
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

func (p *person) sees(want ...string) {
	p.t.Helper()
	for _, w := range want {
		if !strings.Contains(p.last, w) {
			p.t.Errorf("the page does not say %q:\n%s", w, p.last)
		}
	}
}

// events returns the account's audit events with the action, newest first:
// none when the trail never recorded it (which AuditTrail refuses).
func (s *site) events(t *testing.T, a directory.Account, action string) []directory.AuditEvent {
	t.Helper()
	ev, err := s.svc.AuditTrail(context.Background(), a.ID, "", action, time.Time{}, 100)
	if directory.KindOf(err) == directory.Invalid {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestConsolePages goes through every page and action of the console as an
// owner, and checks that each change is audited with the owner as actor.
func TestConsolePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		p := s.signIn(t, owner, a)

		if code, path := p.get("/admin/acme"); code != 200 || path != "/admin/acme" {
			t.Fatalf("/admin/acme: %d at %s", code, path)
		}
		p.sees("Users", "olive@acme.example", "1 person")

		// Add user, three ways, and a mistake.
		if code, _ := p.get("/admin/acme/users/new"); code != 200 {
			t.Fatalf("add form: %d", code)
		}
		code, _ := p.post("/admin/acme/users/new", url.Values{"email": {"not an address"}, "first_name": {"Nia"}, "last_name": {"Ng"}, "role": {"member"}, "how": {"password"}, "password": {"x"}})
		if code != http.StatusBadRequest {
			t.Errorf("a bad address: %d; want 400", code)
		}
		p.sees("is not an email address", `value="Nia"`)
		if strings.Contains(p.last, `value="x"`) {
			t.Error("the form shows the typed password again")
		}
		code, path := p.post("/admin/acme/users/new", url.Values{"email": {"nia@acme.example"}, "first_name": {"Nia"}, "last_name": {"Ng"}, "role": {"member"}, "how": {"password"}, "password": {"initial password given"}})
		if code != 200 || !strings.Contains(path, "done=added") {
			t.Fatalf("add with a password: %d at %s\n%s", code, path, p.last)
		}
		p.sees("nia@acme.example is added with the initial password you typed", "must change it at their first sign-in", "Added by an admin")
		nia, err := s.svc.Member(ctx, a.ID, "nia@acme.example")
		if err != nil || !nia.User.HasPassword() || !nia.User.PasswordMustChange {
			t.Errorf("Nia: %+v, %v; want an initial password to change", nia.User, err)
		}
		if code, _ := p.post("/admin/acme/users/new", url.Values{"email": {" sam@acme.example"}, "first_name": {"Sam"}, "last_name": {"Ode"}, "role": {"admin"}, "how": {"sso"}}); code != 200 {
			t.Errorf("add for SSO: %d", code)
		}
		if code, _ := p.post("/admin/acme/users/new", url.Values{"email": {"  ivy@ACME.example "}, "first_name": {"Ivy"}, "last_name": {"Ro"}, "role": {"member"}, "how": {"invite"}}); code != 200 {
			t.Errorf("add with an invitation: %d", code)
		}
		p.sees("An invitation email is on its way to ivy@acme.example", "Invited")
		code, _ = p.post("/admin/acme/users/new", url.Values{"email": {"nia@acme.example"}, "first_name": {"Nia"}, "last_name": {"Ng"}, "role": {"member"}, "how": {"sso"}})
		if code != http.StatusConflict {
			t.Errorf("adding Nia twice: %d; want 409", code)
		}
		p.sees("already a member")

		// Invite.
		if code, _ := p.get("/admin/acme/invite"); code != 200 {
			t.Fatalf("invite form: %d", code)
		}
		code, path = p.post("/admin/acme/invite", url.Values{"email": {"joe@acme.example"}, "role": {"member"}})
		if code != 200 || !strings.Contains(path, "done=invited") {
			t.Fatalf("invite: %d at %s", code, path)
		}
		joe, err := s.svc.Member(ctx, a.ID, "joe@acme.example")
		if err != nil || joe.Membership.Status != directory.StatusInvited {
			t.Fatalf("Joe: %+v, %v", joe.Membership, err)
		}
		invs, _ := s.svc.Invitations(ctx, a.ID)
		if len(invs) == 0 || invs[0].InviterID != owner.User.ID {
			t.Errorf("the invitation's inviter: %+v; want the owner", invs)
		}

		// The Users page: search, filters, and the resend count.
		for _, tc := range []struct {
			query string
			want  []string
			not   []string
		}{
			{"", []string{"5 people", "ivy@", "joe@", "nia@", "olive@", "sam@"}, nil},
			{"?q=ni", []string{"1 person match", "nia@"}, []string{"joe@"}},
			{"?q=ode", []string{"sam@"}, []string{"nia@"}},
			{"?status=invited", []string{"2 people match", "ivy@", "joe@"}, []string{"nia@"}},
			{"?source=invitation", []string{"ivy@", "joe@"}, []string{"sam@"}},
			{"?source=admin&status=active", []string{"nia@", "olive@", "sam@"}, []string{"joe@"}},
			{"?never=1", []string{"4 people match"}, []string{"olive@"}},
		} {
			if code, _ := p.get("/admin/acme/users" + tc.query); code != 200 {
				t.Errorf("users%s: %d", tc.query, code)
			}
			p.sees(tc.want...)
			for _, n := range tc.not {
				if strings.Contains(p.last, n) {
					t.Errorf("users%s lists %s", tc.query, n)
				}
			}
		}
		if code, _ := p.get("/admin/acme/users?status=gone"); code != http.StatusBadRequest {
			t.Errorf("an unknown status: %d; want 400", code)
		}
		p.sees("there is no status")
		if code, _ := p.get("/admin/acme/users?after=zz!"); code != http.StatusBadRequest {
			t.Errorf("a broken cursor: %d; want 400", code)
		}

		// A person: change role, deactivate, reactivate, reset link.
		niaPage := "/admin/acme/users/" + nia.Membership.ID
		if code, _ := p.get(niaPage); code != 200 {
			t.Fatalf("Nia's page: %d", code)
		}
		p.sees("nia@acme.example", "member", "membership.created", "never")
		if code, _ := p.post(niaPage+"/role", url.Values{"role": {"admin"}}); code != 200 {
			t.Errorf("change role: %d", code)
		}
		p.sees("Their role is now admin.", `<dd id="role">admin</dd>`, "membership.role_changed")
		if code, _ := p.post(niaPage+"/role", url.Values{"role": {"admin"}}); code != 200 {
			t.Errorf("save the same role: %d", code)
		}
		p.sees("Nothing changed: their role was already admin.")
		if code, _ := p.post(niaPage+"/role", url.Values{"role": {"wizard"}}); code != http.StatusBadRequest {
			t.Errorf("an unknown role: %d; want 400", code)
		}
		p.get(niaPage)
		if code, _ := p.post(niaPage+"/deactivate", url.Values{}); code != 200 {
			t.Errorf("deactivate: %d", code)
		}
		p.sees("Deactivated")
		if code, _ := p.post(niaPage+"/reset", url.Values{}); code != http.StatusConflict {
			t.Errorf("a reset link for a deactivated member: %d; want 409", code)
		}
		p.get(niaPage)
		if code, _ := p.post(niaPage+"/reactivate", url.Values{}); code != 200 {
			t.Errorf("reactivate: %d", code)
		}
		p.get(niaPage)
		if code, _ := p.post(niaPage+"/reset", url.Values{}); code != 200 {
			t.Errorf("reset link: %d", code)
		}
		p.sees("A password reset link is on its way")
		if code, _ := p.post(niaPage+"/frobnicate", url.Values{}); code != http.StatusNotFound {
			t.Errorf("an unknown action: %d; want 404", code)
		}

		// Joe: resend, then remove.
		joePage := "/admin/acme/users/" + joe.Membership.ID
		p.get(joePage)
		// The invitation's events are his trail until he accepts.
		p.sees("invitation.created")
		if code, _ := p.post(joePage+"/resend", url.Values{}); code != 200 {
			t.Errorf("resend: %d", code)
		}
		p.sees("sent again")
		if code, path := p.post(joePage+"/remove", url.Values{}); code != 200 || !strings.Contains(path, "done=removed") {
			t.Errorf("remove: %d at %s", code, path)
		}
		p.sees("joe@acme.example has been removed from this account.")
		// The notice names only whom the audit trail says was removed.
		p.get("/admin/acme/users?done=removed&email=olive%40acme.example")
		p.sees("The person has been removed from this account.")
		if _, err := s.svc.Member(ctx, a.ID, "joe@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("Joe after removal: %v", err)
		}
		if invs, _ := s.svc.Invitations(ctx, a.ID); invs[0].Status != directory.InvitationRevoked {
			t.Errorf("Joe's invitation after removal: %s; want revoked", invs[0].Status)
		}

		// Bulk: deactivate Sam and Ivy, who is only invited and is left
		// (her invitation is revoked instead); a second selection with the
		// owner herself is refused for her alone.
		sam, _ := s.svc.Member(ctx, a.ID, "sam@acme.example")
		ivy, _ := s.svc.Member(ctx, a.ID, "ivy@acme.example")
		p.get("/admin/acme/users")
		if code, _ := p.post("/admin/acme/users/bulk", url.Values{"action": {"deactivate"}, "id": {sam.Membership.ID, ivy.Membership.ID}}); code != 200 {
			t.Errorf("bulk deactivate: %d", code)
		}
		p.sees("Done for 1 person:", `<ul id="done-list"><li>sam@acme.example</li></ul>`, "ivy@acme.example has not accepted their invitation")
		p.get("/admin/acme/users")
		if code, _ := p.post("/admin/acme/users/bulk", url.Values{"action": {"reactivate"}, "id": {sam.Membership.ID, ivy.Membership.ID, owner.Membership.ID}}); code != 200 {
			t.Errorf("bulk reactivate: %d", code)
		}
		p.sees("Done for 1 person", "You cannot do that to yourself", "ivy@acme.example is not deactivated")
		p.get("/admin/acme/users")
		if code, _ := p.post("/admin/acme/users/bulk", url.Values{"action": {"explode"}, "id": {sam.Membership.ID}}); code != http.StatusBadRequest {
			t.Errorf("an unknown bulk action: %d; want 400", code)
		}

		// A removal of the selected asks first, naming them, and removes
		// no one until it is confirmed.
		p.get("/admin/acme/users")
		if code, _ := p.post("/admin/acme/users/bulk", url.Values{"action": {"remove"}, "id": {sam.Membership.ID, ivy.Membership.ID}}); code != 200 {
			t.Errorf("bulk remove: %d", code)
		}
		p.sees("Remove 2 people from", "sam@acme.example", "ivy@acme.example", `id="confirm-remove"`, "cannot be undone")
		if _, err := s.svc.Member(ctx, a.ID, "sam@acme.example"); err != nil {
			t.Errorf("Sam before the removal is confirmed: %v", err)
		}
		if code, _ := p.post("/admin/acme/users/bulk", url.Values{"action": {"remove"}, "confirm": {"1"}, "id": {sam.Membership.ID}}); code != 200 {
			t.Errorf("bulk remove, confirmed: %d", code)
		}
		p.sees("Done for 1 person:", `<ul id="done-list"><li>sam@acme.example</li></ul>`)
		if _, err := s.svc.Member(ctx, a.ID, "sam@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("Sam after the confirmed removal: %v", err)
		}

		// Resend to everyone who never signed in: Ivy and the two invited
		// now.
		for _, e := range []string{"kim@acme.example", "lou@acme.example"} {
			if _, err := s.svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: e}); err != nil {
				t.Fatal(err)
			}
		}
		if code, _ := p.get("/admin/acme/users/resend"); code != 200 {
			t.Fatalf("resend confirmation: %d", code)
		}
		p.sees("3 invited people have never signed in")
		if code, _ := p.post("/admin/acme/users/resend", url.Values{}); code != 200 {
			t.Errorf("resend to everyone: %d", code)
		}
		p.sees("Done for 3 people")

		// The roles page.
		if code, _ := p.get("/admin/acme/roles"); code != 200 {
			t.Errorf("roles: %d", code)
		}
		p.sees("make someone an owner")

		// Every change above names the owner.
		for _, action := range []string{"user.created", "membership.created", "invitation.created", "membership.role_changed", "membership.deactivated",
			"membership.reactivated", "user.password_reset_sent", "invitation.resent", "membership.deleted"} {
			evs := s.events(t, a, action)
			found := false
			for _, e := range evs {
				if e.Actor.Source == directory.SourceAdmin {
					found = true
					if e.Actor.ID != owner.User.ID || e.Actor.Name != "olive@acme.example" {
						t.Errorf("%s by %+v; want the owner", action, e.Actor)
					}
				}
			}
			if !found {
				t.Errorf("no %s event by the console", action)
			}
		}
	})
}

// TestMenuForAdmins: every page the console's menu shows an admin opens
// for them; those whose changes are the owners' say so (found: Single
// sign-on answered 403 with a generic refusal).
func TestMenuForAdmins(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	a := s.account(t, "acme")
	p := s.signIn(t, s.add(t, a, "ada@acme.example", directory.RoleAdmin), a)
	if code, _ := p.get("/admin/acme/users"); code != 200 {
		t.Fatalf("users: %d", code)
	}
	nav := regexp.MustCompile(`(?s)<nav class="console".*?</nav>`).FindString(p.last)
	links := regexp.MustCompile(`href="(/admin/acme/[^"]*)"`).FindAllStringSubmatch(nav, -1)
	if len(links) < 12 {
		t.Fatalf("the menu has %d links:\n%s", len(links), nav)
	}
	ownersOnly := map[string]string{
		"/admin/acme/security": "Only the owners of this account change these settings.",
		"/admin/acme/sso":      "Only the owners of this account set up single sign-on",
		"/admin/acme/scim":     "Only the owners of this account create and revoke tokens.",
		"/admin/acme/domains":  "Only the owners of this account claim and verify domains.",
		"/admin/acme/webhooks": "Only the owners of this account see and manage its webhooks",
	}
	for _, l := range links {
		if l[1] == "/admin/acme/imports" {
			continue // package bulk's pages, mounted beside the console by cmd/admit (TestImportPagesAuthorise)
		}
		if code, _ := p.get(l[1]); code != 200 {
			t.Errorf("GET %s: %d, want 200:\n%s", l[1], code, p.last)
		}
		if want := ownersOnly[l[1]]; want != "" {
			p.sees(want)
		}
	}
}

// TestUsersPaging walks the Users table page by page.
func TestUsersPaging(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "aaa-owner@acme.example", directory.RoleOwner)
		storetest.SeedMembers(t, st, a.ID, "user", 120)
		p := s.signIn(t, owner, a)
		next := regexp.MustCompile(`href="([^"]+)" rel="next"`)
		seen := map[string]bool{}
		path := "/admin/acme/users"
		for pages := 0; path != ""; pages++ {
			if pages > 5 {
				t.Fatal("more pages than people")
			}
			if code, _ := p.get(path); code != 200 {
				t.Fatalf("%s: %d", path, code)
			}
			for _, m := range regexp.MustCompile(`>user\d{6}@seed\.example</a>`).FindAllString(p.last, -1) {
				if seen[m] {
					t.Errorf("%s listed twice", m)
				}
				seen[m] = true
			}
			path = ""
			if m := next.FindStringSubmatch(p.last); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		if len(seen) != 120 {
			t.Errorf("listed %d seeded people; want 120", len(seen))
		}
	})
}

// TestConsoleIsolation: an admin of A reaches nothing of B by any URL (404,
// as for what does not exist), a member gets 403 everywhere, the signed-out
// are sent to sign in.
func TestConsoleIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "bolt")
		adminA := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		memberA := s.add(t, a, "max@acme.example", directory.RoleMember)
		targetA := s.add(t, a, "tia@acme.example", directory.RoleMember)
		ownerB := s.add(t, b, "bob@bolt.example", directory.RoleOwner)
		targetB := s.add(t, b, "ben@bolt.example", directory.RoleMember)
		// Max is also in B, as a member: B's ids through A's path stay 404.
		shared, err := s.svc.AddUser(ctx, b.ID, operator, directory.NewUser{Email: "max@acme.example", FirstName: "Max", LastName: "M"})
		if err != nil {
			t.Fatal(err)
		}

		before, _ := s.svc.AuditEvents(ctx, b.ID, 100)
		pages := func(slug, id string) []string {
			return []string{"/admin/" + slug, "/admin/" + slug + "/users", "/admin/" + slug + "/users/new", "/admin/" + slug + "/invite",
				"/admin/" + slug + "/roles", "/admin/" + slug + "/users/resend", "/admin/" + slug + "/users/" + id, "/admin/" + slug + "/nothing"}
		}
		actions := func(slug, id string) []string {
			base := "/admin/" + slug + "/users/"
			return []string{base + id + "/role", base + id + "/deactivate", base + id + "/reactivate", base + id + "/remove", base + id + "/revoke", base + id + "/resend",
				base + id + "/reset", base + "bulk", base + "new", "/admin/" + slug + "/invite", base + "resend"}
		}
		type visit struct {
			who    *person
			method string
			path   string
			want   int
		}
		var cases []visit
		admin, member, anon := s.signIn(t, adminA, a), s.signIn(t, memberA, a), s.anonymous(t)
		for _, path := range pages("bolt", targetB.Membership.ID) {
			cases = append(cases, visit{admin, "GET", path, 404})
		}
		for _, path := range pages("nowhere", targetB.Membership.ID) {
			cases = append(cases, visit{admin, "GET", path, 404})
		}
		for _, path := range actions("bolt", targetB.Membership.ID) {
			cases = append(cases, visit{admin, "POST", path, 404})
		}
		// What an attacker might type: bytes no slug or id has, a NUL, a
		// very long id. 404 (or 400 for a search), never a 500.
		for _, path := range []string{"/admin/%ff/users", "/admin/%00", "/admin/acme/users/%ff", "/admin/acme/users/%00x", "/admin/acme/users/" + strings.Repeat("x", 5000)} {
			cases = append(cases, visit{admin, "GET", path, 404})
		}
		for _, path := range []string{"/admin/acme/users?q=%ff", "/admin/acme/users?q=%00", "/admin/acme/users?source=%ff", "/admin/acme/users?after=%ff"} {
			cases = append(cases, visit{admin, "GET", path, 400})
		}
		for _, id := range []string{targetB.Membership.ID, ownerB.Membership.ID, shared.Member.Membership.ID, "../" + targetB.Membership.ID} {
			cases = append(cases, visit{admin, "GET", "/admin/acme/users/" + id, 404})
			for _, path := range actions("acme", id)[:6] {
				cases = append(cases, visit{admin, "POST", path, 404})
			}
		}
		for _, path := range append(pages("acme", targetA.Membership.ID), pages("bolt", targetB.Membership.ID)[:6]...) {
			want := 403
			if strings.HasPrefix(path, "/admin/bolt") {
				want = 403 // Max is a member of B too: he knows it exists
			}
			cases = append(cases, visit{member, "GET", path, want})
		}
		for _, path := range actions("acme", targetA.Membership.ID) {
			cases = append(cases, visit{member, "POST", path, 403})
		}
		for _, path := range pages("acme", targetA.Membership.ID) {
			cases = append(cases, visit{anon, "GET", path, 200}) // the sign-in page, after the redirect
		}
		for _, c := range cases {
			var code int
			var at string
			if c.method == "GET" {
				code, at = c.who.get(c.path)
			} else {
				c.who.get("/login")
				code, at = c.who.post(c.path, url.Values{"role": {"owner"}, "action": {"remove"}, "id": {targetB.Membership.ID}, "email": {"x@bolt.example"}, "how": {"sso"}})
			}
			if code != c.want {
				t.Errorf("%s %s: %d; want %d", c.method, c.path, code, c.want)
			}
			if c.who == anon && !strings.HasPrefix(at, "/login?return_to=") {
				t.Errorf("signed out, %s landed on %s; want the sign-in page", c.path, at)
			}
		}
		// Nothing in B changed, and A's target is untouched.
		for _, m := range []directory.Member{targetB, ownerB} {
			got, err := s.svc.Member(ctx, b.ID, m.User.Email)
			if err != nil || got.Membership.Status != directory.StatusActive || got.Membership.Role != m.Membership.Role {
				t.Errorf("%s in B: %+v, %v", m.User.Email, got.Membership, err)
			}
		}
		if got, _ := s.svc.Member(ctx, a.ID, "tia@acme.example"); got.Membership.Status != directory.StatusActive {
			t.Errorf("Tia after a member's posts: %s", got.Membership.Status)
		}
		if evs, _ := s.svc.AuditEvents(ctx, b.ID, 100); len(evs) != len(before) {
			t.Errorf("B's audit trail has %d events; want the %d of its setup", len(evs), len(before))
		}
	})
}

// TestOwnerRules: owners answer only to owners, and nobody acts on themself.
func TestOwnerRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		adm := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		other := s.add(t, a, "max@acme.example", directory.RoleMember)
		p := s.signIn(t, adm, a)
		for _, tc := range []struct {
			name string
			path string
			form url.Values
			want int
		}{
			{"make an owner", "/admin/acme/users/" + other.Membership.ID + "/role", url.Values{"role": {"owner"}}, 403},
			{"demote an owner", "/admin/acme/users/" + owner.Membership.ID + "/role", url.Values{"role": {"member"}}, 403},
			{"deactivate an owner", "/admin/acme/users/" + owner.Membership.ID + "/deactivate", url.Values{}, 403},
			{"remove an owner", "/admin/acme/users/" + owner.Membership.ID + "/remove", url.Values{}, 403},
			{"reset an owner's password", "/admin/acme/users/" + owner.Membership.ID + "/reset", url.Values{}, 403},
			{"end an owner's sessions", "/admin/acme/users/" + owner.Membership.ID + "/end-sessions", url.Values{}, 403},
			{"deactivate themself", "/admin/acme/users/" + adm.Membership.ID + "/deactivate", url.Values{}, 403},
			{"raise themself", "/admin/acme/users/" + adm.Membership.ID + "/role", url.Values{"role": {"owner"}}, 403},
			{"add an owner", "/admin/acme/users/new", url.Values{"email": {"new@acme.example"}, "first_name": {"N"}, "last_name": {"O"}, "role": {"owner"}, "how": {"sso"}}, 403},
			{"invite an owner", "/admin/acme/invite", url.Values{"email": {"new@acme.example"}, "role": {"owner"}}, 403},
			{"make an admin", "/admin/acme/users/" + other.Membership.ID + "/role", url.Values{"role": {"admin"}}, 200},
		} {
			p.get("/admin/acme/users")
			if code, _ := p.post(tc.path, tc.form); code != tc.want {
				t.Errorf("an admin may %s: %d; want %d", tc.name, code, tc.want)
			}
		}
		// The admin's forms do not offer the owner role.
		p.get("/admin/acme/users/new")
		if strings.Contains(p.last, `<option value="owner"`) {
			t.Error("the Add user form offers an admin the owner role")
		}
		// An owner may do to an owner what an admin may not.
		o := s.signIn(t, owner, a)
		second := s.add(t, a, "oscar@acme.example", directory.RoleOwner)
		o.get("/admin/acme/users")
		if code, _ := o.post("/admin/acme/users/"+second.Membership.ID+"/deactivate", url.Values{}); code != 200 {
			t.Errorf("an owner deactivating an owner: %d", code)
		}
	})
}

// TestSwitchAccounts: a person who administers two accounts reaches the
// other's console by switching, as on /me.
func TestSwitchAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "bolt")
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		if _, err := s.svc.AddUser(context.Background(), b.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		p := s.signIn(t, ada, a)
		p.get("/admin/acme/users")
		p.sees("Other accounts you administer", "Switch to Bolt")
		if code, _ := p.get("/admin/bolt/users?status=active"); code != 200 {
			t.Fatalf("another account's console: %d", code)
		}
		p.sees("Switch to Bolt", `value="/admin/bolt/users?status=active"`)
		if code, _ := p.post("/admin/bolt/users/bulk", url.Values{"action": {"remove"}}); code != http.StatusForbidden {
			t.Errorf("a change in the other account before switching: %d; want 403", code)
		}
		p.get("/admin/bolt/users")
		code, path := p.post("/login/account", url.Values{"account": {b.ID}, "return_to": {"/admin/bolt/users?status=active"}})
		if code != 200 || path != "/admin/bolt/users?status=active" {
			t.Fatalf("switch: %d at %s", code, path)
		}
		p.sees("ada@acme.example", "Other accounts you administer", "Switch to Acme")
	})
}

// TestOwnersDemotingEachOther: two owners, each on a page loaded while
// both were owners, demote or remove each other at the same moment. The
// account keeps one of them as owner: the second change sees the first.
func TestOwnersDemotingEachOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		console := func(m directory.Member) directory.Admin {
			t.Helper()
			token, _, err := s.svc.StartSession(ctx, m.User.ID, a.ID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.svc.Authenticate(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			adm, err := s.svc.Console(ctx, v, "acme")
			if err != nil {
				t.Fatal(err)
			}
			return adm
		}
		for round := range 10 {
			one := s.add(t, a, fmt.Sprintf("one%d@acme.example", round), directory.RoleOwner)
			two := s.add(t, a, fmt.Sprintf("two%d@acme.example", round), directory.RoleOwner)
			admOne, admTwo := console(one), console(two)
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = s.svc.ChangeRole(ctx, admOne, two.Membership.ID, directory.RoleMember) })
			wg.Go(func() {
				if round%2 == 0 {
					_, _ = s.svc.ChangeRole(ctx, admTwo, one.Membership.ID, directory.RoleMember)
				} else {
					_, _ = s.svc.RemoveMember(ctx, admTwo, one.Membership.ID)
				}
			})
			wg.Wait()
			owners := 0
			for _, m := range []directory.Member{one, two} {
				if got, err := s.svc.Member(ctx, a.ID, m.User.Email); err == nil && got.Membership.Role == directory.RoleOwner {
					owners++
				}
			}
			if owners != 1 {
				t.Errorf("round %d: %d of the two are owners; want 1", round, owners)
			}
		}
	})
}

// TestAccountNamedOnce: the account's name heads every console page once,
// in the page's header beside its logo (whose text alternative does not
// say it again), and the window's title names it once: the console's
// navigation and the switch page's title no longer repeat it.
func TestAccountNamedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		const name = "Acme Mutual"
		a, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.SetBranding(ctx, a.ID, operator, directory.Branding{LogoURL: "https://cdn.acme.example/logo.png"}); err != nil {
			t.Fatal(err)
		}
		b := s.account(t, "bolt")
		ada := s.add(t, a, "ada@acme.example", directory.RoleOwner)
		pat := s.add(t, a, "pat@acme.example", directory.RoleMember)
		if _, err := s.svc.AddUser(ctx, b.ID, operator, directory.NewUser{Email: "ada@acme.example", FirstName: "Ada", LastName: "L", Role: directory.RoleOwner}); err != nil {
			t.Fatal(err)
		}
		title := regexp.MustCompile(`(?s)<title>(.*?)</title>`)
		for _, tc := range []struct{ name, path string }{
			{"users", "/admin/acme/users"},
			{"a person", "/admin/acme/users/" + pat.Membership.ID},
			{"add user", "/admin/acme/users/new"},
			{"audit log", "/admin/acme/audit"},
			{"roles", "/admin/acme/roles"},
			{"the switch, from another account", "/admin/acme/users"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := s.signIn(t, ada, a)
				if strings.HasPrefix(tc.name, "the switch") {
					p = s.signIn(t, ada, b)
				}
				if code, _ := p.get(tc.path); code != 200 {
					t.Fatalf("%d", code)
				}
				if strings.HasPrefix(tc.name, "the switch") {
					p.sees(`id="switch"`)
				}
				head, body, _ := strings.Cut(p.last, "<body>")
				chrome, _, _ := strings.Cut(body, `<div id="content"`)
				if n := strings.Count(chrome, name); n != 1 {
					t.Errorf("the header and navigation name the account %d times; want once:\n%s", n, chrome)
				}
				if m := title.FindStringSubmatch(head); m == nil || strings.Count(m[1], name) != 1 {
					t.Errorf("the title %q names the account other than once", m)
				}
				p.sees(`<img class="logo" src="https://cdn.acme.example/logo.png" alt="">`)
			})
		}
	})
}
