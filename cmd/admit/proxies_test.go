package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/web"
)

// TestTrustedProxiesThrottleTheClient: behind a load balancer named in
// ADMIT_TRUSTED_PROXIES, a stranger's failed sign-ins count against the
// address the balancer names, not against the balancer: once the stranger
// is throttled, a person behind the same balancer still signs in. Without
// the setting every sign-in had the balancer's address, and a stranger's
// 50 failures refused everyone without a device cookie.
func TestTrustedProxiesThrottleTheClient(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	settings := []string{"ADMIT_DATABASE_URL=sqlite:" + dir + "/admit.db", testKey, "ADMIT_TRUSTED_PROXIES=127.0.0.1"}
	s := startServer(t, dir, settings...)
	env := append(cleanEnv(), settings...)
	admitEnv(t, env, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example")
	admitEnv(t, env, "a long passphrase of pat\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--password-stdin")

	signIn := func(v *visitor, from, email, password string) (*http.Response, string) {
		t.Helper()
		h := http.Header{"X-Forwarded-For": {"203.0.113.250, " + from}} // the left entry is the client's own word
		_, form := v.do("GET", s.url+"/login", nil, h)
		csrf := csrfInput.FindStringSubmatch(form)
		if csrf == nil {
			t.Fatalf("no sign-in form:\n%.500s", form)
		}
		return v.do("POST", s.url+"/login", url.Values{"email": {email}, "password": {password}, "csrf_token": {csrf[1]}}, h)
	}
	stranger := newVisitor(t)
	throttled := false
	for i := range 60 {
		if _, page := signIn(stranger, "198.51.100.7", fmt.Sprintf("nobody%d@acme.example", i), "wrong guess"); strings.Contains(page, "Too many failed sign-ins") {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("60 failures from one client were never throttled")
	}
	resp, page := signIn(newVisitor(t), "198.51.100.8", "pat@acme.example", "a long passphrase of pat")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("pat, behind the same balancer: %d\n%.600s", resp.StatusCode, page)
	}
}

// TestAccessLogNamesTheClient: each request's log line has the client's
// address, the one a trusted proxy names.
func TestAccessLogNamesTheClient(t *testing.T) {
	var logs strings.Builder
	proxies, err := web.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	h := proxies.RealClient(observe(slog.New(slog.NewTextHandler(&logs, nil)), newHTTPMetrics(prometheus.NewRegistry()))(http.NotFoundHandler()))
	r := httptest.NewRequest(http.MethodGet, "/nowhere", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !strings.Contains(logs.String(), "msg=request") || !strings.Contains(logs.String(), "client=198.51.100.7") {
		t.Errorf("the access log line: %s", logs.String())
	}
}
