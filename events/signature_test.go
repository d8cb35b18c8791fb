package events_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/store/storetest"
)

// The signatures are checked by an independent implementation: the
// Standard Webhooks reference library for JavaScript (standardwebhooks on
// the npm registry), at the version testdata/standardwebhooks pins.

const standardWebhooksDir = "testdata/standardwebhooks"

// npmTool finds npm. Without it the test skips and says so loudly; with
// ADMIT_TEST_REQUIRE_NODE=1 (CI) it fails.
func npmTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("npm")
	if err == nil {
		return path
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_NODE") == "1" {
		t.Fatal("npm is required (ADMIT_TEST_REQUIRE_NODE=1) but not installed: apt-get install nodejs npm")
	}
	fmt.Fprintln(os.Stderr, "\n!!! SKIPPING the Standard Webhooks signature check: npm is not installed (apt-get install nodejs npm)")
	t.Skip("npm not installed")
	return ""
}

// verifier returns the folder holding the locked standardwebhooks
// library and verify.js. npm ci installs it once per lockfile into the
// user's cache (never the tree), in a temporary folder renamed into place,
// as cmd/admit's axe check does.
func verifier(t *testing.T) string {
	t.Helper()
	npm := npmTool(t)
	files := map[string][]byte{}
	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json", "verify.js"} {
		b, err := os.ReadFile(filepath.Join(standardWebhooksDir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
		h.Write(b)
	}
	root, err := os.UserCacheDir()
	if err != nil {
		root = t.TempDir()
	}
	root = filepath.Join(root, "admit-test")
	final := filepath.Join(root, "standardwebhooks-"+hex.EncodeToString(h.Sum(nil)[:8]))
	if _, err := os.Stat(filepath.Join(final, "node_modules", "standardwebhooks")); err == nil {
		return final
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// No install scripts: the library needs none, and a test has no
	// business running a registry's code at install time.
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "NPM_CONFIG_UPDATE_NOTIFIER=false")
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci for %s (CI needs the npm registry): %v\n%s", standardWebhooksDir, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(filepath.Join(final, "node_modules", "standardwebhooks")); statErr != nil {
			t.Fatalf("install into %s: %v", final, err)
		}
	}
	return final
}

// verifyCase is one message for verify.js to check with one secret.
type verifyCase struct {
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
	Body      string `json:"body"`
}

// verify runs the library on each case and returns its verdicts.
func verify(t *testing.T, dir string, cases []verifyCase) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed beside npm")
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "verify.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("verify.js: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestSignaturesVerifyWithStandardWebhooks delivers events before, during
// and after secret rotations, and has the reference library check each
// against each secret: every secret in force verifies, no other does.
func TestSignaturesVerifyWithStandardWebhooks(t *testing.T) {
	dir := verifier(t)
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, first := r.webhook(t, rc.URL, a.ID, directory.EventUserCreated)
		r.start(t)
		deliver := func(prefix string) received {
			t.Helper()
			n := len(rc.accepted())
			scimCreates(t, r.svc, a, prefix, 1)
			waitFor(t, "a delivery", 30*time.Second, func() bool { return len(rc.accepted()) > n })
			return rc.accepted()[n]
		}
		rotate := func(overlap time.Duration) string {
			t.Helper()
			secret := events.NewSecret()
			must[directory.Webhook](t)(r.svc.RotateWebhookSecret(ctx, operator, w.ID, overlap,
				func(purpose string) string { return r.sealer.Seal([]byte(secret), purpose) }))
			return secret
		}
		before := deliver("a")
		second := rotate(time.Hour) // both sign for an hour
		during := deliver("b")
		third := rotate(0) // the second stops signing at once
		after := deliver("c")
		cases := []struct {
			name   string
			msg    received
			secret string
			ok     bool
		}{
			{"before rotation, first secret", before, first, true},
			{"before rotation, second secret", before, second, false},
			{"during the overlap, first secret", during, first, true},
			{"during the overlap, second secret", during, second, true},
			{"after an overlap of zero, second secret", after, second, false},
			{"after an overlap of zero, third secret", after, third, true},
			{"a stranger's secret", after, events.NewSecret(), false},
		}
		var in []verifyCase
		for _, c := range cases {
			in = append(in, verifyCase{Secret: c.secret, ID: c.msg.ID, Timestamp: c.msg.Timestamp, Signature: c.msg.Signature, Body: string(c.msg.Body)})
		}
		// A body changed in transit is refused.
		in = append(in, verifyCase{Secret: third, ID: after.ID, Timestamp: after.Timestamp, Signature: after.Signature, Body: strings.Replace(string(after.Body), "user.created", "user.updated", 1)})
		got := verify(t, dir, in)
		if len(got) != len(in) {
			t.Fatalf("verify.js answered %d lines for %d cases: %q", len(got), len(in), got)
		}
		for i, c := range cases {
			if ok := got[i] == "ok"; ok != c.ok {
				t.Errorf("%s: library says %q; want verified=%v (signature %q)", c.name, got[i], c.ok, c.msg.Signature)
			}
		}
		if got[len(got)-1] == "ok" {
			t.Error("a changed body verifies")
		}
		if n := strings.Count(during.Signature, "v1,"); n != 2 {
			t.Errorf("during the overlap: %d signatures; want 2", n)
		}
	})
}
