package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite"
)

// TestBackupWhileServing: `admit backup` copies the SQLite database while
// the server writes to it (SCIM pushes, each a user, a membership and
// their audit events in one transaction). Every copy is a consistent
// instant: no user without its membership or its audit event. A copy then
// restored as docs/operations.md says serves the people it holds.
func TestBackupWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "admit.db")
	settings := []string{"ADMIT_DATABASE_URL=sqlite:" + dbPath, testKey}
	s := startRaceServer(t, dir, settings...)
	cli := func(args ...string) result {
		t.Helper()
		r := runBinary(t, dir, append(cleanEnv(), settings...), "", args...)
		if r.code != 0 {
			t.Fatalf("admit %v: exit %d: %s", args, r.code, r.stderr)
		}
		return r
	}
	cli("account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example")
	token := decode[map[string]any](t, cli("scim-token", "create", "--account", "acme", "--json"))["token"].(string)

	// Two SCIM clients push people until told to stop.
	var (
		pushed  atomic.Int64
		stop    = make(chan struct{})
		writers sync.WaitGroup
		failure atomic.Value
	)
	for w := range 2 {
		writers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("p%d-%d@acme.example", w, i)
				body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + email + `","name":{"givenName":"P","familyName":"Q"},"emails":[{"value":"` + email + `","primary":true}],"active":true}`
				req, _ := http.NewRequest("POST", s.url+"/scim/v2/Users", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failure.Store(err.Error())
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failure.Store(fmt.Sprintf("SCIM push: %d", resp.StatusCode))
					return
				}
				pushed.Add(1)
			}
		})
	}
	waitFor := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for pushed.Load() < n {
			if f := failure.Load(); f != nil {
				t.Fatalf("writer: %v", f)
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d pushes in a minute", pushed.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type copyOf struct {
		path          string
		before, after int64
	}
	var copies []copyOf
	for i := range 3 {
		waitFor(int64(10 * (i + 1)))
		path := filepath.Join(dir, fmt.Sprintf("backup-%d.db", i))
		before := pushed.Load()
		r := cli("backup", "--to", path, "--json")
		after := pushed.Load()
		out := decode[map[string]any](t, r)
		if out["file"] != path || out["bytes"].(float64) <= 0 || out["schema_version"].(float64) != float64(newestMigration(t)) || out["secret_key_fingerprint"] == "" {
			t.Errorf("backup --json: %v", out)
		}
		copies = append(copies, copyOf{path, before, after})
	}
	close(stop)
	writers.Wait()
	if f := failure.Load(); f != nil {
		t.Fatalf("writer: %v", f)
	}

	for _, c := range copies {
		info, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v; the copy holds password hashes, want 0600", c.path, perm)
		}
		users, memberships, created := countsIn(t, c.path)
		// A push answered 201 before the copy began is in it; one
		// answered after the copy ended may be too, but no more.
		if users < c.before || users > c.after+2 {
			t.Errorf("%s holds %d users; %d were pushed before the backup and %d after it", c.path, users, c.before, c.after)
		}
		if memberships != users || created != users {
			t.Errorf("%s is not one instant: %d users, %d memberships, %d membership.created audit events", c.path, users, memberships, created)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	// Restore the last copy as docs/operations.md says: stop the server,
	// put the copy in place of the database, remove the old -wal and -shm
	// files, start the server with the same secret key.
	s.stop(t)
	last := copies[len(copies)-1]
	wantUsers, _, _ := countsIn(t, last.path)
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(last.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dbPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := startServer(t, dir, settings...)
	if resp, _ := restored.get(t, "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("restored server /readyz = %d", resp.StatusCode)
	}
	list := decode[map[string]any](t, cli("user", "list", "--account", "acme", "--limit", "1", "--json"))
	if int64(list["total"].(float64)) != wantUsers {
		t.Errorf("restored database lists %v members; the copy held %d", list["total"], wantUsers)
	}
	restored.stop(t)
}

// countsIn reads a copy as SQLite itself sees it.
func countsIn(t *testing.T, path string) (users, memberships, created int64) {
	t.Helper()
	db, err := sqlx.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var check string
	if err := db.GetContext(ctx, &check, `PRAGMA integrity_check`); err != nil || check != "ok" {
		t.Fatalf("%s: integrity_check = %q, %v", path, check, err)
	}
	for q, dst := range map[string]*int64{
		`SELECT count(*) FROM users`:                                            &users,
		`SELECT count(*) FROM memberships`:                                      &memberships,
		`SELECT count(*) FROM audit_events WHERE action = 'membership.created'`: &created,
	} {
		if err := db.GetContext(ctx, dst, q); err != nil {
			t.Fatalf("%s: %s: %v", path, q, err)
		}
	}
	return users, memberships, created
}

// TestBackupRefusals: what `admit backup` will not do, and that it leaves
// what it refused untouched.
func TestBackupRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "admit.db")
	env := append(cleanEnv(), "ADMIT_DATABASE_URL=sqlite:"+dbPath, testKey)
	if r := runBinary(t, dir, env, "", "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	existing := filepath.Join(dir, "keep.db")
	if err := os.WriteFile(existing, []byte("not to be replaced"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string
	}{
		{"an existing file", env, []string{"--to", existing}, exitError, "keep.db already exists: choose another file, or give --force to replace it\n"},
		{"the database itself", env, []string{"--to", dbPath, "--force"}, exitError, "is the database itself"},
		{"its WAL file", env, []string{"--to", dbPath + "-wal", "--force"}, exitError, "is the database itself"},
		{"the database by another path", env, []string{"--to", filepath.Join(dir, ".", "sub", "..", "admit.db"), "--force"}, exitError, "is the database itself"},
		{"no --to", env, nil, exitUsage, "backup: missing --to"},
		{"a database that is not there", append(cleanEnv(), "ADMIT_DATABASE_URL=sqlite:"+filepath.Join(dir, "typo", "admit.db"), testKey), []string{"--to", filepath.Join(dir, "x.db")}, exitError, "no database at"},
		{"PostgreSQL", append(cleanEnv(), "ADMIT_DATABASE_URL=postgres://127.0.0.1:1/admit", testKey), []string{"--to", filepath.Join(dir, "x.db")}, exitError, "on PostgreSQL use pg_dump"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, dir, tc.env, "", append([]string{"backup"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			if tc.code == exitError && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want one line on stderr, got %q", r.stderr)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "not to be replaced" {
		t.Errorf("the refused target changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a refused backup wrote x.db")
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !os.IsNotExist(err) {
		t.Errorf("backup of a missing database made its folder")
	}
	if r := runBinary(t, dir, env, "", "account", "list"); r.code != 0 || !strings.Contains(r.stdout, "acme") {
		t.Errorf("the database after the refusals: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// --force replaces a file that is not the database, atomically.
	if r := runBinary(t, dir, env, "", "backup", "--to", existing, "--force"); r.code != 0 {
		t.Fatalf("backup --force: %s", r.stderr)
	}
	if users, _, _ := countsIn(t, existing); users != 0 {
		t.Errorf("the forced copy holds %d users, want 0", users)
	}
}
