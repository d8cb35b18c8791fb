package web_test

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

var testKey = bytes.Repeat([]byte("k"), 32)

func newRenderer(t *testing.T, secure bool) *web.Renderer {
	t.Helper()
	rd, err := web.NewRenderer(web.Config{Key: testKey, Secure: secure})
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func serve(h http.Handler, req *http.Request) (*http.Response, string) {
	rec := httptest.NewRecorder()
	web.RequestID(web.SecurityHeaders(false)(h)).ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func page(t *testing.T, content string) *template.Template {
	t.Helper()
	tmpl, err := web.ParsePage(fstest.MapFS{"p.html": {Data: []byte(content)}}, "p.html")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestRenderEscapesBrandingAndSetsNonce(t *testing.T) {
	rd := newRenderer(t, false)
	tmpl := page(t, `{{define "content"}}<p>{{.Data}}</p>{{end}}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.Render(w, r, http.StatusOK, tmpl, web.Page{
			Title:    "Hi",
			Branding: web.Branding{Name: `<script>alert(1)</script>`, PrimaryColor: "#123abc", LogoURL: "https://cdn.example/logo.png"},
			Data:     `<b>data</b>`,
		})
	})
	resp, body := serve(h, httptest.NewRequest("GET", "/", nil))
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>data") {
		t.Errorf("markup from branding or data reached the page unescaped:\n%s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("CSP %q has no nonce", csp)
	}
	if !strings.Contains(body, `<style nonce="`+m[1]+`">:root { --brand: #123abc; --on-brand: #ffffff; --brand-text: #123abc; }</style>`) {
		t.Errorf("page lacks the nonce'd brand colour style:\n%s", body)
	}
	if !strings.Contains(body, `src="https://cdn.example/logo.png"`) {
		t.Error("logo missing")
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows unsafe-inline: %q", csp)
	}
}

func TestRenderDropsHostileBranding(t *testing.T) {
	rd := newRenderer(t, false)
	tmpl := page(t, `{{define "content"}}x{{end}}`)
	for _, b := range []web.Branding{
		{PrimaryColor: "red;}body{display:none"},
		{PrimaryColor: "expression(alert(1))"},
		{LogoURL: "javascript:alert(1)"},
		{LogoURL: "http://insecure.example/logo.png"},
	} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rd.Render(w, r, http.StatusOK, tmpl, web.Page{Branding: b})
		})
		_, body := serve(h, httptest.NewRequest("GET", "/", nil))
		if !strings.Contains(body, ":root { --brand: #1f6feb; --on-brand: #ffffff; --brand-text: #1f6feb; }") ||
			strings.Contains(body, "display:none") || strings.Contains(body, "expression") ||
			strings.Contains(body, "<img") || strings.Contains(body, "ZgotmplZ") {
			t.Errorf("branding %+v reached the page:\n%s", b, body)
		}
	}
}

func TestRenderFailureSendsErrorPageNotHalfAPage(t *testing.T) {
	rd := newRenderer(t, false)
	tmpl := page(t, `{{define "content"}}<p>secret partial output</p>{{.Data.Missing}}{{end}}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.Render(w, r, http.StatusOK, tmpl, web.Page{Data: 42})
	})
	resp, body := serve(h, httptest.NewRequest("GET", "/", nil))
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "secret partial output") {
		t.Errorf("got %d with body:\n%s\nwant 500 and the error page only", resp.StatusCode, body)
	}
	if !strings.Contains(body, resp.Header.Get("X-Request-Id")) {
		t.Error("the error page does not show the request id as a reference")
	}
}

func TestHandlerMapsErrorKinds(t *testing.T) {
	rd := newRenderer(t, false)
	tests := []struct {
		err    error
		status int
		shows  string
	}{
		{directory.NotFoundError("no such account"), 404, "no such account"},
		{directory.ConflictError("already a member"), 409, "already a member"},
		{directory.InvalidError("email is required", "first name is required"), 400, "first name is required"},
		{directory.ForbiddenError("not yours"), 403, "not yours"},
		{directory.UnauthenticatedError("sign in first"), 401, "sign in first"},
		{errors.New("pq: password authentication failed for db at 10.0.0.5"), 500, "something went wrong on our side"},
		{directory.UnavailableError(errors.New("dial tcp 10.0.0.5:5432: connection refused")), 503, "please try again shortly"},
	}
	for _, tc := range tests {
		t.Run(tc.shows, func(t *testing.T) {
			h := rd.Handler(func(w http.ResponseWriter, r *http.Request) error { return tc.err })
			resp, body := serve(h, httptest.NewRequest("GET", "/x", nil))
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.shows) {
				t.Errorf("got %d %q; want %d showing %q", resp.StatusCode, body, tc.status, tc.shows)
			}
			// A 503 says when to come back (RFC 9110 §10.2.3); nothing else does.
			if got, want := resp.Header.Get("Retry-After") != "", tc.status == 503; got != want {
				t.Errorf("Retry-After %q on a %d", resp.Header.Get("Retry-After"), tc.status)
			}
			if strings.Contains(body, "10.0.0.5") {
				t.Error("internal error text leaked to the page")
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, secure := range []bool{false, true} {
		rec := httptest.NewRecorder()
		web.SecurityHeaders(secure)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		h := rec.Result().Header
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "same-origin",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("secure=%v %s = %q; want %q", secure, name, got, want)
			}
		}
		if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != secure {
			t.Errorf("secure=%v: Strict-Transport-Security = %q", secure, hsts)
		}
	}
}

// csrfForm serves a page that hands out a token and a protected POST.
func csrfForm(rd *web.Renderer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, rd.CSRFToken(w, r))
	})
	mux.Handle("POST /form", rd.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "accepted")
	})))
	return mux
}

func TestCSRF(t *testing.T) {
	rd := newRenderer(t, false)
	h := csrfForm(rd)
	resp, token := serve(h, httptest.NewRequest("GET", "/form", nil))
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode || cookies[0].Secure {
		t.Fatalf("CSRF cookie = %+v; want one HttpOnly, SameSite=Lax cookie", cookies)
	}
	cookie := cookies[0]
	_, otherToken := serve(h, httptest.NewRequest("GET", "/form", nil))

	post := func(token string, cookie *http.Cookie, header map[string]string) int {
		form := url.Values{"csrf_token": {token}}
		req := httptest.NewRequest("POST", "/form", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, _ := serve(h, req)
		return resp.StatusCode
	}
	tests := []struct {
		name   string
		token  string
		cookie *http.Cookie
		header map[string]string
		want   int
	}{
		{"right token", token, cookie, nil, 200},
		{"same-origin fetch", token, cookie, map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"missing token", "", cookie, nil, 403},
		{"wrong token", "AAAA", cookie, nil, 403},
		{"token of another browser", otherToken, cookie, nil, 403},
		{"no cookie", token, nil, nil, 403},
		{"cross-site", token, cookie, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin", token, cookie, map[string]string{"Origin": "https://evil.example"}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(tc.token, tc.cookie, tc.header); got != tc.want {
				t.Errorf("POST = %d; want %d", got, tc.want)
			}
		})
	}
}

func TestCSRFSecureCookie(t *testing.T) {
	rd := newRenderer(t, true)
	resp, _ := serve(csrfForm(rd), httptest.NewRequest("GET", "https://admit.example/form", nil))
	c := resp.Cookies()
	if len(c) != 1 || c[0].Name != "__Host-admit_csrf" || !c[0].Secure || c[0].Path != "/" || c[0].Domain != "" {
		t.Errorf("cookie = %+v; want a __Host- cookie that is Secure with Path=/", c)
	}
}

func TestRequestID(t *testing.T) {
	var seen string
	h := web.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = web.RequestIDFrom(r.Context()) }))
	for _, tc := range []struct {
		in   string
		keep bool
	}{
		{"lb-1234.abcd_EF", true},
		{"", false},
		{"evil\nlevel=ERROR msg=forged", false},
		{strings.Repeat("a", 65), false},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Request-Id", tc.in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if (seen == tc.in) != tc.keep || seen == "" || rec.Header().Get("X-Request-Id") != seen {
			t.Errorf("incoming %q: id %q, header %q; keep=%v", tc.in, seen, rec.Header().Get("X-Request-Id"), tc.keep)
		}
	}
}

func TestLogHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(web.LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "test")
	h := web.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "hello")
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Request-Id", "req-42")
	h.ServeHTTP(httptest.NewRecorder(), req)
	log.InfoContext(context.Background(), "outside")
	if !strings.Contains(buf.String(), "msg=hello component=test request_id=req-42") {
		t.Errorf("log = %q; want request_id on the request's record", buf.String())
	}
	if strings.Count(buf.String(), "request_id") != 1 {
		t.Errorf("log = %q; a record without a request must not get a request_id", buf.String())
	}
}

func TestStaticAndHome(t *testing.T) {
	resp, body := serve(http.StripPrefix("/static/", web.Static()), httptest.NewRequest("GET", "/static/admit.css", nil))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, "--brand") {
		t.Errorf("admit.css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, folder := range []string{"/static/", "/static/images/"} {
		if resp, body := serve(http.StripPrefix("/static/", web.Static()), httptest.NewRequest("GET", folder, nil)); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "admit.css") {
			t.Errorf("%s: %d, want 404 and no listing\n%s", folder, resp.StatusCode, body)
		}
	}
	resp, body = serve(newRenderer(t, false).Home(), httptest.NewRequest("GET", "/", nil))
	if resp.StatusCode != 200 || !strings.Contains(body, "intranet") || !strings.Contains(body, "<title>Welcome · admit</title>") {
		t.Errorf("home: %d\n%s", resp.StatusCode, body)
	}
}

func TestNewRendererRefusesShortKey(t *testing.T) {
	if _, err := web.NewRenderer(web.Config{Key: []byte("short")}); err == nil {
		t.Error("NewRenderer accepted a 5-byte key")
	}
}

// A page whose form ends in a redirect to an identity provider lists the
// provider's origin in form-action; nothing else gets into the policy.
func TestRenderFormTargets(t *testing.T) {
	rd := newRenderer(t, false)
	tmpl := page(t, `{{define "content"}}<form></form>{{end}}`)
	for _, tc := range []struct {
		targets []string
		want    string
	}{
		{nil, "form-action 'self';"},
		{[]string{"https://idp.example.com/sso/saml?x=1", "https://idp.example.com/other"}, "form-action 'self' https://idp.example.com;"},
		{[]string{"http://127.0.0.1:8080/authorize", "https://b.example:8443/a"}, "form-action 'self' http://127.0.0.1:8080 https://b.example:8443;"},
		{[]string{"https://evil.example; script-src *", "javascript:alert(1)", "https://a b", "data:text/html,x", "https://u@h.example/"}, "form-action 'self';"},
	} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rd.Render(w, r, http.StatusOK, tmpl, web.Page{Title: "Sign in", FormTargets: tc.targets})
		})
		resp, _ := serve(h, httptest.NewRequest("GET", "/", nil))
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, tc.want) || strings.Count(csp, "script-src") != 1 {
			t.Errorf("targets %q: CSP %q, want %q in it", tc.targets, csp, tc.want)
		}
	}
}

// TestPasswordChangePath: a sign-in stopped to change a password goes on
// to where it was going, on this site only.
func TestPasswordChangePath(t *testing.T) {
	for _, tc := range []struct{ returnTo, want string }{
		{"/oauth/authorize/continue?id=v1.abc", "/password/change?return_to=%2Foauth%2Fauthorize%2Fcontinue%3Fid%3Dv1.abc"},
		{"/login/handoff?to=https%3A%2F%2Fapp.test%2F", "/password/change?return_to=%2Flogin%2Fhandoff%3Fto%3Dhttps%253A%252F%252Fapp.test%252F"},
		{"", "/password/change"},
		{"/me", "/password/change"},
		{"https://evil.example/", "/password/change"},
		{"//evil.example/", "/password/change"},
		{"/\\evil.example", "/password/change"},
	} {
		if got := web.PasswordChangePath(tc.returnTo); got != tc.want {
			t.Errorf("PasswordChangePath(%q) = %q; want %q", tc.returnTo, got, tc.want)
		}
	}
}

// TestCSRFKeyRotation: while the server key is rotated a form served
// with the old key still goes through a replica with both, and no longer
// once the old key is gone; the replica with both signs with the new key
// only.
func TestCSRFKeyRotation(t *testing.T) {
	oldKey, newKey, otherKey := bytes.Repeat([]byte("a"), 32), bytes.Repeat([]byte("b"), 32), bytes.Repeat([]byte("c"), 32)
	renderer := func(key []byte, accepted ...[]byte) http.Handler {
		t.Helper()
		rd, err := web.NewRenderer(web.Config{Key: key, AcceptedKeys: accepted})
		if err != nil {
			t.Fatal(err)
		}
		return csrfForm(rd)
	}
	// form gets a form's token and cookie from h.
	form := func(h http.Handler) (string, *http.Cookie) {
		resp, token := serve(h, httptest.NewRequest("GET", "/form", nil))
		return token, resp.Cookies()[0]
	}
	post := func(h http.Handler, token string, cookie *http.Cookie) int {
		req := httptest.NewRequest("POST", "/form", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		resp, _ := serve(h, req)
		return resp.StatusCode
	}
	old, overlap, after, other := renderer(oldKey), renderer(newKey, oldKey), renderer(newKey), renderer(otherKey)
	// ahead has the new key as ADMIT_SECRET_KEY_NEXT: it signs with the old.
	ahead := renderer(oldKey, newKey)
	aheadToken, aheadCookie := form(ahead)
	oldToken, oldCookie := form(old)
	newToken, newCookie := form(overlap)
	otherToken, otherCookie := form(other)
	tests := []struct {
		name   string
		h      http.Handler
		token  string
		cookie *http.Cookie
		want   int
	}{
		{"old key's form during the overlap", overlap, oldToken, oldCookie, 200},
		{"new key's form during the overlap", overlap, newToken, newCookie, 200},
		{"another key's form during the overlap", overlap, otherToken, otherCookie, 403},
		{"old key's form after the overlap", after, oldToken, oldCookie, 403},
		{"the overlap's form after it (signed with the new key)", after, newToken, newCookie, 200},
		{"the overlap's form on the old key alone (never signed with the old key)", old, newToken, newCookie, 403},
		{"new key's form on a replica with it as its next key", ahead, newToken, newCookie, 200},
		{"another key's form on a replica with a next key", ahead, otherToken, otherCookie, 403},
		{"a form a replica with a next key served, on one with both keys", overlap, aheadToken, aheadCookie, 200},
		{"a form a replica with a next key served, after the overlap (signed with the old key)", after, aheadToken, aheadCookie, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(tc.h, tc.token, tc.cookie); got != tc.want {
				t.Errorf("POST = %d; want %d", got, tc.want)
			}
		})
	}
}
