package gate_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/login"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// get asks admit for target on host, with the cookies given.
func (e *env) get(host, target string, cookies ...*http.Cookie) *http.Response {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://"+host+target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w.Result()
}

func session(token string) *http.Cookie { return &http.Cookie{Name: "admit_session", Value: token} }

func cookieOf(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			return c
		}
	}
	return nil
}

func sessionCookie(res *http.Response) string {
	if c := cookieOf(res, "admit_session"); c != nil {
		return c.Value
	}
	return ""
}

// handoff runs the first two steps of a hand-off to `to` for the browser
// signed in with token: it returns the code's URL and the nonce cookie
// the app's host gave the browser.
func (e *env) handoff(to, token string) (*url.URL, *http.Cookie) {
	e.t.Helper()
	u, _ := url.Parse(to)
	res := e.get(u.Host, gate.HandoffPath+"?"+url.Values{"to": {to}}.Encode())
	nonce := cookieOf(res, "admit_handoff")
	next, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || nonce == nil || err != nil || next.Host != "admit.test" || next.Query().Get("binding") == "" {
		e.t.Fatalf("hand-off on the app's host: %d Location %q nonce %v", res.StatusCode, res.Header.Get("Location"), nonce)
	}
	res = e.get("admit.test", next.RequestURI(), session(token))
	code, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil {
		e.t.Fatalf("hand-off on admit's host: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	return code, nonce
}

func TestHandoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, nil)
		ctx := context.Background()
		to := "https://app.test/docs?page=2"

		// On the app's host: a nonce, and admit's host with its hash.
		res := e.get("app.test", gate.HandoffPath+"?to="+url.QueryEscape(to))
		nonce := cookieOf(res, "admit_handoff")
		next, _ := url.Parse(res.Header.Get("Location"))
		if res.StatusCode != http.StatusSeeOther || nonce == nil || !nonce.HttpOnly || next.Host != "admit.test" || next.Path != gate.HandoffPath ||
			next.Query().Get("to") != to || next.Query().Get("binding") != directory.HandoffBinding(nonce.Value) {
			t.Fatalf("on the app's host: %d Location %q nonce %+v", res.StatusCode, res.Header.Get("Location"), nonce)
		}
		// Signed out on admit's host: sign in first, then come back.
		res = e.get("admit.test", next.RequestURI())
		if want := "/login?return_to=" + url.QueryEscape(next.RequestURI()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Fatalf("signed out: %d Location %q; want %s", res.StatusCode, res.Header.Get("Location"), want)
		}
		// Signed in: a code for the app's host, redeemed there once, by
		// the browser holding the nonce.
		code, nonce := e.handoff(to, e.token)
		if code.Scheme != "https" || code.Host != "app.test" || !strings.HasPrefix(code.Path, gate.HandoffPath+"/") || code.RawQuery != "" {
			t.Fatalf("hand-off goes to %s", code)
		}
		res = e.get("app.test", code.Path, nonce)
		token := sessionCookie(res)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/docs?page=2" || token == "" || token == e.token {
			t.Fatalf("redeemed: %d Location %q, cookie %q", res.StatusCode, res.Header.Get("Location"), token)
		}
		if res := e.verify("", "app.test", "/docs?page=2", token, nil); res.StatusCode != http.StatusOK || res.Header.Get(gate.HeaderEmail) != "ada@example.com" {
			t.Fatalf("the app host's session at /auth/verify: %d %q", res.StatusCode, res.Header.Get(gate.HeaderEmail))
		}
		if res := e.get("app.test", code.Path, nonce); res.StatusCode != http.StatusBadRequest || sessionCookie(res) != "" {
			t.Errorf("a replayed code: %d, cookie %q; want 400 and none", res.StatusCode, sessionCookie(res))
		}
		// The app host's session is that host's only: taken to admit's
		// host (from an app's logs, or a proxy that passes it on), it hands
		// nothing on to another app and opens no console.
		if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Second", ForwardAuthHost: "second.test", AccountID: e.account.ID}); err != nil {
			t.Fatal(err)
		}
		if res := e.verify("", "second.test", "/", token, nil); res.StatusCode == http.StatusOK || res.Header.Get(gate.HeaderEmail) != "" {
			t.Errorf("app.test's session at /auth/verify for second.test: %d %q; want refused", res.StatusCode, res.Header.Get(gate.HeaderEmail))
		}
		if res := e.verify("", "second.test", "/", e.token, nil); res.StatusCode != http.StatusOK {
			t.Errorf("admit's own session at /auth/verify for second.test: %d; want 200", res.StatusCode)
		}
		onward := gate.HandoffPath + "?" + url.Values{"to": {"https://second.test/"}, "binding": {directory.HandoffBinding(directory.NewHandoffNonce())}}.Encode()
		if res := e.get("admit.test", onward, session(token)); res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" {
			t.Errorf("the app host's session handing off on admit's host: %d Location %q; want 403", res.StatusCode, res.Header.Get("Location"))
		}
		if v, err := e.dir.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		} else if _, err := e.dir.Console(ctx, v, e.account.Slug); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("the app host's session opening the console: %v; want Forbidden", err)
		}
		// Nor the person's pages on admit's host: /me sends it to sign in.
		signIn, err := login.New(login.Config{Directory: e.dir, Pages: e.pages})
		if err != nil {
			t.Fatal(err)
		}
		pages := http.NewServeMux()
		signIn.Register(pages)
		me := httptest.NewRequest(http.MethodGet, "http://admit.test/me", nil)
		me.AddCookie(session(token))
		w := httptest.NewRecorder()
		pages.ServeHTTP(w, me)
		if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("the app host's session on admit's /me: %d Location %q; want sent to sign in", w.Code, loc)
		}
		me = httptest.NewRequest(http.MethodGet, "http://admit.test/me", nil)
		me.AddCookie(session(e.token))
		w = httptest.NewRecorder()
		pages.ServeHTTP(w, me)
		if w.Code != http.StatusOK {
			t.Errorf("admit's own session on /me: %d; want 200", w.Code)
		}

		// admit's pages stay on admit's host: on the app's host, signing in
		// (or accepting an invitation) would make a full admit session
		// whose cookie the app sees. A GET goes to admit's host, with the
		// app host's cookie left alone; a posted form is refused; a host
		// no app is registered for is none of the gate's business.
		kept := e.gate.KeepPagesHome(pages)
		serve := func(method, target string, c *http.Cookie) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, target, strings.NewReader("email=ada%40example.com&password=correct+horse+battery"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c != nil {
				r.AddCookie(c)
			}
			w := httptest.NewRecorder()
			kept.ServeHTTP(w, r)
			return w
		}
		for _, p := range []string{"/login?return_to=%2F", "/me", "/password/reset", "/invite/x", "/admin/acme/users", "/login/account"} {
			w := serve("GET", "http://app.test"+p, session(token))
			if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != "http://admit.test"+p || w.Header().Get("Set-Cookie") != "" {
				t.Errorf("GET %s on the app's host: %d Location %q Set-Cookie %q; want sent to admit's host, the cookie kept", p, w.Code, loc, w.Header().Get("Set-Cookie"))
			}
		}
		// Spellings of the app's host that proxies route to the same site.
		// An app registered with a port has its name on every port: the
		// browser sends its cookies to all of them.
		if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Ported", ForwardAuthHost: "ported.test:8443", AccountID: e.account.ID}); err != nil {
			t.Fatal(err)
		}
		for _, host := range []string{"APP.test", "app.test.", "app.test:8443", "app.test.:443", "ported.test", "ported.test:9443", "PORTED.test.:8443"} {
			if w := serve("GET", "http://"+host+"/login", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "http://admit.test/login" {
				t.Errorf("GET /login on %s: %d Location %q; want sent to admit's host", host, w.Code, w.Header().Get("Location"))
			}
		}
		// A name that only begins like an app's is not the app's.
		for _, host := range []string{"ported.testing", "ported.tes", "app.test.example"} {
			if w := serve("GET", "http://"+host+"/login", nil); w.Code == http.StatusSeeOther {
				t.Errorf("GET /login on %s: sent to admit's host; want the page (no app has that name)", host)
			}
		}
		for _, p := range []string{"/login", "/invite/x", "/password/reset"} {
			if w := serve("POST", "http://app.test"+p, nil); w.Code != http.StatusForbidden || strings.Contains(w.Header().Get("Set-Cookie"), "admit_session") || !strings.Contains(w.Body.String(), "http://admit.test") {
				t.Errorf("POST %s on the app's host: %d, Set-Cookie %q; want 403 naming admit's address, and no session", p, w.Code, w.Header().Get("Set-Cookie"))
			}
		}
		if w := serve("GET", "http://elsewhere.test/login", nil); w.Code != http.StatusOK {
			t.Errorf("GET /login on a host no app is registered for: %d; want the page", w.Code)
		}
		if w := serve("GET", "http://admit.test/me", session(e.token)); w.Code != http.StatusOK {
			t.Errorf("GET /me on admit's host through the guard: %d; want 200", w.Code)
		}
		if w := serve("GET", "http://app.test"+gate.HandoffPath+"?to=https%3A%2F%2Fapp.test%2F", nil); w.Code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "http://admit.test"+gate.HandoffPath) {
			t.Errorf("the hand-off on the app's host was sent away by the guard")
		}

		t.Run("refused targets", func(t *testing.T) {
			for _, bad := range []string{
				"", "https://evil.test/", "https://app.test.evil.test/", "//app.test/", "/docs", "javascript:alert(1)",
				"ftp://app.test/", "https://ada@app.test/", "https://app.test/a/../b", "https://app.test\\@evil.test/",
				"https://app.test/\r\nSet-Cookie:x", "https://" + strings.Repeat("a", 3000),
			} {
				for _, host := range []string{"app.test", "admit.test"} {
					res := e.get(host, gate.HandoffPath+"?binding="+strings.Repeat("a", 64)+"&to="+url.QueryEscape(bad), session(e.token))
					if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
						t.Errorf("to=%q on %s: %d Location %q; want 400, no redirect", bad, host, res.StatusCode, res.Header.Get("Location"))
					}
				}
			}
			// The app's host hands off only to itself.
			if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Other", ForwardAuthHost: "other.test", AccountID: e.account.ID}); err != nil {
				t.Fatal(err)
			}
			if res := e.get("app.test", gate.HandoffPath+"?to="+url.QueryEscape("https://other.test/")); res.StatusCode != http.StatusBadRequest {
				t.Errorf("app.test handing off to other.test: %d; want 400", res.StatusCode)
			}
			for _, binding := range []string{"", "short", strings.Repeat("A", 64)} {
				res := e.get("admit.test", gate.HandoffPath+"?"+url.Values{"to": {to}, "binding": {binding}}.Encode(), session(e.token))
				if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
					t.Errorf("binding %q: %d; want 400", binding, res.StatusCode)
				}
			}
			if n := countHandoffs(t, st); n != 0 {
				t.Errorf("%d hand-offs stored for refused requests", n)
			}
		})

		t.Run("login CSRF: a code without its browser's nonce", func(t *testing.T) {
			// Someone's own code, sent to another browser: refused there,
			// and used up.
			for _, other := range [][]*http.Cookie{nil, {{Name: "admit_handoff", Value: directory.NewHandoffNonce()}}} {
				code, nonce := e.handoff(to, e.token)
				if res := e.get("app.test", code.Path, other...); res.StatusCode != http.StatusForbidden || sessionCookie(res) != "" {
					t.Errorf("with nonce %v: %d cookie %q; want 403", other, res.StatusCode, sessionCookie(res))
				}
				if res := e.get("app.test", code.Path, nonce); res.StatusCode != http.StatusBadRequest {
					t.Errorf("the right browser after a try elsewhere: %d; want 400", res.StatusCode)
				}
			}
		})

		t.Run("a code on another host is refused and used up", func(t *testing.T) {
			code, nonce := e.handoff(to, e.token)
			if res := e.get("other.test", code.Path, nonce); res.StatusCode != http.StatusBadRequest || sessionCookie(res) != "" {
				t.Errorf("on other.test: %d cookie %q", res.StatusCode, sessionCookie(res))
			}
			if res := e.get("app.test", code.Path, nonce); res.StatusCode != http.StatusBadRequest {
				t.Errorf("on app.test after a try elsewhere: %d; want 400", res.StatusCode)
			}
		})

		t.Run("an expired code", func(t *testing.T) {
			code, nonce := e.handoff(to, e.token)
			if _, err := st.DB().Exec(st.DB().Rebind(`UPDATE handoffs SET expires_at = ?`), time.Now().Add(-time.Second).UTC()); err != nil {
				t.Fatal(err)
			}
			if res := e.get("app.test", code.Path, nonce); res.StatusCode != http.StatusBadRequest || sessionCookie(res) != "" {
				t.Errorf("expired: %d cookie %q", res.StatusCode, sessionCookie(res))
			}
			// Expired codes nobody redeemed are swept.
			e.handoff(to, e.token)
			if _, err := st.DB().Exec(st.DB().Rebind(`UPDATE handoffs SET expires_at = ?`), time.Now().Add(-time.Second).UTC()); err != nil {
				t.Fatal(err)
			}
			if _, err := e.dir.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			if n := countHandoffs(t, st); n != 0 {
				t.Errorf("%d hand-offs after the sweep; want 0", n)
			}
		})

		t.Run("the session it came from has ended", func(t *testing.T) {
			token, _, err := e.dir.StartSession(ctx, e.member.User.ID, e.account.ID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			code, nonce := e.handoff(to, token)
			if err := e.dir.EndSession(ctx, token); err != nil {
				t.Fatal(err)
			}
			if res := e.get("app.test", code.Path, nonce); res.StatusCode != http.StatusUnauthorized || sessionCookie(res) != "" {
				t.Errorf("after sign-out: %d cookie %q; want 401", res.StatusCode, sessionCookie(res))
			}
		})

		t.Run("an app of an account the person is not in", func(t *testing.T) {
			other, err := e.dir.CreateAccount(ctx, operator, directory.NewAccount{Slug: "globex", Name: "Globex"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Globex wiki", ForwardAuthHost: "globex.test", AccountID: other.ID}); err != nil {
				t.Fatal(err)
			}
			res := e.get("admit.test", gate.HandoffPath+"?"+url.Values{"to": {"https://globex.test/"}, "binding": {strings.Repeat("a", 64)}}.Encode(), session(e.token))
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" {
				t.Errorf("globex: %d Location %q; want 403", res.StatusCode, res.Header.Get("Location"))
			}
		})

		t.Run("signing out anywhere ends the family", func(t *testing.T) {
			signedIn := func() (admit, app, other string) {
				t.Helper()
				token, _, err := e.dir.StartSession(ctx, e.member.User.ID, e.account.ID, directory.ByPassword)
				if err != nil {
					t.Fatal(err)
				}
				code, nonce := e.handoff(to, token)
				app = sessionCookie(e.get("app.test", code.Path, nonce))
				code, nonce = e.handoff("https://other.test/", token)
				other = sessionCookie(e.get("other.test", code.Path, nonce))
				if app == "" || other == "" {
					t.Fatal("no session on an app's host")
				}
				return token, app, other
			}
			live := func(token string) bool {
				_, err := e.dir.Authenticate(ctx, token)
				return err == nil
			}
			admit, app, other := signedIn()
			if err := e.dir.EndSession(ctx, app); err != nil {
				t.Fatal(err)
			}
			if live(admit) || live(app) || live(other) {
				t.Errorf("after signing out on an app's host: admit %v, app %v, other app %v; want all ended", live(admit), live(app), live(other))
			}
			admit, app, other = signedIn()
			if err := e.dir.EndSession(ctx, admit); err != nil {
				t.Fatal(err)
			}
			if live(admit) || live(app) || live(other) {
				t.Errorf("after signing out on admit's host: admit %v, app %v, other app %v; want all ended", live(admit), live(app), live(other))
			}
			// Another sign-in's sessions stay.
			if !live(e.token) {
				t.Error("another sign-in's session ended too")
			}
		})

		t.Run("a password someone else set is changed first, then the hand-off goes on", func(t *testing.T) {
			if _, err := e.dir.AddUser(ctx, e.account.ID, operator, directory.NewUser{Email: "pat@example.com", FirstName: "Pat", LastName: "Q", Password: "initial password given"}); err != nil {
				t.Fatal(err)
			}
			in, err := e.dir.SignIn(ctx, "pat@example.com", "initial password given", directory.Client{Addr: "192.0.2.1"})
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := e.dir.StartSession(ctx, in.User.ID, e.account.ID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			step := gate.HandoffPath + "?" + url.Values{"to": {to}, "binding": {strings.Repeat("a", 64)}}.Encode()
			res := e.get("admit.test", step, session(token))
			if want := "/password/change?return_to=" + url.QueryEscape(step); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
				t.Errorf("hand-off for a password someone else set: %d Location %q; want %s", res.StatusCode, res.Header.Get("Location"), want)
			}
		})

		t.Run("an app of an account the session's sign-in does not open", func(t *testing.T) {
			// Pat's password was set by acme's admin and never proven: it
			// opens acme only (directory's trust rules), though Pat is an
			// active member of initech too.
			initech, err := e.dir.CreateAccount(ctx, operator, directory.NewAccount{Slug: "initech", Name: "Initech"})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range []struct {
				account  string
				password string
			}{{e.account.ID, "pat's initial password"}, {initech.ID, ""}} {
				if _, err := e.dir.AddUser(ctx, in.account, operator, directory.NewUser{Email: "pat@initech.example", FirstName: "Pat", LastName: "Q", Password: in.password}); err != nil {
					t.Fatal(err)
				}
			}
			in, err := e.dir.SignIn(ctx, "pat@initech.example", "pat's initial password", directory.Client{Addr: "192.0.2.1"})
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := e.dir.StartSession(ctx, in.User.ID, e.account.ID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			v, err := e.dir.Authenticate(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			// The change renews the session: the browser goes on with the new token.
			if token, _, err = e.dir.ChangePassword(ctx, v, "pat's initial password", "pat's own long passphrase"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Initech wiki", ForwardAuthHost: "initech.test", AccountID: initech.ID}); err != nil {
				t.Fatal(err)
			}
			before := countHandoffs(t, st)
			step := gate.HandoffPath + "?" + url.Values{"to": {"https://initech.test/"}, "binding": {strings.Repeat("a", 64)}}.Encode()
			res := e.get("admit.test", step, session(token))
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" || !strings.Contains(string(body), "does not open Initech") {
				t.Errorf("hand-off to initech's app: %d Location %q; want 403 saying why, on admit's host\n%s", res.StatusCode, res.Header.Get("Location"), body)
			}
			if n := countHandoffs(t, st); n != before {
				t.Errorf("%d hand-offs stored for a refused one", n-before)
			}
			events, err := e.dir.AuditEvents(ctx, initech.ID, 1)
			if err != nil || len(events) != 1 || events[0].Action != "user.sign_in_refused" || events[0].TargetID != in.User.ID {
				t.Errorf("initech's newest audit event: %+v, %v; want pat's sign-in refused", events, err)
			}
		})

		t.Run("a made-up code", func(t *testing.T) {
			if res := e.get("app.test", gate.HandoffPath+"/made-up", nonce); res.StatusCode != http.StatusBadRequest {
				t.Errorf("made up: %d", res.StatusCode)
			}
		})
	})
}

// The sign-in form on admit's host allows the app's origin for a
// hand-off (its CSP form-action governs the redirects after the post),
// and nothing for anything else.
func TestHandoffOrigins(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	for returnTo, want := range map[string]string{
		gate.HandoffPath + "?to=" + url.QueryEscape("https://app.test/x") + "&binding=b": "https://app.test",
		gate.HandoffPath + "?to=" + url.QueryEscape("https://evil.test/x"):               "",
		"/me": "",
		"https://admit.test" + gate.HandoffPath + "?to=" + url.QueryEscape("https://app.test/x"): "",
	} {
		got := strings.Join(e.gate.Origins(ctx, returnTo), " ")
		if got != want {
			t.Errorf("Origins(%q) = %q; want %q", returnTo, got, want)
		}
	}
}

func countHandoffs(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().Get(&n, `SELECT COUNT(*) FROM handoffs`); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHandoffLandsOnTheAppsHost: the hand-off ends with a redirect to the
// path and query of its URL, on the app's host. A path that begins with
// two slashes (https://app.test//evil.test/x is app.test's URL, its path
// //evil.test/x) would make that Location name another host
// (//evil.test/x is scheme-relative): after signing in, the person would
// land wherever a link someone sent them said. Every step either refuses
// (400, no redirect) or keeps the browser on app.test and admit.test.
func TestHandoffLandsOnTheAppsHost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, nil)
		for _, to := range []string{"https://app.test//evil.test/x", "https://app.test///evil.test", "https://app.test//evil.test?x=1",
			"https://app.test/%2Fevil.test/x", "https://app.test/%2F%2Fevil.test"} {
			res := e.get("app.test", gate.HandoffPath+"?"+url.Values{"to": {to}}.Encode())
			nonce := cookieOf(res, "admit_handoff")
			for step := 1; res.StatusCode == http.StatusSeeOther; step++ {
				loc := res.Header.Get("Location")
				next, err := url.Parse(loc)
				if err != nil || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") || (next.Host != "" && next.Host != "app.test" && next.Host != "admit.test") {
					t.Errorf("to=%q, step %d: Location %q leaves app.test and admit.test", to, step, loc)
					break
				}
				if step == 3 {
					break // landed on app.test
				}
				if next.Host == "admit.test" {
					res = e.get(next.Host, next.RequestURI(), session(e.token))
				} else {
					res = e.get("app.test", next.RequestURI(), nonce)
				}
			}
			if res.StatusCode != http.StatusSeeOther && (res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "") {
				t.Errorf("to=%q: %d Location %q; want 400 and no redirect, or the app's page", to, res.StatusCode, res.Header.Get("Location"))
			}
		}
	})
}
