package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/admit-dev/admit/daemontest"
	"github.com/admit-dev/admit/gate/h2ctest"
	"github.com/admit-dev/admit/store/storetest"
)

// upstreamApp is the app behind admit: it answers with the X-Admit-*
// headers it received, streams on /stream, and echoes on a WebSocket at
// /ws.
type upstreamApp struct {
	*httptest.Server
	release chan struct{} // lets /stream finish
}

func newUpstreamApp(t *testing.T) *upstreamApp {
	t.Helper()
	u := &upstreamApp{release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil {
			_ = websocket.Message.Send(ws, "echo: "+msg+" for "+ws.Request().Header.Get("X-Admit-Email"))
		}
	}))
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-u.release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "data: last\n\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		seen := map[string]string{}
		for k, v := range r.Header {
			if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-admit-") {
				seen[k] = strings.Join(v, " | ")
			}
		}
		for _, c := range r.Cookies() {
			if strings.TrimPrefix(c.Name, "__Host-") == "admit_session" {
				seen["admit_session cookie"] += c.Value + " "
			}
		}
		if c := r.Header.Get("Cookie"); c != "" {
			seen["Cookie"] = c
		}
		_ = json.NewEncoder(w).Encode(seen)
	})
	// The app server takes an h2c upgrade (HTTP/2 over cleartext) as some
	// do, without asking for HTTP2-Settings in Connection (a proxy drops
	// it as hop-by-hop), then serves HTTP/2 on the connection.
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "h2c" {
			mux.ServeHTTP(w, r)
			return
		}
		_ = h2ctest.Upgrade(w, mux)
	}))
	t.Cleanup(func() { u.Close() })
	return u
}

// checkConnectionKeepsIdentity: a proxy drops the headers a request's
// Connection header names (hop-by-hop, RFC 9110 section 7.6.1), also
// those it set itself from admit's answer. A client naming X-Admit-Account
// in it had the app get no account (which code that scopes its data by
// that header may read as no scope), or no identity at all. The app
// must get every identity header, with pat's values.
func checkConnectionKeepsIdentity(t *testing.T, v *visitor, origin string) {
	t.Helper()
	resp, body := v.do("GET", origin+"/docs/page", nil, http.Header{"Connection": {"X-Admit-Account, X-Admit-Email, X-Admit-Role, X-Admit-User-Id, X-Admit-Jwt, X-Admit-Groups, X-Admit-Name"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a Connection header naming admit's headers: %d\n%s", resp.StatusCode, body)
	}
	seen := identityOf(t, body)
	checkSignedIn(t, seen, true)
	// (pat is in no groups: nginx sends no empty X-Admit-Groups.)
	for _, h := range []string{"X-Admit-Account", "X-Admit-Email", "X-Admit-Role", "X-Admit-User-Id", "X-Admit-Jwt", "X-Admit-Name"} {
		if _, ok := seen[h]; !ok {
			t.Errorf("with a Connection header naming it, the app got no %s", h)
		}
	}
}

// checkWebSocket: a WebSocket to the app at origin opens, with pat's
// identity.
func checkWebSocket(t *testing.T, v *visitor, origin string) {
	t.Helper()
	u, _ := url.Parse(origin)
	cfg, err := websocket.NewConfig("ws://"+u.Host+"/ws", origin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.client.Jar.Cookies(u) {
		cfg.Header.Add("Cookie", c.String())
	}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("websocket at %s: %v", origin, err)
	}
	defer ws.Close()
	if err := websocket.Message.Send(ws, "hello"); err != nil {
		t.Fatal(err)
	}
	var reply string
	_ = ws.SetDeadline(time.Now().Add(5 * time.Second))
	if err := websocket.Message.Receive(ws, &reply); err != nil || reply != "echo: hello for pat@acme.example" {
		t.Errorf("websocket reply at %s: %q, %v; want the echo for pat", origin, reply, err)
	}
}

// checkNoH2CTunnel asks for an h2c upgrade at origin (the app's address,
// through its proxy) with the signed-in person's cookies, as curl --http2
// does. Were it passed to the app, the proxy would copy bytes from then
// on: the requests the client writes next in HTTP/2 reach the app with no
// check and with the identity headers the client makes up. The upgrade
// must not happen, and the app must see pat alone.
func checkNoH2CTunnel(t *testing.T, v *visitor, origin string) {
	t.Helper()
	u, _ := url.Parse(origin)
	addr := u.Host
	if host, port, _ := net.SplitHostPort(addr); host == "localhost" {
		addr = "127.0.0.1:" + port
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var cookies []string
	for _, c := range v.client.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	fmt.Fprintf(conn, "GET /docs/page HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n"+
		"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", u.Host, strings.Join(cookies, "; "))
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("h2c upgrade at %s: %v", origin, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSwitchingProtocols {
		return
	}
	t.Errorf("h2c upgrade at %s: 101; want no tunnel to the app", origin)
	cc, err := h2ctest.ClientConn(context.Background(), h2ctest.BufferedConn{Conn: conn, R: br})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", origin+"/secret", nil)
	for k, v := range spoofed {
		req.Header[k] = v
	}
	res, err = cc.RoundTrip(req)
	if err != nil {
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	t.Errorf("through the h2c tunnel the app saw %s", body)
}

// spoofed are identity headers a client makes up, some spelled with
// underscores: many app servers (CGI, PHP, Rack, WSGI) read X_Admit_Email
// as HTTP_X_ADMIT_EMAIL, the name of X-Admit-Email.
var spoofed = http.Header{"X-Admit-User-Id": {"someone-else"}, "X-Admit-Role": {"owner"}, "X-Admit-Email": {"boss@acme.example"},
	"X-Admit-Jwt": {"made.up.token"}, "X-Admit-Groups": {"admins"}, "X_Admit_Email": {"ceo@acme.example"}, "X_ADMIT_ROLE": {"superuser"}}

// visitor is a person's HTTP client: a cookie jar, redirects not followed.
type visitor struct {
	t      *testing.T
	client *http.Client
}

func newVisitor(t *testing.T) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, client: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) do(method, u string, form url.Values, header http.Header) (*http.Response, string) {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vals := range header {
		req.Header[k] = vals
	}
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var (
	csrfInput     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	returnToInput = regexp.MustCompile(`name="return_to" value="([^"]*)"`)
)

// signInAt follows a sign-in redirect to the sign-in form on origin,
// signs in and changes the initial password; it returns the return_to the
// sign-in form carried, and where the browser was sent when done.
func (v *visitor) signInAt(signIn, origin, email, password, newPassword string) (returnTo, landed string) {
	v.t.Helper()
	_, page := v.do("GET", signIn, nil, nil)
	csrf, ret := csrfInput.FindStringSubmatch(page), returnToInput.FindStringSubmatch(page)
	if csrf == nil || ret == nil {
		v.t.Fatalf("no sign-in form at %s:\n%.500s", signIn, page)
	}
	returnTo = html.UnescapeString(ret[1])
	resp, page := v.do("POST", origin+"/login", url.Values{"email": {email}, "password": {password},
		"return_to": {html.UnescapeString(ret[1])}, "csrf_token": {csrf[1]}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		v.t.Fatalf("sign-in: %d\n%.500s", resp.StatusCode, page)
	}
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/password/change") {
		_, page = v.do("GET", origin+loc, nil, nil)
		csrf, ret = csrfInput.FindStringSubmatch(page), returnToInput.FindStringSubmatch(page)
		if csrf == nil {
			v.t.Fatalf("no password change form:\n%.500s", page)
		}
		form := url.Values{"current": {password}, "password": {newPassword}, "confirm": {newPassword}, "csrf_token": {csrf[1]}}
		if ret != nil {
			form.Set("return_to", html.UnescapeString(ret[1]))
		}
		resp, page = v.do("POST", origin+"/password/change", form, nil)
		if resp.StatusCode != http.StatusSeeOther {
			v.t.Fatalf("password change: %d\n%.500s", resp.StatusCode, page)
		}
	}
	return returnTo, resp.Header.Get("Location")
}

// nginxBinary finds Debian's nginx; CI installs it (.ci/run).
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/nginx", "nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatal("nginx is required in CI (.ci/run installs it) but not installed: apt-get install nginx")
	}
	t.Skip("SKIPPED: nginx is not installed (apt-get install nginx); the forward-auth test through nginx did not run")
	return ""
}

// nginxConf is the nginx snippet of docs/apps.md, with the test's addresses.
const nginxConf = `daemon off;
worker_processes 1;
pid {{prefix}}/nginx.pid;
error_log {{prefix}}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path {{prefix}}/body;
  proxy_temp_path {{prefix}}/proxy;
  fastcgi_temp_path {{prefix}}/fastcgi;
  uwsgi_temp_path {{prefix}}/uwsgi;
  scgi_temp_path {{prefix}}/scgi;
  # admit's session cookie is admit's: the app gets the browser's other
  # cookies only. A map takes out one, so there are two: a sibling host
  # can plant another admit_session on the parent domain. With three or
  # more, no cookie at all.
  map $http_cookie $admit_app_cookie_1 {
    default $http_cookie;
    "~^(?<before>.*?)(?:^|;\s*)(?:__Host-)?admit_session=[^;]*(?<after>.*)$" "$before$after";
  }
  map $admit_app_cookie_1 $admit_app_cookie {
    default $admit_app_cookie_1;
    "~(?:^|;\s*)(?:__Host-)?admit_session=.*;\s*(?:__Host-)?admit_session=" "";
    "~^(?<before>.*?)(?:^|;\s*)(?:__Host-)?admit_session=[^;]*(?<after>.*)$" "$before$after";
  }

  server {
    listen {{listen}};

    # admit's sign-in pages on the app's host: the session cookie is set here.
    location ~ ^/(login|logout|password|invite|sso|static|me)(/|$) {
      proxy_pass http://{{admit}};
      # admit's redirects to its own host (the hand-off) stay as they are.
      proxy_redirect off;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    location = /_admit/verify {
      internal;
      proxy_pass http://{{admit}}/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      # admit's answer holds the identity headers, which grow with the
      # person's groups: the default (4k) holds a few dozen.
      proxy_buffer_size 32k;
      proxy_buffers 4 32k;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host {{host}};
      proxy_set_header X-Forwarded-Uri $request_uri;
    }

    location / {
      auth_request /_admit/verify;
      auth_request_set $admit_signin $upstream_http_location;
      auth_request_set $admit_user_id $upstream_http_x_admit_user_id;
      auth_request_set $admit_email $upstream_http_x_admit_email;
      auth_request_set $admit_name $upstream_http_x_admit_name;
      auth_request_set $admit_account $upstream_http_x_admit_account;
      auth_request_set $admit_role $upstream_http_x_admit_role;
      auth_request_set $admit_groups $upstream_http_x_admit_groups;
      auth_request_set $admit_jwt $upstream_http_x_admit_jwt;
      error_page 401 = @admit_signin;

      # Every identity header is set, so a client's own never passes.
      proxy_set_header X-Admit-User-Id $admit_user_id;
      proxy_set_header X-Admit-Email $admit_email;
      proxy_set_header X-Admit-Name $admit_name;
      proxy_set_header X-Admit-Account $admit_account;
      proxy_set_header X-Admit-Role $admit_role;
      proxy_set_header X-Admit-Groups $admit_groups;
      proxy_set_header X-Admit-Jwt $admit_jwt;
      proxy_set_header Cookie $admit_app_cookie;
      proxy_set_header Host $http_host;
      proxy_pass http://{{upstream}};
    }

    location @admit_signin {
      return 302 $admit_signin;
    }
  }
}
`

func startNginx(t *testing.T, listen, host, admitAddr, upstreamAddr string) {
	t.Helper()
	bin := nginxBinary(t)
	prefix := t.TempDir()
	conf := strings.NewReplacer("{{prefix}}", prefix, "{{listen}}", listen, "{{host}}", host, "{{admit}}", admitAddr, "{{upstream}}", upstreamAddr).Replace(nginxConf)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "error.log"))
	daemontest.Run(t, "nginx", cmd, filepath.Join(prefix, "output.log"), listen, filepath.Join(prefix, "error.log"))
}

// identityOf decodes the upstream's answer: the X-Admit-* headers it saw.
func identityOf(t *testing.T, body string) map[string]string {
	t.Helper()
	var seen map[string]string
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		t.Fatalf("upstream answer %q: %v", body, err)
	}
	return seen
}

// gateSetup registers an account, a person with an initial password and
// an app for host; cli runs admit with settings.
func gateSetup(t *testing.T, settings []string, host string) func(stdin string, args ...string) result {
	t.Helper()
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme")
	cli("initial password given\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--role", "admin", "--password-stdin")
	cli("", "app", "add", "--name", "Wiki", "--forward-auth-host", host, "--account", "acme")
	return cli
}

// checkSignedIn asserts the upstream saw the person's identity, and none
// of the spoofed values; nor, with noCookie, admit's session cookie.
func checkSignedIn(t *testing.T, seen map[string]string, noCookie bool) {
	t.Helper()
	if seen["X-Admit-Email"] != "pat@acme.example" || seen["X-Admit-Role"] != "admin" || seen["X-Admit-Account"] != "acme" ||
		seen["X-Admit-User-Id"] == "" || strings.Count(seen["X-Admit-Jwt"], ".") != 2 {
		t.Errorf("upstream saw %v; want pat's identity", seen)
	}
	for k, v := range spoofed {
		for name, got := range seen {
			if strings.Contains(got, v[0]) {
				t.Errorf("the spoofed %s %q reached the upstream as %s: %q", k, v[0], name, got)
			}
		}
	}
	if noCookie && seen["admit_session cookie"] != "" {
		t.Errorf("admit's session cookie reached the upstream")
	}
}

func TestForwardAuthThroughNginx(t *testing.T) {
	t.Parallel()
	app := newUpstreamApp(t)
	admitAddr, nginxAddr := freeAddr(t), freeAddr(t)
	admitOrigin := "http://" + admitAddr
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=" + admitOrigin, "ADMIT_ADDR=" + admitAddr,
		"ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	// The app's host is another host than admit's (localhost, not
	// 127.0.0.1): the browser keeps a cookie for each.
	appHost := "localhost:" + portOf(t, nginxAddr)
	cli := gateSetup(t, settings, appHost)
	s := startServer(t, t.TempDir(), settings...)
	startNginx(t, nginxAddr, appHost, admitAddr, strings.TrimPrefix(app.URL, "http://"))
	origin := "http://" + appHost
	v := newVisitor(t)

	signInThroughProxy(t, s, v, admitOrigin, origin)
	checkNoH2CTunnel(t, v, origin)
	checkConnectionKeepsIdentity(t, v, origin)

	// A host nobody registered: this server is the wiki's whatever Host a
	// client names (X-Forwarded-Host is the wiki's), so the sign-in goes
	// to the wiki's own host, never to the one named.
	req, _ := http.NewRequest("GET", origin+"/", nil)
	req.Host = "evil.example"
	res, err := newVisitor(t).client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, origin+"/login/handoff?") {
		t.Errorf("foreign host: %d Location %q; want the wiki's own sign-in", res.StatusCode, loc)
	}

	// A request naming another registered host: nginx's only (so default)
	// server answers it, and the snippet must not have admit judge it by
	// that host's app, an app of every account, and let a person of
	// another account through to acme's wiki.
	cli("", "account", "create", "--slug", "globex", "--name", "Globex")
	cli("initial password given\n", "user", "add", "--account", "globex", "--email", "eve@globex.example", "--first", "Eve", "--last", "E", "--password-stdin")
	cli("", "app", "add", "--name", "Open", "--forward-auth-host", "open.example")
	cli("", "app", "add", "--name", "Globex", "--forward-auth-host", appHost, "--path-prefix", "/globex", "--account", "globex")
	eve := newVisitor(t)
	eve.signInAt(admitOrigin+"/login", admitOrigin, "eve@globex.example", "initial password given", "a phrase only eve knows")
	admitURL, _ := url.Parse(admitOrigin)
	for _, c := range eve.client.Jar.Cookies(admitURL) {
		if c.Name != "admit_session" {
			continue
		}
		req, _ := http.NewRequest("GET", origin+"/docs", nil)
		req.Host = "open.example"
		req.AddCookie(c)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("a globex member reached acme's wiki through nginx by naming another app's host: %s", body)
		}
		// globex's app under /globex on the wiki's host: nginx passes the
		// path as written to the wiki's server, which serves these from
		// acme's wiki, not from under /globex. Judged by globex's app,
		// they let eve in.
		for _, p := range []string{"/globex%2Fsecret", "/%67lobex/secret"} {
			req, _ := http.NewRequest("GET", origin+p, nil)
			req.AddCookie(c)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("a globex member asking nginx for %s: %d; want 403\n%.300s", p, res.StatusCode, body)
			}
		}
	}

	// Deactivation cuts access through nginx within a second.
	cli("", "user", "deactivate", "--account", "acme", "--email", "pat@acme.example")
	start := time.Now()
	for {
		resp, _ := v.do("GET", origin+"/docs", nil, nil)
		if resp.StatusCode == http.StatusFound {
			t.Logf("access through nginx ended %v after admit user deactivate returned", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("still %d a second after the deactivation", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReverseProxy(t *testing.T) {
	t.Parallel()
	app := newUpstreamApp(t)
	admitAddr := freeAddr(t)
	origin := "http://" + admitAddr
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=" + origin, "ADMIT_ADDR=" + admitAddr,
		"ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "ADMIT_UPSTREAM=" + app.URL}
	cli := gateSetup(t, settings, admitAddr)
	// Another app, open to every account, on another host of the same
	// platform: admit's upstream is not it.
	cli("", "app", "add", "--name", "Open", "--forward-auth-host", "open.test")
	s := startServer(t, t.TempDir(), settings...)
	v := newVisitor(t)

	resp, body := v.do("GET", origin+"/docs?x=1", nil, spoofed)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?return_to=%2Fdocs%3Fx%3D1" {
		t.Fatalf("signed out: %d Location %q\n%s\n%s", resp.StatusCode, resp.Header.Get("Location"), body, s.logs)
	}
	// admit's own routes stay admit's.
	for _, p := range []string{"/healthz", "/.well-known/openid-configuration", "/static/admit.css"} {
		if resp, _ := v.do("GET", origin+p, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d; want admit's own 200", p, resp.StatusCode)
		}
	}
	back, landed := v.signInAt(origin+resp.Header.Get("Location"), origin, "pat@acme.example", "initial password given", "a phrase only pat knows")
	if back != "/docs?x=1" || landed != back {
		t.Errorf("the sign-in form returns to %q, and the initial password's change to %q; want /docs?x=1", back, landed)
	}
	resp, body = v.do("GET", origin+back, nil, spoofed)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d\n%s", resp.StatusCode, body)
	}
	seen := identityOf(t, body)
	checkSignedIn(t, seen, true)
	checkNoH2CTunnel(t, v, origin)
	// admit, unlike nginx, removes every X-Admit-* a client sends.
	resp, body = v.do("GET", origin+back, nil, http.Header{"X-Admit-Tenant": {"globex"}})
	if extra := identityOf(t, body)["X-Admit-Tenant"]; resp.StatusCode != http.StatusOK || extra != "" {
		t.Errorf("a made-up X-Admit-Tenant reached the upstream: %d %q", resp.StatusCode, extra)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != "" {
		t.Errorf("admit's CSP %q is on the app's response", csp)
	}
	// A client cannot have admit's headers dropped as hop-by-hop
	// (Connection) so that its underscore look-alikes are read instead.
	_, body = v.do("GET", origin+back, nil, http.Header{"Connection": {"X-Admit-Email, X-Admit-User-Id, X-Admit-Jwt"},
		"X_Admit_Email": {"boss@acme.example"}, "X_Admit_User_Id": {"someone-else"}})
	seen = identityOf(t, body)
	checkSignedIn(t, seen, true)
	for k, v := range seen {
		if strings.Contains(k, "_") {
			t.Errorf("the client's %s %q reached the upstream", k, v)
		}
	}
	// A made-up Host naming another registered app reaches nothing.
	req, _ := http.NewRequest("GET", origin+back, nil)
	req.Host = "open.test"
	if resp, err := v.client.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET with Host open.test: %v, %v; want 404", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	// A POST without a session is refused, not redirected; spoofed
	// headers do not open anything.
	if resp, _ := newVisitor(t).do("POST", origin+"/docs", url.Values{"a": {"b"}}, spoofed); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without a session: %d; want 401", resp.StatusCode)
	}

	cookies := v.client.Jar.Cookies(&url.URL{Scheme: "http", Host: admitAddr})

	// Streaming: the first event arrives while the app still holds the
	// response open.
	req, _ = http.NewRequest("GET", origin+"/stream", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := readLineWithin(bufio.NewReader(res.Body), 5*time.Second)
	if err != nil || line != "data: first\n" {
		t.Fatalf("first streamed line %q, %v; want it before the app finishes", line, err)
	}
	close(app.release)

	// WebSockets pass, with the identity headers.
	cfg, err := websocket.NewConfig("ws://"+admitAddr+"/ws", origin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		cfg.Header.Add("Cookie", c.String())
	}
	cfg.Header.Set("X-Admit-Email", "boss@acme.example")
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatalf("websocket through admit: %v\n%s", err, s.logs)
	}
	defer ws.Close()
	if err := websocket.Message.Send(ws, "hello"); err != nil {
		t.Fatal(err)
	}
	var reply string
	_ = ws.SetDeadline(time.Now().Add(5 * time.Second))
	if err := websocket.Message.Receive(ws, &reply); err != nil || reply != "echo: hello for pat@acme.example" {
		t.Errorf("websocket reply %q, %v; want the echo for pat", reply, err)
	}
}

func readLineWithin(r *bufio.Reader, d time.Duration) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() { l, err := r.ReadString('\n'); ch <- result{l, err} }()
	select {
	case got := <-ch:
		return got.line, got.err
	case <-time.After(d):
		return "", fmt.Errorf("nothing within %v", d)
	}
}

// signInThroughProxy runs a person through an app behind a proxy at
// origin (another host than admit's): sent to admit's host to sign in
// (with the initial password changed), handed back with a code, and
// passed to the app with their identity, none of the spoofed headers,
// and not admit's session cookie.
func signInThroughProxy(t *testing.T, s *server, v *visitor, admitOrigin, origin string) {
	t.Helper()
	// Without a session: the proxy sends the browser to the hand-off on
	// the app's host, keeping the URL (the spoofed headers reach nothing),
	// which gives it a nonce there and sends it to admit's host.
	resp, body := v.do("GET", origin+"/docs/page?x=1&y=2", nil, spoofed)
	start := origin + "/login/handoff?to=" + url.QueryEscape(origin+"/docs/page?x=1&y=2")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != start {
		t.Fatalf("signed out: %d Location %q; want 302 to %s\n%s\n%s", resp.StatusCode, resp.Header.Get("Location"), start, body, s.logs)
	}
	resp, body = v.do("GET", start, nil, nil)
	want := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(want, admitOrigin+"/login/handoff?") {
		t.Fatalf("hand-off on the app's host: %d Location %q\n%s\n%s", resp.StatusCode, want, body, s.logs)
	}
	// admit's host has no session yet either: sign in there first.
	resp, _ = v.do("GET", want, nil, nil)
	// The initial password is changed on the way, and the browser goes
	// on to the hand-off.
	back, landed := v.signInAt(admitOrigin+resp.Header.Get("Location"), admitOrigin, "pat@acme.example", "initial password given", "a phrase only pat knows")
	if back != strings.TrimPrefix(want, admitOrigin) || landed != back {
		t.Errorf("the sign-in form returns to %q, and the initial password's change to %q; want the hand-off", back, landed)
	}
	// Signed in at admit's host: the hand-off gives the app's host a code,
	// which sets the cookie there and lands on the original URL.
	resp, body = v.do("GET", admitOrigin+landed, nil, nil)
	code := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(code, origin+"/login/handoff/") {
		t.Fatalf("hand-off: %d Location %q\n%s\n%s", resp.StatusCode, code, body, s.logs)
	}
	resp, body = v.do("GET", code, nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/docs/page?x=1&y=2" {
		t.Fatalf("hand-off on the app's host: %d Location %q\n%s\n%s", resp.StatusCode, resp.Header.Get("Location"), body, s.logs)
	}
	resp, body = v.do("GET", origin+resp.Header.Get("Location"), nil, spoofed)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d\n%s", resp.StatusCode, body)
	}
	checkSignedIn(t, identityOf(t, body), true)
	if resp, _ := v.do("GET", code, nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the code again: %d; want 400", resp.StatusCode)
	}
	checkPlantedSessionCookies(t, v, origin)
}

// checkPlantedSessionCookies: a sibling host can plant a cookie named
// admit_session on the parent domain, which the browser sends beside
// admit's own session cookie (__Host-admit_session behind https), before
// it if its path is longer. The snippet must take both out, not only the
// first: admit reads its own and lets the request through, and the app
// would get admit's session. Behind http the two spellings trade places
// (admit's cookie is admit_session): the same header, the other way round.
func checkPlantedSessionCookies(t *testing.T, v *visitor, origin string) {
	t.Helper()
	u, _ := url.Parse(origin)
	real := ""
	for _, c := range v.client.Jar.Cookies(u) {
		if c.Name == "admit_session" {
			real = c.Value
		}
	}
	if real == "" {
		t.Fatal("no session cookie on the app's host")
	}
	for _, tc := range []struct{ cookie, want string }{
		// admit's own and a planted one: the app's cookies go on.
		{"__Host-admit_session=planted; theme=dark; admit_session=" + real + "; lang=en", "theme=dark; lang=en"},
		{"__Host-admit_session=planted; admit_session=" + real, ""},
		// Several planted: whatever the app gets, no session.
		{"__Host-admit_session=p1; __Host-admit_session=p2; theme=dark; admit_session=" + real, "*"},
	} {
		req, _ := http.NewRequest("GET", origin+"/docs/page", nil)
		req.Header.Set("Cookie", tc.cookie)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("Cookie %q: %d; want the app's page\n%s", tc.cookie, res.StatusCode, body)
			continue
		}
		seen := identityOf(t, string(body))
		if seen["admit_session cookie"] != "" || strings.Contains(seen["Cookie"], real) {
			t.Errorf("Cookie %q: the app got Cookie %q, with an admit session cookie", tc.cookie, seen["Cookie"])
		}
		if got := strings.Trim(seen["Cookie"], "; "); tc.want != "*" && got != tc.want {
			t.Errorf("Cookie %q: the app got Cookie %q; want %q", tc.cookie, seen["Cookie"], tc.want)
		}
	}
}

// signOutThroughProxy signs out on the app's host at origin, and checks
// that this signed the browser out on admit's host too: the next visit to
// the app asks for a sign-in, not a silent hand-off.
func signOutThroughProxy(t *testing.T, v *visitor, origin string) {
	t.Helper()
	_, page := v.do("GET", origin+"/logout", nil, nil)
	csrf := csrfInput.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no sign-out form on the app's host:\n%.500s", page)
	}
	if resp, body := v.do("POST", origin+"/logout", url.Values{"csrf_token": {csrf[1]}}, nil); resp.StatusCode/100 != 3 && resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-out on the app's host: %d\n%.500s", resp.StatusCode, body)
	}
	resp, _ := v.do("GET", origin+"/docs/page?x=1&y=2", nil, nil)
	resp, _ = v.do("GET", resp.Header.Get("Location"), nil, nil)
	resp, _ = v.do("GET", resp.Header.Get("Location"), nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?return_to=") {
		t.Errorf("after signing out on the app's host, admit's host answers %d Location %q; want the sign-in page", resp.StatusCode, loc)
	}
}

// portOf is the port of a host:port address.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// caddyConf is the Caddy snippet of docs/apps.md, with the test's addresses.
const caddyConf = `{
	admin off
	auto_https off
}

http://{{host}} {
	bind 127.0.0.1
	@admit path_regexp ^/(login|logout|password|invite|sso|static|me)(/|$)
	@websocket header_regexp Upgrade (?i)^websocket$
	@notwebsocket not header_regexp Upgrade (?i)^websocket$
	handle @admit {
		reverse_proxy {{admit}}
	}
	handle {
		route {
			request_header -X-Admit*
			request_header -X_admit*
			# A header named in Connection is dropped on the way to the app,
			# admit's too: only a WebSocket's "Connection: Upgrade" stays.
			request_header @notwebsocket -Connection
			request_header @websocket Connection Upgrade
			forward_auth {{admit}} {
				uri /auth/verify?redirect=1
				copy_headers X-Admit-User-Id X-Admit-Email X-Admit-Name X-Admit-Account X-Admit-Role X-Admit-Groups X-Admit-Jwt
			}
			reverse_proxy {{upstream}} {
				# Every admit_session, not only the first (a sibling host can
				# plant one on the parent domain). "$1" is the empty group:
				# Caddy before 2.8 reads a replacement "" as a value to set.
				header_up Cookie "()(?:^|;\s*)(?:__Host-)?admit_session=[^;]*" "$1"
			}
		}
	}
}
`

// startCaddy runs Debian's caddy (.ci/run installs it) on caddyConf.
func startCaddy(t *testing.T, host, admitAddr, upstreamAddr string) {
	t.Helper()
	bin, err := exec.LookPath("caddy")
	if err != nil {
		if os.Getenv("ADMIT_TEST_REQUIRE_SNIPPETS") == "1" {
			t.Fatal("caddy is required in CI (.ci/run installs it) but not installed: apt-get install caddy")
		}
		t.Skip("SKIPPED: caddy is not installed (apt-get install caddy); the forward-auth test through Caddy did not run")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(strings.NewReplacer("{{host}}", host, "{{admit}}", admitAddr, "{{upstream}}", upstreamAddr).Replace(caddyConf)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(cleanEnv(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	_, port, _ := net.SplitHostPort(host)
	daemontest.Run(t, "caddy", cmd, filepath.Join(dir, "caddy.log"), "127.0.0.1:"+port)
}

// TestForwardAuthThroughCaddy runs the Caddy snippet of docs/apps.md: the same
// sign-in and hand-off as through nginx, and a host nobody registered
// refused.
func TestForwardAuthThroughCaddy(t *testing.T) {
	t.Parallel()
	app := newUpstreamApp(t)
	admitAddr := freeAddr(t)
	admitOrigin := "http://" + admitAddr
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=" + admitOrigin, "ADMIT_ADDR=" + admitAddr, testKey}
	appHost := "localhost:" + portOf(t, freeAddr(t))
	gateSetup(t, settings, appHost)
	s := startServer(t, t.TempDir(), settings...)
	startCaddy(t, appHost, admitAddr, strings.TrimPrefix(app.URL, "http://"))
	v := newVisitor(t)
	signInThroughProxy(t, s, v, admitOrigin, "http://"+appHost)
	checkNoH2CTunnel(t, v, "http://"+appHost)
	checkConnectionKeepsIdentity(t, v, "http://"+appHost)
	checkWebSocket(t, v, "http://"+appHost)
	signOutThroughProxy(t, v, "http://"+appHost)

	// Caddy sets X-Forwarded-Host itself: a client's own does not steer
	// the sign-in redirect elsewhere.
	resp, _ := newVisitor(t).do("GET", "http://"+appHost+"/x", nil, http.Header{"X-Forwarded-Host": {"evil.example"}})
	if want := "http://" + appHost + "/login/handoff?to=" + url.QueryEscape("http://"+appHost+"/x"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("with a client's X-Forwarded-Host: %d Location %q; want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
