package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestUserSignOut: `admit user sign-out`, beside the running server, ends
// the person's sessions in the account: two browsers on admit's host and
// the session a hand-off opened on an app's host (here admit's other
// name, localhost, standing in for the app's host, which passes /login to
// admit) are refused afterwards; the membership stays active.
func TestUserSignOut(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, dbURL string) {
		admitAddr := freeAddr(t)
		admitOrigin := "http://" + admitAddr
		appHost := "localhost:" + portOf(t, admitAddr)
		settings := []string{"ADMIT_DATABASE_URL=" + dbURL, "ADMIT_BASE_URL=" + admitOrigin, "ADMIT_ADDR=" + admitAddr,
			"ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
		cli := gateSetup(t, settings, appHost)
		s := startServer(t, t.TempDir(), settings...)

		laptop, phone := newVisitor(t), newVisitor(t)
		laptop.signInAt(admitOrigin+"/login", admitOrigin, "pat@acme.example", "initial password given", "a phrase only pat knows")
		phone.signInAt(admitOrigin+"/login", admitOrigin, "pat@acme.example", "a phrase only pat knows", "")
		// The laptop's hand-off to the app's host.
		to := "http://" + appHost + "/docs"
		resp, _ := laptop.do("GET", "http://"+appHost+"/login/handoff?to="+url.QueryEscape(to), nil, nil)
		resp, _ = laptop.do("GET", resp.Header.Get("Location"), nil, nil)
		code := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(code, "http://"+appHost+"/login/handoff/") {
			t.Fatalf("hand-off on admit's host: %d Location %q\n%s", resp.StatusCode, code, s.logs)
		}
		if resp, body := laptop.do("GET", code, nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("redeeming the code: %d\n%s", resp.StatusCode, body)
		}
		verify := func() int {
			t.Helper()
			resp, _ := laptop.do("GET", "http://"+appHost+"/auth/verify", nil, http.Header{"X-Forwarded-Host": {appHost}, "X-Forwarded-Uri": {"/docs"}, "X-Forwarded-Proto": {"http"}})
			return resp.StatusCode
		}
		if got := verify(); got != http.StatusOK {
			t.Fatalf("the app host's session at /auth/verify: %d; want 200\n%s", got, s.logs)
		}
		for name, v := range map[string]*visitor{"laptop": laptop, "phone": phone} {
			if resp, _ := v.do("GET", admitOrigin+"/me", nil, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s before: %d", name, resp.StatusCode)
			}
		}

		r := cli("", "user", "sign-out", "--account", "acme", "--email", "pat@acme.example", "--json")
		if m := decode[map[string]any](t, r); m["email"] != "pat@acme.example" || m["status"] != "active" || m["account"] != "acme" {
			t.Errorf("--json: %v; want pat, still active", m)
		}
		time.Sleep(time.Second) // the gate reuses an answer for under a second
		for name, v := range map[string]*visitor{"laptop": laptop, "phone": phone} {
			if resp, _ := v.do("GET", admitOrigin+"/me", nil, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("%s afterwards: %d Location %q; want sent to sign in", name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if got := verify(); got == http.StatusOK {
			t.Errorf("the app host's session at /auth/verify afterwards: %d; want refused", got)
		}
		if r := admitWith(t, append(cleanEnv(), settings...), "", "user", "sign-out", "--account", "acme", "--email", "nobody@acme.example"); r.code != exitError || !strings.Contains(r.stderr, "no user") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("an unknown person: exit %d %q; want a one-line reason", r.code, r.stderr)
		}
	})
}
