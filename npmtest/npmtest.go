// Package npmtest gives tests the npm packages they check admit against
// (samlify, axe-core, standardwebhooks): independent implementations from
// the npm registry, pinned by a package-lock.json in the test's testdata,
// installed once per lockfile into the user's cache, never into the tree.
package npmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Tool finds node or npm. Without it the test skips and says so loudly;
// CI (ADMIT_TEST_REQUIRE_NODE=1 or ADMIT_TEST_REQUIRE_BROWSER=1) fails
// instead, as it does for a missing chromium.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("ADMIT_TEST_REQUIRE_NODE") == "1" || os.Getenv("ADMIT_TEST_REQUIRE_BROWSER") == "1" {
		t.Fatalf("%s is required (ADMIT_TEST_REQUIRE_NODE or ADMIT_TEST_REQUIRE_BROWSER is 1) but not installed: apt-get install nodejs npm", name)
	}
	fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s is not installed (apt-get install nodejs npm)\n", t.Name(), name)
	t.Skipf("%s not installed", name)
	return ""
}

// Install copies the files of dir (package.json, package-lock.json and any
// script beside them) into a folder of the user's cache named after them,
// runs npm ci there once, and returns that folder; its node_modules holds
// the locked packages. The install happens in a temporary folder renamed
// into place, so that a half-done or concurrent install is never used.
func Install(t testing.TB, dir string) string {
	t.Helper()
	npm := Tool(t, "npm")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	h := sha256.New()
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	if files["package-lock.json"] == nil {
		t.Fatalf("%s has no package-lock.json: npm packages of a test are pinned", dir)
	}
	root, err := os.UserCacheDir()
	if err != nil {
		root = t.TempDir()
	}
	root = filepath.Join(root, "admit-test")
	final := filepath.Join(root, filepath.Base(dir)+"-"+hex.EncodeToString(h.Sum(nil)[:8]))
	done := filepath.Join(final, "node_modules", ".package-lock.json")
	if _, err := os.Stat(done); err == nil {
		return final
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // after a successful rename there is nothing left
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(tmp, name), files[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// No install scripts: none of the locked packages needs one, and a
	// test has no business running a registry's code at install time.
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "NPM_CONFIG_UPDATE_NOTIFIER=false")
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci for %s (CI needs the npm registry): %v\n%s", dir, err, out)
	}
	t.Logf("npm ci for %s took %s", dir, time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, final); err != nil {
		// Another test process got there first: use its install.
		if _, statErr := os.Stat(done); statErr != nil {
			t.Fatalf("install into %s: %v", final, err)
		}
	}
	return final
}
