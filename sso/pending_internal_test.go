package sso

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
)

func newPendingState(t testing.TB) pendingState {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := certs.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return pendingState{sealer: sealer, secure: true}
}

// cookiesOf is what a browser would send back of the cookies rec set.
func cookiesOf(rec *httptest.ResponseRecorder) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 {
			out = append(out, c)
		}
	}
	return out
}

// TestPendingRefusals opens pending sign-ins the way an attacker would
// hand them to admit: each is refused, and only the genuine one opens.
func TestPendingRefusals(t *testing.T) {
	t.Parallel()
	s := newPendingState(t)
	now := time.Now().UTC().Round(0) // as it comes back from the cookie
	okta, entra := directory.Connection{ID: "conn-okta"}, directory.Connection{ID: "conn-entra"}
	genuine := pending{ID: "id-1", Connection: okta.ID, ReturnTo: "/next", Expires: now.Add(directory.SSORequestLifetime)}
	seal := func(p pending, purpose string) string {
		rec := httptest.NewRecorder()
		if purpose != pendingPurpose {
			return s.sealer.Seal([]byte(`{"id":"id-1","connection":"conn-okta","expires":"2999-01-01T00:00:00Z"}`), purpose)
		}
		if err := s.start(rec, httptest.NewRequest(http.MethodGet, "/", nil), p, now); err != nil {
			t.Fatal(err)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == pendingCookieName(p.ID) {
				return c.Value
			}
		}
		t.Fatalf("no cookie for %s", p.ID)
		return ""
	}
	other := newPendingState(t)
	cases := []struct {
		name  string
		value string // the cookie's value
		c     directory.Connection
		id    string // the id the answer carries
		// logout: the answer is a LogoutResponse (at the single logout
		// endpoint), not a sign-in's.
		logout bool
		ok     bool
	}{
		{name: "genuine", value: seal(genuine, pendingPurpose), c: okta, id: "id-1", ok: true},
		{name: "altered", value: alter(seal(genuine, pendingPurpose)), c: okta, id: "id-1"},
		{name: "another connection's", value: seal(genuine, pendingPurpose), c: entra, id: "id-1"},
		{name: "another request's, under this one's name", value: seal(pending{ID: "id-2", Connection: okta.ID, Expires: genuine.Expires}, pendingPurpose), c: okta, id: "id-1"},
		{name: "expired", value: seal(pending{ID: "id-1", Connection: okta.ID, Expires: now.Add(-time.Second)}, pendingPurpose), c: okta, id: "id-1"},
		{name: "sealed for another purpose", value: seal(genuine, directory.ClientSecretPurpose("acct", "okta")), c: okta, id: "id-1"},
		{name: "sealed with another key", value: other.sealer.Seal([]byte(`{"id":"id-1","connection":"conn-okta","expires":"2999-01-01T00:00:00Z"}`), pendingPurpose), c: okta, id: "id-1"},
		{name: "not sealed", value: "v1.aWQtMQ", c: okta, id: "id-1"},
		{name: "no id in the answer", value: seal(genuine, pendingPurpose), c: okta, id: ""},
		{name: "a sign-in's, answered by a LogoutResponse", value: seal(genuine, pendingPurpose), c: okta, id: "id-1", logout: true},
		{name: "a logout's, answered by a sign-in", value: seal(pending{ID: "id-1", Connection: okta.ID, Logout: true, Expires: genuine.Expires}, pendingPurpose), c: okta, id: "id-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", nil)
			req.AddCookie(&http.Cookie{Name: pendingCookieName("id-1"), Value: tc.value})
			rec := httptest.NewRecorder()
			p, err := s.take(rec, req, tc.c, tc.id, tc.logout, now)
			if tc.ok != (err == nil) {
				t.Fatalf("take = %+v, %v; want ok %v", p, err, tc.ok)
			}
			if tc.ok && p != genuine {
				t.Errorf("take = %+v; want %+v", p, genuine)
			}
			if tc.id != "" {
				cleared := rec.Result().Cookies()
				if len(cleared) != 1 || cleared[0].MaxAge >= 0 {
					t.Errorf("the cookie was not cleared: %v", cleared)
				}
			}
		})
	}
}

// alter flips a character in the middle of a sealed value.
func alter(v string) string {
	i := len(v) / 2
	c := byte('A')
	if v[i] == 'A' {
		c = 'B'
	}
	return v[:i] + string(c) + v[i+1:]
}

// TestPendingCap: a browser keeps at most maxPending sign-ins; starting
// one more drops the oldest, and expired or unreadable ones go first.
func TestPendingCap(t *testing.T) {
	t.Parallel()
	s := newPendingState(t)
	now := time.Now()
	jar := map[string]*http.Cookie{}
	start := func(id string, expires time.Time) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, c := range jar {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		if err := s.start(rec, req, pending{ID: id, Connection: "c", Expires: expires}, now); err != nil {
			t.Fatal(err)
		}
		for _, c := range rec.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c
			}
		}
	}
	jar["admit_sso_browser"] = &http.Cookie{Name: "admit_sso_browser", Value: "an earlier release's cookie"}
	start("expired", now.Add(-time.Minute))
	for i := range maxPending + 3 {
		start("id-"+string(rune('a'+i)), now.Add(time.Duration(i)*time.Second))
	}
	if len(jar) != maxPending {
		t.Errorf("%d pending cookies; want %d", len(jar), maxPending)
	}
	for _, gone := range []string{"expired", "id-a", "id-b", "id-c"} {
		if _, ok := jar[pendingCookieName(gone)]; ok {
			t.Errorf("%s is still pending", gone)
		}
	}
	if _, ok := jar[pendingCookieName("id-k")]; !ok {
		t.Error("the newest sign-in is not pending")
	}
	if _, ok := jar["admit_sso_browser"]; ok {
		t.Error("the unreadable cookie was kept")
	}
}

// TestPendingCookieSize: the longest destination kept still makes a
// cookie browsers store (4 KB); a longer one falls back to /me.
func TestPendingCookieSize(t *testing.T) {
	t.Parallel()
	s := newPendingState(t)
	now := time.Now()
	for _, returnTo := range []string{"/" + strings.Repeat("x", maxReturnTo-1), "/" + strings.Repeat("x", 10_000)} {
		rec := httptest.NewRecorder()
		p := pending{ID: randomToken(), Connection: "0123456789abcdef0123456789", ReturnTo: returnTo, Nonce: randomToken(), Verifier: randomToken(), Expires: now.Add(time.Minute)}
		if err := s.start(rec, httptest.NewRequest(http.MethodGet, "/", nil), p, now); err != nil {
			t.Fatal(err)
		}
		c := cookiesOf(rec)[0]
		if n := len(c.Name) + len(c.Value); n > 4000 {
			t.Errorf("return_to of %d bytes: a cookie of %d bytes", len(returnTo), n)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(c)
		got, err := s.take(httptest.NewRecorder(), req, directory.Connection{ID: p.Connection}, p.ID, false, now)
		want := returnTo
		if len(returnTo) > maxReturnTo {
			want = "/me"
		}
		if err != nil || got.ReturnTo != want {
			t.Errorf("return_to of %d bytes: %d bytes back, %v", len(returnTo), len(got.ReturnTo), err)
		}
	}
}

// TestPendingKeyRotation: while the server key is rotated a sign-in a
// replica with the old key began still completes on one with both keys
// (as sso.New sets them up), and no longer once the old key is gone; the
// replica with both seals with the new key only.
func TestPendingKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := []byte("the old sso state key of 32 b..."), []byte("the new sso state key of 32 b...")
	state := func(key []byte, accepted ...[]byte) pendingState {
		t.Helper()
		h, err := New(Config{StateKey: key, AcceptedStateKeys: accepted, BaseURL: "https://admit.example"})
		if err != nil {
			t.Fatal(err)
		}
		return h.pending
	}
	old, overlap, after := state(oldKey), state(newKey, oldKey), state(newKey)
	// ahead has the new key as ADMIT_SECRET_KEY_NEXT: it seals with the old.
	ahead := state(oldKey, newKey)
	now := time.Now().UTC().Round(0)
	conn := directory.Connection{ID: "conn-okta"}
	// begin starts a sign-in with s and returns the cookies the browser
	// sends back.
	begin := func(s pendingState, id string) []*http.Cookie {
		t.Helper()
		rec := httptest.NewRecorder()
		p := pending{ID: id, Connection: conn.ID, ReturnTo: "/next", Expires: now.Add(directory.SSORequestLifetime)}
		if err := s.start(rec, httptest.NewRequest(http.MethodGet, "/", nil), p, now); err != nil {
			t.Fatal(err)
		}
		return cookiesOf(rec)
	}
	oldCookies, newCookies, aheadCookies := begin(old, "id-old"), begin(overlap, "id-new"), begin(ahead, "id-ahead")
	for _, tc := range []struct {
		name    string
		s       pendingState
		cookies []*http.Cookie
		id      string
		want    bool
	}{
		{"old key's sign-in during the overlap", overlap, oldCookies, "id-old", true},
		{"new key's sign-in during the overlap", overlap, newCookies, "id-new", true},
		{"old key's sign-in after the overlap", after, oldCookies, "id-old", false},
		{"the overlap's sign-in after it (sealed with the new key)", after, newCookies, "id-new", true},
		{"the overlap's sign-in on the old key alone (never sealed with the old key)", old, newCookies, "id-new", false},
		{"new key's sign-in on a replica with it as its next key", ahead, newCookies, "id-new", true},
		{"a sign-in a replica with a next key began, on one with both keys", overlap, aheadCookies, "id-ahead", true},
		{"a sign-in a replica with a next key began, after the overlap (sealed with the old key)", after, aheadCookies, "id-ahead", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/acs", nil)
			for _, c := range tc.cookies {
				r.AddCookie(c)
			}
			p, err := tc.s.take(httptest.NewRecorder(), r, conn, tc.id, false, now)
			if got := err == nil && p.ID == tc.id; got != tc.want {
				t.Errorf("take = %+v, %v; want it to open: %v", p, err, tc.want)
			}
		})
	}
}
