package gate_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// get asks admit for target on host, with the session token when not "".
func (e *env) get(host, target, token string) *http.Response {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://"+host+target, nil)
	if token != "" {
		r.AddCookie(&http.Cookie{Name: "admit_session", Value: token})
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w.Result()
}

// handoff starts a hand-off to `to` with the member's session and returns
// the URL of its second step.
func (e *env) handoff(to string) *url.URL {
	e.t.Helper()
	res := e.get("admit.test", gate.HandoffPath+"?"+url.Values{"to": {to}}.Encode(), e.token)
	u, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil {
		e.t.Fatalf("hand-off to %s: %d Location %q", to, res.StatusCode, res.Header.Get("Location"))
	}
	return u
}

func sessionCookie(res *http.Response) string {
	for _, c := range res.Cookies() {
		if c.Name == "admit_session" && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

func TestHandoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, nil)
		ctx := context.Background()
		to := "https://app.test/docs?page=2"

		// Signed out on admit's host: sign in first, then come back.
		res := e.get("admit.test", gate.HandoffPath+"?to="+url.QueryEscape(to), "")
		wantSignIn := "/login?return_to=" + url.QueryEscape(gate.HandoffPath+"?to="+url.QueryEscape(to))
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != wantSignIn {
			t.Fatalf("signed out: %d Location %q; want %s", res.StatusCode, res.Header.Get("Location"), wantSignIn)
		}

		// Signed in: a code for the app's host, redeemed there once.
		next := e.handoff(to)
		if next.Scheme != "https" || next.Host != "app.test" || !strings.HasPrefix(next.Path, gate.HandoffPath+"/") || next.RawQuery != "" {
			t.Fatalf("hand-off goes to %s", next)
		}
		res = e.get("app.test", next.Path, "")
		token := sessionCookie(res)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/docs?page=2" || token == "" || token == e.token {
			t.Fatalf("redeemed: %d Location %q, cookie %q", res.StatusCode, res.Header.Get("Location"), token)
		}
		if res := e.verify("", "app.test", "/docs?page=2", token, nil); res.StatusCode != http.StatusOK || res.Header.Get(gate.HeaderEmail) != "ada@example.com" {
			t.Fatalf("the app host's session at /auth/verify: %d %q", res.StatusCode, res.Header.Get(gate.HeaderEmail))
		}
		if res := e.get("app.test", next.Path, ""); res.StatusCode != http.StatusBadRequest || sessionCookie(res) != "" {
			t.Errorf("a replayed code: %d, cookie %q; want 400 and none", res.StatusCode, sessionCookie(res))
		}

		t.Run("refused targets", func(t *testing.T) {
			for _, bad := range []string{
				"", "https://evil.test/", "https://app.test.evil.test/", "//app.test/", "/docs", "javascript:alert(1)",
				"ftp://app.test/", "https://ada@app.test/", "https://app.test/a/../b", "https://app.test\\@evil.test/",
				"https://app.test/\r\nSet-Cookie:x", "https://" + strings.Repeat("a", 3000),
			} {
				res := e.get("admit.test", gate.HandoffPath+"?to="+url.QueryEscape(bad), e.token)
				if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
					t.Errorf("to=%q: %d Location %q; want 400, no redirect", bad, res.StatusCode, res.Header.Get("Location"))
				}
			}
			if n := countHandoffs(t, st); n != 0 {
				t.Errorf("%d hand-offs stored for refused targets", n)
			}
		})

		t.Run("a code on another host is refused and used up", func(t *testing.T) {
			next := e.handoff(to)
			if _, _, err := e.dir.AddApp(ctx, operator, directory.NewApp{Name: "Other", ForwardAuthHost: "other.test", AccountID: e.account.ID}); err != nil {
				t.Fatal(err)
			}
			if res := e.get("other.test", next.Path, ""); res.StatusCode != http.StatusBadRequest || sessionCookie(res) != "" {
				t.Errorf("on other.test: %d cookie %q", res.StatusCode, sessionCookie(res))
			}
			if res := e.get("app.test", next.Path, ""); res.StatusCode != http.StatusBadRequest {
				t.Errorf("on app.test after a try elsewhere: %d; want 400", res.StatusCode)
			}
		})

		t.Run("an expired code", func(t *testing.T) {
			next := e.handoff(to)
			if _, err := st.DB().Exec(st.DB().Rebind(`UPDATE handoffs SET expires_at = ?`), time.Now().Add(-time.Second).UTC()); err != nil {
				t.Fatal(err)
			}
			if res := e.get("app.test", next.Path, ""); res.StatusCode != http.StatusBadRequest || sessionCookie(res) != "" {
				t.Errorf("expired: %d cookie %q", res.StatusCode, sessionCookie(res))
			}
		})

		t.Run("the session it came from has ended", func(t *testing.T) {
			token, _, err := e.dir.StartSession(ctx, e.member.User.ID, e.account.ID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			res := e.get("admit.test", gate.HandoffPath+"?to="+url.QueryEscape(to), token)
			next, _ := url.Parse(res.Header.Get("Location"))
			if err := e.dir.EndSession(ctx, token); err != nil {
				t.Fatal(err)
			}
			if res := e.get("app.test", next.Path, ""); res.StatusCode != http.StatusUnauthorized || sessionCookie(res) != "" {
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
			res := e.get("admit.test", gate.HandoffPath+"?to="+url.QueryEscape("https://globex.test/"), e.token)
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" {
				t.Errorf("globex: %d Location %q; want 403", res.StatusCode, res.Header.Get("Location"))
			}
		})

		t.Run("a made-up code", func(t *testing.T) {
			if res := e.get("app.test", gate.HandoffPath+"/made-up", ""); res.StatusCode != http.StatusBadRequest {
				t.Errorf("made up: %d", res.StatusCode)
			}
		})
	})
}

func countHandoffs(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().Get(&n, `SELECT COUNT(*) FROM handoffs`); err != nil {
		t.Fatal(err)
	}
	return n
}
