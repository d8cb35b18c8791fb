package provider_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/npmtest"
	"github.com/admit-dev/admit/store/storetest"
)

// The app snippets of docs/apps.md in other languages, run against the provider:
// each script is an app that prints its authorization URL, is given the
// URL the browser came back to, and prints what it read.

type snippetResult struct {
	Claims   map[string]any `json:"claims"`
	Userinfo map[string]any `json:"userinfo"`
	// What the Node.js app also reads: introspection of its access token,
	// userinfo once it revoked it, introspection with a wrong secret.
	Introspection   map[string]any `json:"introspection"`
	RevokedUserinfo map[string]any `json:"revokedUserinfo"`
	WrongSecret     map[string]any `json:"wrongSecret"`
	Revocation      int            `json:"revocation"` // Python's: the status
}

// runApp runs the app of cmd through a person's sign-in on s.
func runApp(t *testing.T, s *site, cmd *exec.Cmd, email, password string) snippetResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the app ended before printing %s:\n%s", what, stderr.String())
			}
			return l
		case <-ctx.Done():
			t.Fatalf("the app printed no %s in time:\n%s", what, stderr.String())
		}
		return ""
	}
	authURL := next("authorization URL")
	b := s.browser()
	back := b.signIn(b.get(authURL), email, password)
	back.atApp(t)
	if _, err := io.WriteString(stdin, back.url.String()+"\n"); err != nil {
		t.Fatal(err)
	}
	var out snippetResult
	if err := json.Unmarshal([]byte(next("claims")), &out); err != nil {
		t.Fatalf("the app's answer: %v\n%s", err, stderr.String())
	}
	return out
}

func checkSnippetClaims(t *testing.T, got snippetResult, m directory.Member) {
	t.Helper()
	for name, c := range map[string]map[string]any{"ID token": got.Claims, "userinfo": got.Userinfo} {
		account, _ := c["account"].(map[string]any)
		if c["sub"] != m.User.ID || c["email"] != "ada@acme.example" || c["email_verified"] != true || c["name"] != "Ada Lovelace" ||
			c["role"] != "member" || account["slug"] != "acme" || fmt.Sprint(c["amr"]) != "[pwd]" {
			t.Errorf("%s: %v", name, c)
		}
	}
}

// snippetSite is a site with acme, Ada (invited, so her address is
// proven) and a confidential app.
func snippetSite(t *testing.T) (*site, directory.Member, directory.App, string) {
	s := newSite(t, storetest.SQLite(t))
	m := s.invited(s.account("acme"), "ada@acme.example", "correct horse battery", directory.RoleMember)
	app, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "callback"}})
	return s, m, app, secret
}

// TestNodeOpenIDClient: openid-client (npm, pinned in testdata) signs a
// person in, as the Node.js snippet of docs/apps.md; then introspects and
// revokes its access token and reads admit's refusals as it reads any
// provider's.
func TestNodeOpenIDClient(t *testing.T) {
	node := npmtest.Tool(t, "node")
	dir := npmtest.Install(t, filepath.Join("testdata", "openidclient"))
	s, m, app, secret := snippetSite(t)
	cmd := exec.Command(node, filepath.Join(dir, "rp.mjs"), s.issuer, app.ClientID, secret, app.RedirectURIs[0])
	cmd.Dir = dir
	got := runApp(t, s, cmd, "ada@acme.example", "correct horse battery")
	checkSnippetClaims(t, got, m)
	if got.Introspection["active"] != true || got.Introspection["client_id"] != app.ClientID {
		t.Errorf("introspection: %v", got.Introspection)
	}
	// openid-client reads the challenge (RFC 6750 section 3, RFC 6749
	// section 5.2) before the body.
	for name, c := range map[string]struct {
		got    map[string]any
		scheme string
		error  any
	}{
		"userinfo after revocation":         {got.RevokedUserinfo, "bearer", "invalid_token"},
		"introspection with a wrong secret": {got.WrongSecret, "basic", nil},
	} {
		want := map[string]any{"name": "WWWAuthenticateChallengeError", "status": 401.0, "error": nil,
			"challenges": []any{map[string]any{"scheme": c.scheme, "error": c.error}}}
		if diff := cmp.Diff(want, c.got); diff != "" {
			t.Errorf("%s, as openid-client reads it (-want +got):\n%s", name, diff)
		}
	}
}

// TestPythonAuthlib: Debian's python3-authlib signs a person in, as the
// Python snippet of docs/apps.md, then introspects and revokes its access
// token (.ci/run installs python3-authlib; without it the test skips
// unless ADMIT_TEST_REQUIRE_SNIPPETS=1).
func TestPythonAuthlib(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import authlib, requests").Run(); err != nil {
		if os.Getenv("ADMIT_TEST_REQUIRE_SNIPPETS") == "1" {
			t.Fatalf("Debian's python3-authlib is required (ADMIT_TEST_REQUIRE_SNIPPETS=1) but missing: apt-get install python3-authlib (%v)", err)
		}
		fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: Debian's python3-authlib is not installed (apt-get install python3-authlib)\n", t.Name())
		t.Skip("python3-authlib not installed")
	}
	s, m, app, secret := snippetSite(t)
	cmd := exec.Command(python, filepath.Join("testdata", "authlib", "rp.py"), s.issuer, app.ClientID, secret, app.RedirectURIs[0])
	// The test's admit is on http://127.0.0.1; Authlib insists on https
	// otherwise.
	cmd.Env = append(os.Environ(), "AUTHLIB_INSECURE_TRANSPORT=1")
	got := runApp(t, s, cmd, "ada@acme.example", "correct horse battery")
	checkSnippetClaims(t, got, m)
	if got.Introspection["active"] != true || got.Introspection["client_id"] != app.ClientID || got.Revocation != 200 {
		t.Errorf("introspection %v, revocation %d", got.Introspection, got.Revocation)
	}
	want := map[string]any{"status": 401.0, "error": "invalid_token",
		"challenge": `Bearer realm="admit", error="invalid_token", error_description="the access token is not valid"`}
	if diff := cmp.Diff(want, got.RevokedUserinfo); diff != "" {
		t.Errorf("userinfo after revocation (-want +got):\n%s", diff)
	}
}
