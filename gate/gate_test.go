package gate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

// env is admit's gate over a real store, with one account, one member
// with a session, and one app behind forward-auth on app.test.
type env struct {
	t       testing.TB
	dir     *directory.Service
	keys    *certs.TokenKeys
	gate    *gate.Handler
	pages   *web.Renderer
	handler http.Handler
	account directory.Account
	member  directory.Member
	app     directory.App
	token   string // the member's session token
}

func newEnv(t testing.TB, st *store.Store, upstream *url.URL) *env {
	t.Helper()
	ctx := context.Background()
	dir := directory.NewService(directory.Config{Store: st, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
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
	g, err := gate.New(gate.Config{Directory: dir, Keys: keys, Pages: pages, Issuer: "http://admit.test", Upstream: upstream})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("admit's sign-in page")) })
	g.Register(mux)
	e := &env{t: t, dir: dir, keys: keys, gate: g, pages: pages, handler: web.SecurityHeaders(false)(mux)}
	if e.account, err = dir.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	e.member = e.invited(e.account, "ada@example.com")
	if e.token, _, err = dir.StartSession(ctx, e.member.User.ID, e.account.ID, directory.Credential{Method: directory.MethodPassword}); err != nil {
		t.Fatal(err)
	}
	if e.app, _, err = dir.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", ForwardAuthHost: "app.test", AccountID: e.account.ID}); err != nil {
		t.Fatal(err)
	}
	return e
}

// invited makes a member who accepted an invitation.
func (e *env) invited(a directory.Account, email string) directory.Member {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.dir.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: email, Role: "admin"}); err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.dir.ClaimMail(ctx, 10)
	if err != nil || len(msgs) != 1 {
		e.t.Fatalf("invitation mail: %d, %v", len(msgs), err)
	}
	body, err := e.dir.MailBodyOf(ctx, msgs[0])
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := e.dir.AcceptInvitation(ctx, body.Token, directory.Acceptance{FirstName: "Ada", LastName: "Lovelace", Password: "correct horse battery"})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// verify asks /auth/verify as a proxy would, for the original request
// host and uri, with the session token when it is not "".
func (e *env) verify(query, host, uri, token string, extra http.Header) *http.Response {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://admit.internal"+gate.VerifyPath+query, nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", host)
	r.Header.Set("X-Forwarded-Uri", uri)
	for k, v := range extra {
		r.Header[k] = v
	}
	if token != "" {
		r.AddCookie(&http.Cookie{Name: "admit_session", Value: token})
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w.Result()
}

// verifyJWT checks an X-Admit-Jwt with the provider's JWKS and returns its
// claims.
func (e *env) verifyJWT(token string) map[string]any {
	e.t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		e.t.Fatalf("X-Admit-Jwt %q: %v", token, err)
	}
	jwks, err := e.keys.JWKS(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	keys := jwks.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("X-Admit-Jwt kid %q is not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		e.t.Fatalf("X-Admit-Jwt does not verify with the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatal(err)
	}
	return claims
}

func TestVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, nil)
		// app.test is not admit's host: the hand-off (handoff_test.go).
		signIn := "https://app.test/login/handoff?to=https%3A%2F%2Fapp.test%2Fdocs%3Fpage%3D2"
		if _, _, err := e.dir.AddApp(context.Background(), operator, directory.NewApp{Name: "On admit", ForwardAuthHost: "admit.test", PathPrefix: "/wiki"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, query, host, uri, token string
			status                        int
			location                      string
		}{
			{name: "session", host: "app.test", uri: "/docs?page=2", token: e.token, status: 200},
			{name: "host in another case", host: "APP.test", uri: "/", token: e.token, status: 200},
			{name: "no session: 401 with the sign-in URL, for nginx", host: "app.test", uri: "/docs?page=2", status: 401, location: signIn},
			{name: "no session, redirect: 302 for Traefik and Caddy", query: "?redirect=1", host: "app.test", uri: "/docs?page=2", status: 302, location: signIn},
			{name: "unknown session", host: "app.test", uri: "/docs?page=2", token: "made-up", status: 401, location: signIn},
			{name: "app on admit's host: its /login", host: "admit.test", uri: "/wiki/a?b=c", status: 401, location: "https://admit.test/login?return_to=%2Fwiki%2Fa%3Fb%3Dc"},
			{name: "foreign host without a session: no redirect", query: "?redirect=1", host: "evil.test", uri: "/", status: 403},
			{name: "foreign host with a session", host: "evil.test", uri: "/", token: e.token, status: 403},
			{name: "foreign host beside a registered one", host: "app.test.evil.test", uri: "/", status: 403},
			{name: "absolute URI", host: "app.test", uri: "https://evil.test/", status: 400},
			{name: "scheme-relative URI", host: "app.test", uri: "//evil.test/", status: 400},
			{name: "host with a path", host: "evil.test/app.test", uri: "/", status: 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := e.verify(tc.query, tc.host, tc.uri, tc.token, nil)
				if res.StatusCode != tc.status {
					t.Fatalf("status %d; want %d", res.StatusCode, tc.status)
				}
				if got := res.Header.Get("Location"); got != tc.location {
					t.Errorf("Location %q; want %q", got, tc.location)
				}
				if tc.status != 200 && res.Header.Get(gate.HeaderUserID) != "" {
					t.Errorf("a %d carries identity headers", tc.status)
				}
			})
		}

		res := e.verify("", "app.test", "/", e.token, nil)
		want := map[string]string{gate.HeaderUserID: e.member.User.ID, gate.HeaderEmail: "ada@example.com", gate.HeaderName: "Ada Lovelace",
			gate.HeaderAccount: "acme", gate.HeaderRole: "admin", gate.HeaderGroups: ""}
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s = %q; want %q", k, got, v)
			}
		}
		claims := e.verifyJWT(res.Header.Get(gate.HeaderJWT))
		if claims["aud"] != e.app.ClientID || claims["sub"] != e.member.User.ID || claims["iss"] != "http://admit.test" || claims["email"] != "ada@example.com" {
			t.Errorf("JWT claims %v; want aud the app's client id, sub the user id, iss the base URL", claims)
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat > gate.TokenTTL.Seconds() || exp <= float64(time.Now().Unix()) {
			t.Errorf("JWT lives from %v to %v; want at most %v, not expired", iat, exp, gate.TokenTTL)
		}
		if acct, _ := claims["account"].(map[string]any); acct["slug"] != "acme" {
			t.Errorf("JWT account %v; want acme", claims["account"])
		}
	})
}

// An app bound to one account serves only that account's members, and an
// app under a path prefix takes only its paths.
func TestVerifyAccountAndPathPrefix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st, nil)
		other, err := e.dir.CreateAccount(ctx, operator, directory.NewAccount{Slug: "globex", Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Globex wiki", ForwardAuthHost: "app.test", PathPrefix: "/globex", AccountID: other.ID}); err != nil {
			t.Fatal(err)
		}
		if res := e.verify("", "app.test", "/globex/page", e.token, nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("acme's member at globex's app: %d; want 403", res.StatusCode)
		}
		// A path with dot segments is refused, not judged as its cleaned
		// form: the proxy may route it by the raw path.
		if res := e.verify("", "app.test", "/globex/../page", e.token, nil); res.StatusCode != http.StatusBadRequest {
			t.Errorf("/globex/../page: %d; want 400", res.StatusCode)
		}
		if res := e.verify("", "app.test", "/globexx", e.token, nil); res.StatusCode != http.StatusOK {
			t.Errorf("/globexx is not under /globex: %d; want 200 from acme's app", res.StatusCode)
		}
	})
}

// A membership deactivated (here by SCIM's path through the directory)
// loses access through forward-auth within a second, although the gate
// reuses answers for a moment.
func TestVerifyDeactivationCutsAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, nil)
		if res := e.verify("", "app.test", "/", e.token, nil); res.StatusCode != http.StatusOK {
			t.Fatalf("before: %d", res.StatusCode)
		}
		if _, err := e.dir.Deactivate(context.Background(), e.account.ID, operator, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			res := e.verify("", "app.test", "/", e.token, nil)
			if res.StatusCode != http.StatusOK {
				t.Logf("access ended %v after the deactivation (status %d)", time.Since(start).Round(time.Millisecond), res.StatusCode)
				break
			}
			if time.Since(start) > time.Second {
				t.Fatal("still 200 a second after the deactivation")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestVerifyGroupFilter: an app with a group filter gets only the matching
// groups, in X-Admit-Groups and in X-Admit-Jwt alike; a filter changed on
// the app reaches forward-auth within a second, although the gate reuses
// the host's apps and its answers for a moment.
func TestVerifyGroupFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st, nil)
		if _, err := st.DB().ExecContext(ctx, st.DB().Rebind(`UPDATE memberships SET sso_groups = ? WHERE user_id = ?`),
			`["Admins","Engineering","Wiki-Editors","wiki-readers"]`, e.member.User.ID); err != nil {
			t.Fatal(err)
		}
		told := func() (header string, jwt []any) {
			t.Helper()
			res := e.verify("", "app.test", "/", e.token, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("verify: %d", res.StatusCode)
			}
			jwt, _ = e.verifyJWT(res.Header.Get(gate.HeaderJWT))["groups"].([]any)
			return res.Header.Get(gate.HeaderGroups), jwt
		}
		if got, _ := told(); got != "Admins,Engineering,Wiki-Editors,wiki-readers" {
			t.Fatalf("without a filter: %q; want every group", got)
		}
		if _, err := e.dir.SetAppGroups(ctx, operator, e.app.ClientID, "wiki-*"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for {
			header, jwt := told()
			if header == "Wiki-Editors,wiki-readers" {
				t.Logf("the filter applied %v after the change", time.Since(start).Round(time.Millisecond))
				if len(jwt) != 2 || jwt[0] != "Wiki-Editors" || jwt[1] != "wiki-readers" {
					t.Errorf("X-Admit-Jwt groups %v; want the header's", jwt)
				}
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("X-Admit-Groups %q a second after the change; want Wiki-Editors,wiki-readers", header)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Values from outside (names from SCIM, SSO or an admin) stay on one line.
func TestVerifyHeaderValuesStayOnOneLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, nil)
		if _, err := st.DB().ExecContext(context.Background(), st.DB().Rebind(`UPDATE users SET first_name = ? WHERE id = ?`), "Ada\r\nX-Admit-Role: owner", e.member.User.ID); err != nil {
			t.Fatal(err)
		}
		res := e.verify("", "app.test", "/", e.token, nil)
		if got := res.Header.Get(gate.HeaderName); got != "Ada  X-Admit-Role: owner Lovelace" {
			t.Errorf("name %q; want the CR and LF as spaces", got)
		}
		if got := res.Header.Values(gate.HeaderRole); len(got) != 1 || got[0] != "admin" {
			t.Errorf("role %q; want admin alone", got)
		}
	})
}

// TestProxyRefusesDotSegments: admit as the proxy judges a request by the
// app of its path's prefix, and passes the raw path on: a path the app
// may resolve to another prefix (/open/..;/globex is /globex to Tomcat
// and Spring) is refused, never judged as the open app's and passed.
func TestProxyRefusesDotSegments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var reached atomic.Int32
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
		t.Cleanup(upstream.Close)
		u, _ := url.Parse(upstream.URL)
		e := newEnv(t, st, u)
		globex, err := e.dir.CreateAccount(ctx, operator, directory.NewAccount{Slug: "globex", Name: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []directory.NewApp{{Name: "Open", ForwardAuthHost: "admit.test"}, {Name: "Globex", ForwardAuthHost: "admit.test", PathPrefix: "/globex", AccountID: globex.ID}} {
			if _, _, err := e.dir.AddApp(ctx, operator, a); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{"/open/..;/globex/secret", "/open/.;/../globex", "/globex/secret"} {
			r := httptest.NewRequest(http.MethodGet, "http://admit.test"+p, nil)
			r.AddCookie(&http.Cookie{Name: "admit_session", Value: e.token})
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, r)
			if w.Code == http.StatusOK || reached.Load() != 0 {
				t.Errorf("%s: %d, upstream reached %d times; want a refusal", p, w.Code, reached.Load())
			}
		}
		r := httptest.NewRequest(http.MethodGet, "http://admit.test/docs;v=2/page", nil)
		r.AddCookie(&http.Cookie{Name: "admit_session", Value: e.token})
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK || reached.Load() != 1 {
			t.Errorf("/docs;v=2/page: %d, upstream reached %d times; want passed", w.Code, reached.Load())
		}
	})
}

// TestProxyKeepsAdmitCookies: admit as the proxy passes the app the
// browser's cookies but none of admit's own: the session (the app could
// act as the person at admit), the CSRF and device cookies, the hand-off
// nonce and the SSO request's, in either spelling (with __Host- behind
// https).
func TestProxyKeepsAdmitCookies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		got := make(chan string, 1)
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- strings.Join(r.Header.Values("Cookie"), " | ") }))
		t.Cleanup(upstream.Close)
		u, _ := url.Parse(upstream.URL)
		e := newEnv(t, st, u)
		if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Proxied", ForwardAuthHost: "admit.test", AccountID: e.account.ID}); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodGet, "http://admit.test/docs", nil)
		r.Header.Set("Cookie", "theme=dark; admit_csrf=c1; admit_session="+e.token+"; __Host-admit_csrf=c2; admit_device=d1; __Host-admit_device=d2; "+
			"admit_handoff=n1; __Host-admit_session=s2; admit_sso_abc=x; app_session=keep; not_admit_x=keep2")
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("proxied: %d %s", w.Code, w.Body)
		}
		if cookies, want := <-got, "theme=dark; app_session=keep; not_admit_x=keep2"; cookies != want {
			t.Errorf("the app got Cookie %q; want %q", cookies, want)
		}
	})
}
