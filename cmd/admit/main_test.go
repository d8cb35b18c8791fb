package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/storetest"
)

// admitBin is admit built once for the tests that run it as a user would.
// raceBin is the same built with the race detector, for the tests whose
// point is one process doing many things at once (two replicas, a backup
// while serving, a database restart under load): startRaceServer runs it
// and fails the test on any race it reports. The others run the plain
// build: the race detector made each of them about twice as slow, and the
// packages they drive are tested with it on their own.
var admitBin, raceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "admit-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	admitBin, raceBin = filepath.Join(dir, "admit"), filepath.Join(dir, "admit-race")
	// A race-built program sleeps a second as it exits, for reports from
	// goroutines still running; races are still reported as they happen.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	errs := make(chan error, 2)
	for _, b := range [][]string{{"-o", admitBin}, {"-race", "-o", raceBin}} {
		go func() {
			out, err := exec.Command("go", append(append([]string{"build"}, b...), ".")...).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("build admit %v: %w\n%s", b, err, out)
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	defer os.RemoveAll(dir)
	storetest.Main(m)
}

// result is what one run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

// testKey is the secret key the tests give the server and the CLI, as an
// operator gives every process the same ADMIT_SECRET_KEY.
const testKey = "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// admit runs the binary with the given database and arguments; stdin feeds
// its standard input. Each run is in a folder of its own.
func admit(t *testing.T, dbURL, stdin string, args ...string) result {
	t.Helper()
	return admitWith(t, append(os.Environ(), "ADMIT_DATABASE_URL="+dbURL, testKey), stdin, args...)
}

// admitWith runs the binary with exactly the environment env.
func admitWith(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	return runBinary(t, t.TempDir(), env, stdin, args...)
}

// runBinary runs the binary in dir with exactly the environment env.
func runBinary(t *testing.T, dir string, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, admitBin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run admit %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// eachDatabase runs fn against a fresh SQLite file and a fresh PostgreSQL database.
func eachDatabase(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.PostgresURL(t)) })
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return v
}

func TestCLI(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		r := admit(t, db, "", "account create", "--slug", "acme", "--name", "Acme Inc", "--domain", "acme.example", "--json")
		if r.code != 0 {
			// "account create" as one argument is not a command.
			if !strings.Contains(r.stderr, "unknown command") || r.code != exitUsage {
				t.Errorf("quoted command: exit %d, %q", r.code, r.stderr)
			}
		}
		r = admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "ACME.example", "--json")
		if r.code != 0 {
			t.Fatalf("account create: exit %d: %s", r.code, r.stderr)
		}
		acct := decode[map[string]any](t, r)
		if acct["slug"] != "acme" || fmt.Sprint(acct["domains"]) != "[acme.example]" {
			t.Errorf("account create JSON = %v", acct)
		}

		for _, tc := range []struct {
			name       string
			stdin      string
			args       []string
			code       int
			stderrHas  string
			stdoutJSON map[string]any
		}{
			{"duplicate account", "", []string{"account", "create", "--slug", "acme", "--name", "Other", "--json"}, exitError, "admit: account acme already exists\n", map[string]any{"kind": "conflict"}},
			{"bad slug", "", []string{"account", "create", "--slug", "Not A Slug", "--name", "X"}, exitError, "slug", nil},
			{"missing flag", "", []string{"account", "create", "--slug", "x"}, exitUsage, "missing --name", nil},
			{"unknown flag", "", []string{"account", "create", "--bogus"}, exitUsage, "bogus", nil},
			{"unknown command", "", []string{"frobnicate"}, exitUsage, "unknown command", nil},
			{"bad config", "", []string{"account", "list", "--addr", "nonsense"}, exitUsage, "ADMIT_ADDR", nil},
			{"add user", "correct horse battery staple\n", []string{"user", "add", "--account", "acme", "--email", "Ada@Acme.example", "--first", "Ada", "--last", "Lovelace", "--role", "admin", "--password-stdin", "--json"}, 0, "",
				map[string]any{"email": "Ada@acme.example", "role": "admin", "status": "active", "new_user": true, "password_set": true, "password_must_change": true}},
			{"add again", "correct horse battery staple\n", []string{"user", "add", "--account", "acme", "--email", "ada@acme.example", "--first", "Ada", "--last", "Lovelace", "--password-stdin", "--json"}, exitError, "already a member",
				map[string]any{"kind": "conflict"}},
			{"weak password", "password1\n", []string{"user", "add", "--account", "acme", "--email", "bob@acme.example", "--first", "Bob", "--last", "B", "--password-stdin"}, exitError, "too common", nil},
			{"no password on stdin", "", []string{"user", "add", "--account", "acme", "--email", "bob@acme.example", "--first", "Bob", "--last", "B", "--password-stdin"}, exitUsage, "no password", nil},
			{"no password flag", "", []string{"user", "add", "--account", "acme", "--email", "bob@acme.example", "--first", "Bob", "--last", "B"}, exitUsage, "--password-stdin", nil},
			{"no such account", "a fine long password\n", []string{"user", "add", "--account", "nope", "--email", "bob@acme.example", "--first", "Bob", "--last", "B", "--password-stdin"}, exitError, `no account "nope"`, nil},
			{"custom role", "", []string{"role", "create", "--account", "acme", "--name", "auditor"}, 0, "", nil},
			{"policy", "", []string{"account", "set-policy", "--account", "acme", "--min-length", "14", "--require", "digit", "--json"}, 0, "",
				map[string]any{"slug": "acme"}},
			{"policy applies", "fourteen chars!\n", []string{"user", "add", "--account", "acme", "--email", "eve@acme.example", "--first", "Eve", "--last", "E", "--password-stdin"}, exitError, "digit", nil},
			{"bad policy", "", []string{"account", "set-policy", "--account", "acme", "--min-length", "4"}, exitError, "between 8 and 128", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := admit(t, db, tc.stdin, tc.args...)
				if r.code != tc.code {
					t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
				}
				if tc.code != 0 {
					// One line of reason; a mistake in how a command was
					// called adds its synopsis, whatever the mistake
					// (found: user add without a password flag did not),
					// but not one in the settings, nor an unknown command.
					lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
					wantSynopsis := tc.code == exitUsage && tc.name != "bad config" && tc.name != "unknown command"
					synopsis := len(lines) == 3 && strings.HasPrefix(lines[1], "usage: admit "+tc.args[0]) && strings.HasPrefix(lines[2], "Run 'admit help ")
					if !strings.HasPrefix(r.stderr, "admit: ") || (len(lines) != 1 && !synopsis) || synopsis != wantSynopsis {
						t.Errorf("stderr = %q; want one line starting with 'admit: ' (and the synopsis: %v)", r.stderr, wantSynopsis)
					}
				}
				if !strings.Contains(r.stderr, tc.stderrHas) {
					t.Errorf("stderr = %q; want it to mention %q", r.stderr, tc.stderrHas)
				}
				if tc.stdoutJSON != nil {
					got := decode[map[string]any](t, r)
					for k, v := range tc.stdoutJSON {
						if got[k] != v {
							t.Errorf("JSON %s = %v; want %v (all: %v)", k, got[k], v, got)
						}
					}
				}
			})
		}

		// The same person added to a second account keeps their password.
		if r := admit(t, db, "", "account", "create", "--slug", "beta", "--name", "Beta"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r = admit(t, db, "another password entirely\n", "user", "add", "--account", "beta", "--email", "ADA@acme.example", "--first", "A", "--last", "L", "--password-stdin", "--json")
		added := decode[map[string]any](t, r)
		if r.code != 0 || added["new_user"] != false || added["password_set"] != false {
			t.Errorf("add to second account: exit %d, %v; want an existing user, password untouched", r.code, added)
		}
		if !strings.Contains(admit(t, db, "another password entirely\n", "user", "add", "--account", "beta", "--email", "x@beta.example", "--first", "X", "--last", "Y", "--password-stdin").stdout, "must change") {
			t.Error("text output of a new user does not say the password must be changed")
		}

		r = admit(t, db, "", "user", "list", "--account", "acme", "--json")
		list := decode[struct {
			Total   int              `json:"total"`
			Members []map[string]any `json:"members"`
		}](t, r)
		if list.Total != 1 || len(list.Members) != 1 || list.Members[0]["email"] != "Ada@acme.example" {
			t.Errorf("user list = %+v", list)
		}
		// The Users page's filters, and an invited person, who is not
		// deactivated (their invitation is revoked instead).
		if r := admit(t, db, "", "invite", "create", "--account", "acme", "--email", "ivy@acme.example"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r = admit(t, db, "", "user", "list", "--account", "acme", "--status", "invited", "--never-signed-in", "--json")
		list = decode[struct {
			Total   int              `json:"total"`
			Members []map[string]any `json:"members"`
		}](t, r)
		if list.Total != 1 || len(list.Members) != 1 || list.Members[0]["email"] != "ivy@acme.example" {
			t.Errorf("user list --status invited --never-signed-in = %+v; want ivy alone", list)
		}
		if r := admit(t, db, "", "user", "list", "--account", "acme", "--bounced"); r.code != 0 || !strings.Contains(r.stdout, "no member of acme matches these filters") {
			t.Errorf("user list --bounced: exit %d, %q %q; want none", r.code, r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "user", "list", "--account", "acme", "--status", "gone"); r.code != 1 || !strings.Contains(r.stderr, `there is no status "gone"`) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("user list --status gone: exit %d, %q; want exit 1 and one line naming the statuses", r.code, r.stderr)
		}
		if r := admit(t, db, "", "user", "deactivate", "--account", "acme", "--email", "ivy@acme.example"); r.code != 1 || !strings.Contains(r.stderr, "Revoke the invitation instead") {
			t.Errorf("user deactivate of an invited person: exit %d, %q; want exit 1 and the way out", r.code, r.stderr)
		}
		r = admit(t, db, "", "migrate", "--json")
		if m := decode[map[string]any](t, r); r.code != 0 || m["version"] != float64(newestMigration(t)) {
			t.Errorf("migrate: exit %d, %v", r.code, m)
		}
	})
}

// TestFlagValueRefusals: a flag value a command cannot take is refused
// before anything is opened, exit 2, with a reason that says what the flag
// wants (not the flag package's "parse error"), and the synopsis; a limit
// out of its range is refused, not quietly made another number of rows.
func TestFlagValueRefusals(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"webhook", "deliveries", "--id", "x", "--limit", "0"}, `webhook deliveries: --limit "0": want a whole number from 1 to 1000`},
		{[]string{"webhook", "deliveries", "--id", "x", "--limit", "-1"}, `webhook deliveries: --limit "-1": want a whole number from 1 to 1000`},
		{[]string{"webhook", "deliveries", "--id", "x", "--limit", "5000"}, `webhook deliveries: --limit "5000": want a whole number from 1 to 1000`},
		{[]string{"webhook", "deliveries", "--id", "x", "--limit", "many"}, `webhook deliveries: --limit "many": want a whole number from 1 to 1000`},
		{[]string{"audit", "list", "--account", "acme", "--limit", "1001"}, `audit list: --limit "1001": want a whole number from 1 to 1000`},
		{[]string{"user", "list", "--account", "acme", "--limit", "501"}, `user list: --limit "501": want a whole number from 1 to 500`},
		{[]string{"mail", "list", "--account", "acme", "--limit", "0"}, `mail list: --limit "0": want a whole number from 1 to 500`},
		{[]string{"sso", "attempts", "--account", "acme", "--connection", "okta", "--limit", "0"}, `sso attempts: --limit "0": want a whole number from 1 to 200`},
		{[]string{"webhook", "rotate-secret", "--id", "x", "--overlap", "1d"}, `webhook rotate-secret: --overlap "1d": want a duration like 24h, 90m or 30s (units h, m, s; no d: 7 days is 168h)`},
		{[]string{"invite", "create", "--account", "acme", "--email", "a@acme.example", "--expires-in", "2w"}, `invite create: --expires-in "2w": want a duration like 24h`},
		{[]string{"role", "map", "--account", "acme", "--group", "G", "--role", "admin", "--priority", "high"}, `role map: --priority "high": want a whole number`},
		{[]string{"sso", "update", "--account", "acme", "--connection", "okta", "--allow-idp-initiated=maybe"}, `sso update: --allow-idp-initiated "maybe": want true or false`},
	} {
		r := admit(t, db, "", tc.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != exitUsage || !strings.HasPrefix(lines[0], "admit: "+tc.want) || len(lines) != 3 || !strings.HasPrefix(lines[1], "usage: admit "+tc.args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2, %q and the synopsis", tc.args, r.code, r.stderr, "admit: "+tc.want)
		}
	}
	if _, err := os.Stat(strings.TrimPrefix(db, "sqlite:")); err == nil {
		t.Errorf("a refused command opened the database")
	}
	// A limit in range is taken.
	if r := admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := admit(t, db, "", "user", "list", "--account", "acme", "--limit", "500"); r.code != 0 {
		t.Errorf("user list --limit 500: exit %d, %s", r.code, r.stderr)
	}
}

func TestUserListPages(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme")
	for _, e := range []string{"c@x.example", "a@x.example", "b@x.example"} {
		if r := admit(t, db, "a perfectly fine password\n", "user", "add", "--account", "acme", "--email", e, "--first", "F", "--last", "L", "--password-stdin"); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	type page struct {
		Members []struct{ Email string } `json:"members"`
		Next    string                   `json:"next_cursor"`
	}
	first := decode[page](t, admit(t, db, "", "user", "list", "--account", "acme", "--limit", "2", "--json"))
	if len(first.Members) != 2 || first.Members[0].Email != "a@x.example" || first.Next == "" {
		t.Fatalf("first page = %+v", first)
	}
	second := decode[page](t, admit(t, db, "", "user", "list", "--account", "acme", "--limit", "2", "--after", first.Next, "--json"))
	if len(second.Members) != 1 || second.Members[0].Email != "c@x.example" || second.Next != "" {
		t.Errorf("second page = %+v", second)
	}
	if r := admit(t, db, "", "user", "list", "--account", "acme", "--after", "garbage!"); r.code != exitError || !strings.Contains(r.stderr, "cursor") {
		t.Errorf("bad cursor: exit %d %q", r.code, r.stderr)
	}
}

// server is a running `admit serve`.
type server struct {
	cmd *exec.Cmd
	url string
	// metricsURL is the listener of ADMIT_METRICS_ADDR ("" when off).
	metricsURL string
	done       chan error
	logs       *syncBuffer
	// settings are the ADMIT_ settings it runs with, for CLI runs beside it.
	settings []string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	listeningAddr = regexp.MustCompile(`msg="admit is listening" addr=(\S+)`)
	metricsAddr   = regexp.MustCompile(`msg="metrics are listening" addr=(\S+)`)
)

// cleanEnv is the test's environment without any ADMIT_ setting.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADMIT_") {
			env = append(env, kv)
		}
	}
	return env
}

// startServer runs `admit serve` in dir with only the given ADMIT_ settings
// plus free loopback ports (for the public and the metrics listener), and
// waits until it listens.
func startServer(t *testing.T, dir string, settings ...string) *server {
	t.Helper()
	return startBuilt(t, admitBin, dir, settings...)
}

// startRaceServer is startServer with the race-built admit: the test fails
// if it reports a data race.
func startRaceServer(t *testing.T, dir string, settings ...string) *server {
	t.Helper()
	var s *server
	// Registered first, so it runs last: after the server has exited and
	// its every line is read.
	t.Cleanup(func() {
		if s == nil {
			return
		}
		if logs := s.logs.String(); strings.Contains(logs, "WARNING: DATA RACE") {
			t.Errorf("admit serve reported a data race:\n%s", logs)
		}
	})
	s = startBuilt(t, raceBin, dir, settings...)
	return s
}

func startBuilt(t *testing.T, bin, dir string, settings ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	// Later settings win: a test may choose its own addresses.
	cmd.Env = append(append(cleanEnv(), "ADMIT_ADDR=127.0.0.1:0", "ADMIT_METRICS_ADDR=127.0.0.1:0"), settings...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), logs: &syncBuffer{}, settings: settings}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.Write([]byte(line + "\n"))
			// The metrics listener is logged first, so it is known by
			// the time startServer returns.
			if m := metricsAddr.FindStringSubmatch(line); m != nil {
				s.metricsURL = "http://" + m[1]
			}
			if m := listeningAddr.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case addr := <-found:
		s.url = "http://" + addr
	case err := <-s.done:
		t.Fatalf("admit serve exited before listening: %v\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("admit serve did not start listening\n%s", s.logs)
	}
	return s
}

func (s *server) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// metrics reads /metrics from the metrics listener.
func (s *server) metrics(t *testing.T) string {
	t.Helper()
	if s.metricsURL == "" {
		t.Fatalf("no metrics listener in the log\n%s", s.logs)
	}
	resp, err := http.Get(s.metricsURL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", resp.StatusCode)
	}
	return string(body)
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("admit serve exited with %v after SIGTERM; want 0\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("admit serve did not stop after SIGTERM\n%s", s.logs)
	}
}

func TestServeWithNoConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Only the ports differ from a bare `admit serve`: the defaults 8080
	// and 9090 may be taken.
	s := startServer(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "admit-data", "admit.db")); err != nil {
		t.Errorf("default database not created: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "admit-data", "secret.key"))
	if err != nil {
		t.Fatalf("secret key not generated: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret key mode = %v; want 0600", perm)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "admit-data", "secret.key"))

	for _, tc := range []struct {
		path, contentType, bodyHas string
		status                     int
	}{
		{"/healthz", "application/json", `"ok"`, 200},
		{"/readyz", "application/json", `"ready"`, 200},
		{"/", "text/html", "intranet", 200},
		{"/no/such/page", "text/html", "no page", 404},
		{"/static/admit.css", "text/css", "--brand", 200},
	} {
		resp, body := s.get(t, tc.path)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(body, tc.bodyHas) {
			t.Errorf("GET %s = %d %q, body %.200q; want %d %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.contentType, tc.bodyHas)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET %s: Content-Security-Policy = %q", tc.path, csp)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", tc.path)
		}
	}
	metrics := s.metrics(t)
	for _, want := range []string{
		`admit_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`admit_http_request_duration_seconds_bucket{method="GET",route="GET /readyz"`,
		`admit_http_requests_total{code="404",method="GET",route="/"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// An oversized body is refused before any handler reads it.
	resp, err := http.Post(s.url+"/", "text/plain", strings.NewReader(strings.Repeat("x", maxBodyBytes+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized POST = %d; want 413", resp.StatusCode)
	}

	// The CLI works on the same database while the server runs.
	// It finds the key beside the database, wherever it runs.
	env := append(cleanEnv(), "ADMIT_DATABASE_URL=sqlite:"+filepath.Join(dir, "admit-data", "admit.db"))
	if r := admitWith(t, env, "", "account", "create", "--slug", "live", "--name", "Live"); r.code != 0 {
		t.Errorf("account create while serving: %s", r.stderr)
	}
	if r := admitWith(t, env, "a long enough password\n", "user", "add", "--account", "live", "--email", "x@live.example", "--first", "X", "--last", "Y", "--password-stdin"); r.code != 0 {
		t.Errorf("user add while serving: %s", r.stderr)
	}
	s.stop(t)

	// A second start keeps the same key.
	s = startServer(t, dir)
	again, _ := os.ReadFile(filepath.Join(dir, "admit-data", "secret.key"))
	if !bytes.Equal(key, again) {
		t.Error("the secret key changed between starts")
	}
	s.stop(t)
}

func TestMetricsListener(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	s.get(t, "/healthz")
	if resp, body := s.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "admit_") {
		t.Errorf("public GET /metrics = %d; want 404 and no metrics", resp.StatusCode)
	}
	if metrics := s.metrics(t); !strings.Contains(metrics, `admit_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`) {
		t.Errorf("the metrics listener lacks the public listener's requests:\n%.500s", metrics)
	}
	// The metrics listener serves nothing else.
	for _, path := range []string{"/healthz", "/login", "/"} {
		resp, err := http.Get(s.metricsURL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("metrics listener GET %s = %d; want 404", path, resp.StatusCode)
		}
	}
	s.stop(t)

	off := startServer(t, t.TempDir(), "ADMIT_METRICS_ADDR=off")
	if off.metricsURL != "" || !strings.Contains(off.logs.String(), "no metrics are served") {
		t.Errorf("ADMIT_METRICS_ADDR=off: metrics at %q; want none, and the log saying so", off.metricsURL)
	}
	if resp, _ := off.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("public GET /metrics with metrics off = %d; want 404", resp.StatusCode)
	}
	off.stop(t)
}

func TestMetricsAddressRefusals(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not an address", []string{"--metrics-addr", "nonsense"}, exitUsage, `ADMIT_METRICS_ADDR "nonsense": want host:port, or off`},
		{"empty by flag", []string{"--ADMIT_METRICS_ADDR", ""}, exitUsage, "ADMIT_METRICS_ADDR"},
		{"the public listener", []string{"--addr", "127.0.0.1:8181", "--metrics-addr", "127.0.0.1:8181"}, exitUsage, "metrics need a listener of their own"},
		{"a taken port", []string{"--addr", "127.0.0.1:0", "--metrics-addr", taken.Addr().String()}, exitError, "(ADMIT_METRICS_ADDR; off serves no metrics)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := admitWith(t, append(cleanEnv(), "ADMIT_DATABASE_URL="+storetest.SQLiteURL(t), testKey), "", append([]string{"serve"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, %q; want %d mentioning %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}

func TestReadyzWhenDatabaseIsGone(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	s := startServer(t, t.TempDir(), "ADMIT_DATABASE_URL="+dbURL, testKey)
	if resp, _ := s.get(t, "/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz = %d before the database went away", resp.StatusCode)
	}
	storetest.DropPostgres(t, dbURL)
	resp, body := s.get(t, "/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "database unreachable") {
		t.Errorf("/readyz = %d %q; want 503 naming the database", resp.StatusCode, body)
	}
	if resp, _ := s.get(t, "/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz = %d; liveness must not depend on the database", resp.StatusCode)
	}
	s.stop(t)
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	r := admit(t, "sqlite:x.db", "", "serve", "--base-url", "ftp://x", "--secret-key", "short")
	if r.code != exitUsage || !strings.Contains(r.stderr, "ADMIT_BASE_URL") || !strings.Contains(r.stderr, "ADMIT_SECRET_KEY") {
		t.Errorf("exit %d, %q; want usage error naming both problems", r.code, r.stderr)
	}
}

func TestServeRefusesAnExposedSecretKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "admit-data"), 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "admit-data", "secret.key")
	if err := os.WriteFile(key, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(admitBin, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError || !strings.Contains(string(out), "readable by other users") {
		t.Errorf("serve with a 0644 key: %v\n%s\nwant exit 1 telling to chmod 600", err, out)
	}
}

func TestConfiguredSecretKeyIsNotWrittenToDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, testKey)
	s.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "admit-data", "secret.key")); !os.IsNotExist(err) {
		t.Errorf("secret.key exists although ADMIT_SECRET_KEY was set: %v", err)
	}
}

func TestSCIMTokenCommands(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme")
	r := admit(t, db, "", "scim-token", "create", "--account", "acme", "--name", "Okta production", "--json")
	created := decode[map[string]any](t, r)
	token, _ := created["token"].(string)
	if r.code != 0 || !strings.HasPrefix(token, "admit_scim_") || !strings.HasSuffix(created["base_url"].(string), "/scim/v2") {
		t.Fatalf("scim-token create: exit %d, %v", r.code, created)
	}
	list := admit(t, db, "", "scim-token", "list", "--account", "acme", "--json")
	if strings.Contains(list.stdout, token) {
		t.Error("scim-token list shows the token itself; it must be shown only once")
	}
	if r := admit(t, db, "", "scim-token", "revoke", "--account", "acme", "--id", created["id"].(string)); r.code != 0 || !strings.Contains(r.stdout, "no longer works") {
		t.Errorf("revoke: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := admit(t, db, "", "scim-token", "revoke", "--account", "acme", "--id", "nope"); r.code != exitError {
		t.Errorf("revoke unknown: exit %d", r.code)
	}
}

func TestDeactivateAndReactivate(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme")
	admit(t, db, "a long enough password\n", "user", "add", "--account", "acme", "--email", "x@acme.example", "--first", "X", "--last", "Y", "--password-stdin")
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"user", "deactivate", "--account", "acme", "--email", "x@acme.example"}, 0, "sessions there have ended"},
		{[]string{"user", "add", "--account", "acme", "--email", "x@acme.example", "--first", "X", "--last", "Y", "--invite"}, exitError, "reactivate them instead"},
		{[]string{"user", "reactivate", "--account", "acme", "--email", "x@acme.example"}, 0, "can sign in again"},
		{[]string{"user", "reactivate", "--account", "acme", "--email", "x@acme.example"}, exitError, "not deactivated"},
		{[]string{"user", "deactivate", "--account", "acme", "--email", "nobody@acme.example"}, exitError, "no user"},
	} {
		r := admit(t, db, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) {
			t.Errorf("%v: exit %d %s%s; want %d mentioning %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
}

func TestRoleMappingCommands(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme")
	admit(t, db, "", "role", "create", "--account", "acme", "--name", "billing")
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"role", "mappings", "--account", "acme"}, 0, "no group-to-role mappings"},
		{[]string{"role", "map", "--account", "acme", "--group", "Platform Admins", "--role", "admin"}, 0, "priority 200"},
		{[]string{"role", "map", "--account", "acme", "--group", "Finance", "--role", "billing", "--priority", "300"}, 0, "priority 300"},
		{[]string{"role", "map", "--account", "acme", "--group", "Owners", "--role", "owner"}, exitError, "no group can give the owner role"},
		{[]string{"role", "map", "--account", "acme", "--group", "X", "--role", "nope"}, exitError, "does not exist"},
		{[]string{"role", "map", "--account", "acme", "--role", "admin"}, exitUsage, "--group"},
		{[]string{"role", "mappings", "--account", "acme"}, 0, `"Finance"`},
		{[]string{"role", "unmap", "--account", "acme", "--group", "finance"}, 0, "removed the mapping"},
		{[]string{"role", "unmap", "--account", "acme", "--group", "finance"}, exitError, "no mapping"},
	} {
		r := admit(t, db, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.out) {
			t.Errorf("%v: exit %d, %q %q; want exit %d with %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.out)
		}
	}
	r := admit(t, db, "", "role", "mappings", "--account", "acme", "--json")
	if m := decode[[]map[string]any](t, r); len(m) != 1 || m[0]["group"] != "Platform Admins" || m[0]["role"] != "admin" {
		t.Errorf("mappings --json: %v", m)
	}
}

// newestMigration is the highest migration version in the tree (both
// dialects have the same versions).
func newestMigration(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob("../../store/migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	newest := 0
	for _, f := range files {
		var v int
		if _, err := fmt.Sscanf(filepath.Base(f), "%05d_", &v); err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		newest = max(newest, v)
	}
	return newest
}

// withBearer sends a request with a bearer token (an API key, a SCIM
// token) to a running admit and decodes its JSON answer (nil when it is
// none). contentType is set when body is not nil.
func withBearer(t *testing.T, token, method, url, contentType string, body io.Reader) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}
