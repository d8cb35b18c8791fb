package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// otherKey is a valid secret key that is not testKey.
const otherKey = "ADMIT_SECRET_KEY=ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="

// TestCLIAndServerAgree is issue 14's first hour: the CLI run from another
// folder, with another base URL or with another key, against the database a
// server runs on.
func TestCLIAndServerAgree(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		const public = "http://people.example.test"
		s := startServer(t, t.TempDir(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_BASE_URL="+public)
		// cli runs a command from a folder of its own, with the database,
		// the given settings and nothing else.
		cli := func(settings []string, args ...string) result {
			t.Helper()
			return admitWith(t, append(append(cleanEnv(), "ADMIT_DATABASE_URL="+db), settings...), "", args...)
		}
		if r := cli([]string{testKey}, "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
			t.Fatalf("account create: %s", r.stderr)
		}

		// Without ADMIT_BASE_URL the CLI prints the server's URLs, and
		// says nothing about it.
		r := cli([]string{testKey}, "scim-token", "create", "--account", "acme", "--json")
		if r.code != 0 || decode[map[string]any](t, r)["base_url"] != public+"/scim/v2" || r.stderr != "" {
			t.Fatalf("scim-token create without ADMIT_BASE_URL: %d %s %s", r.code, r.stdout, r.stderr)
		}
		if r := cli([]string{testKey}, "invite", "create", "--account", "acme", "--email", "ann@acme.example"); r.code != 0 {
			t.Fatalf("invite create: %s", r.stderr)
		}
		mails := decode[[]struct{ ID string }](t, cli([]string{testKey}, "mail", "list", "--account", "acme", "--json"))
		if len(mails) != 1 {
			t.Fatalf("mail list: %v", mails)
		}
		shown := cli([]string{testKey}, "mail", "show", "--account", "acme", "--id", mails[0].ID)
		if !strings.Contains(shown.stdout, public+"/invite/") {
			t.Fatalf("the invitation's link is not on the server's URL:\n%s", shown.stdout)
		}
		// The link made by the CLI opens on the server.
		link := shown.stdout[strings.Index(shown.stdout, public+"/invite/"):]
		link = strings.Fields(link)[0]
		if resp, body := s.get(t, strings.TrimPrefix(link, public)); resp.StatusCode != 200 || strings.Contains(body, "not valid") {
			t.Fatalf("the CLI's invitation link does not open on the server: %d\n%s", resp.StatusCode, body)
		}

		// Another ADMIT_BASE_URL in the CLI's environment loses to the
		// server's, with a note; --base-url wins, with a note.
		r = cli([]string{testKey, "ADMIT_BASE_URL=http://localhost:8080"}, "scim-token", "create", "--account", "acme", "--json")
		if decode[map[string]any](t, r)["base_url"] != public+"/scim/v2" || !strings.Contains(r.stderr, "note: links use "+public) {
			t.Fatalf("scim-token create with another ADMIT_BASE_URL: %s %s", r.stdout, r.stderr)
		}
		r = cli([]string{testKey}, "scim-token", "create", "--account", "acme", "--json", "--base-url", "https://elsewhere.example")
		if decode[map[string]any](t, r)["base_url"] != "https://elsewhere.example/scim/v2" || !strings.Contains(r.stderr, "note: links use --base-url https://elsewhere.example; the server runs at "+public) {
			t.Fatalf("scim-token create --base-url: %s %s", r.stdout, r.stderr)
		}

		// A process without the key, or with another, refuses to run in
		// one line that says where the key is expected, and makes no key.
		folder := t.TempDir()
		noKey := admitIn(t, folder, append(cleanEnv(), "ADMIT_DATABASE_URL="+db), "account", "list")
		wantKeyRefusal(t, noKey, "no secret key here")
		if _, err := os.Stat(filepath.Join(folder, "admit-data", "secret.key")); err == nil && strings.HasPrefix(db, "postgres") {
			t.Errorf("a CLI without the key made one beside a database that holds sealed data")
		}
		wantKeyRefusal(t, cli([]string{otherKey}, "account", "list"), "is not the one that sealed this database")
		wantKeyRefusal(t, cli([]string{otherKey}, "invite", "create", "--account", "acme", "--email", "bob@acme.example"), "is not the one that sealed this database")
		s.stop(t)
		r = admitWith(t, append(cleanEnv(), "ADMIT_DATABASE_URL="+db, otherKey, "ADMIT_ADDR=127.0.0.1:0", "ADMIT_METRICS_ADDR=off"), "", "serve")
		wantKeyRefusal(t, r, "is not the one that sealed this database")
	})
}

// admitIn runs the binary in the given folder.
func admitIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return runBinary(t, dir, env, "", args...)
}

func wantKeyRefusal(t *testing.T, r result, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != exitError || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "ADMIT_SECRET_KEY") || len(lines) != 1 {
		t.Fatalf("exit %d, stderr %q; want exit 1 and one line saying %q and where the key goes", r.code, r.stderr, want)
	}
}

// TestFirstRunMakesTheKeyAndRecordsIt: on a fresh database a key is made
// once; a CLI in another folder then needs that key, not one of its own.
func TestFirstRunMakesTheKeyAndRecordsIt(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	first, second := t.TempDir(), t.TempDir()
	env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db)
	if r := admitIn(t, first, env, "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
		t.Fatalf("first run: %s", r.stderr)
	}
	key, err := os.ReadFile(filepath.Join(first, "admit-data", "secret.key"))
	if err != nil {
		t.Fatalf("the first run made no key: %v", err)
	}
	wantKeyRefusal(t, admitIn(t, second, env, "account", "list"), "no secret key here")
	if _, err := os.Stat(filepath.Join(second, "admit-data", "secret.key")); err == nil {
		t.Errorf("the refused run left its new key behind")
	}
	withKey := append(env, "ADMIT_SECRET_KEY="+strings.TrimSpace(string(key)))
	if r := admitIn(t, second, withKey, "account", "list"); r.code != 0 || !strings.Contains(r.stdout, "acme") {
		t.Fatalf("with the first run's key: %d %s", r.code, r.stderr)
	}
}

// TestKeyOfAnOlderDatabaseIsProven: a database from before fingerprints
// were recorded is vouched for only by a key that opens its sealed SAML keys.
func TestKeyOfAnOlderDatabaseIsProven(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		s := startServer(t, t.TempDir(), "ADMIT_DATABASE_URL="+db, testKey)
		s.stop(t)
		forgetFingerprint(t, db)
		env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db)
		r := admitWith(t, append(env, otherKey), "", "account", "list")
		wantKeyRefusal(t, r, "does not open this database's sealed SAML keys")
		if r := admitWith(t, append(env, testKey), "", "account", "list"); r.code != 0 {
			t.Fatalf("the right key is refused: %s", r.stderr)
		}
		// Now recorded: the other key is refused by its fingerprint.
		wantKeyRefusal(t, admitWith(t, append(env, otherKey), "", "account", "list"), "is not the one that sealed this database")
	})
}

func forgetFingerprint(t *testing.T, db string) {
	t.Helper()
	s, err := store.Open(context.Background(), db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DB().Exec(`DELETE FROM instance_settings WHERE name = '` + store.SettingKeyFingerprint + `'`); err != nil {
		t.Fatal(err)
	}
}

// TestCLIOutsideTheServersFolder is the README's quick start, and the same
// commands run from another folder. Without ADMIT_DATABASE_URL the database
// is admit-data/admit.db under the folder a process runs in: a command run
// elsewhere refuses, in one line naming the file it did not find, rather
// than make a new empty database (and key) there and report success.
func TestCLIOutsideTheServersFolder(t *testing.T) {
	t.Parallel()
	home := t.TempDir() // where `make run` runs
	s := startServer(t, home)
	defer s.stop(t)
	env := cleanEnv()
	if r := admitIn(t, home, env, "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 || r.stderr != "" {
		t.Fatalf("account create beside the server: exit %d, %q", r.code, r.stderr)
	}

	elsewhere := t.TempDir()
	stray := filepath.Join(elsewhere, "admit-data", "admit.db")
	for _, args := range [][]string{
		{"account", "create", "--slug", "acme", "--name", "Again"},
		{"user", "list", "--account", "acme"},
		{"invite", "create", "--account", "acme", "--email", "ann@acme.example"},
	} {
		r := admitIn(t, elsewhere, env, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != exitError || len(lines) != 1 || !strings.HasPrefix(r.stderr, "admit: no database at "+stray+" ") || !strings.Contains(r.stderr, "set ADMIT_DATABASE_URL to the server's database") {
			t.Errorf("%v from another folder: exit %d, stderr %q; want exit 1 and one line naming %s", args, r.code, r.stderr, stray)
		}
	}
	r := admitIn(t, elsewhere, env, "account", "list", "--json")
	if got := decode[map[string]string](t, r); got["kind"] != "not_found" || !strings.Contains(got["error"], stray) {
		t.Errorf("--json: %v; want kind not_found naming %s", got, stray)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "admit-data")); err == nil {
		t.Fatal("a refused command made admit-data (a database or a key) in its folder")
	}

	// With the server's database named, the command works from anywhere
	// (the key is found beside the database).
	serverDB := "ADMIT_DATABASE_URL=sqlite:" + filepath.Join(home, "admit-data", "admit.db")
	if r := admitIn(t, elsewhere, append(env, serverDB), "user", "list", "--account", "acme"); r.code != 0 || r.stderr != "" {
		t.Errorf("with ADMIT_DATABASE_URL from another folder: exit %d, %q", r.code, r.stderr)
	}

	// A database the operator names is made, with a note naming it (the
	// flag names one as the variable does); once made, there is no note.
	for i, how := range [][]string{{"ADMIT_DATABASE_URL=sqlite:" + filepath.Join(elsewhere, "new", "admit.db")}, nil} {
		args := []string{"account", "list"}
		path := filepath.Join(elsewhere, "new", "admit.db")
		if how == nil {
			path = filepath.Join(elsewhere, "flag", "admit.db")
			args = append(args, "--database-url", "sqlite:"+path)
		}
		r := admitIn(t, elsewhere, append(append(env, testKey), how...), args...)
		if want := "admit: note: no database at " + path + "; making a new one, as ADMIT_DATABASE_URL says\n"; r.code != 0 || r.stderr != want {
			t.Errorf("case %d, a named new database: exit %d, stderr %q; want %q", i, r.code, r.stderr, want)
		}
		if r := admitIn(t, elsewhere, append(append(env, testKey), how...), args...); r.code != 0 || r.stderr != "" {
			t.Errorf("case %d, the same database again: exit %d, stderr %q; want no note", i, r.code, r.stderr)
		}
	}

	// admit migrate is how to make a new database under the default.
	if r := admitIn(t, elsewhere, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %s", r.stderr)
	}
	if r := admitIn(t, elsewhere, env, "account", "list"); r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "no accounts yet") {
		t.Errorf("account list on the database migrate made: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
