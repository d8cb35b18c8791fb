package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestOffboardingCommands erases a person and deletes an account through
// the built binary, on both databases: the confirmation each asks for,
// their reports, and their refusals.
func TestOffboardingCommands(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		env := append(os.Environ(), "ADMIT_DATABASE_URL="+db, testKey)
		run := func(args ...string) result { return admitWith(t, env, "", args...) }
		must := func(args ...string) {
			t.Helper()
			if r := run(args...); r.code != 0 {
				t.Fatalf("%s: exit %d, %s", strings.Join(args, " "), r.code, r.stderr)
			}
		}
		must("account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example")
		must("account", "create", "--slug", "beta", "--name", "Beta", "--domain", "beta.example")
		for _, p := range [][]string{{"acme", "ann@acme.example"}, {"beta", "ann@acme.example"}, {"acme", "bob@acme.example"}, {"acme", "cy@mail.example"}, {"acme", "hal@beta.example"}, {"beta", "bea@beta.example"}} {
			must("user", "add", "--account", p[0], "--email", p[1], "--first", "F", "--last", "L", "--invite")
		}

		if r := run("user", "erase", "--email", "ann@acme.example"); r.code != exitUsage || !strings.Contains(r.stderr, "add --yes") {
			t.Errorf("erase without --yes: exit %d, %q", r.code, r.stderr)
		}
		e := decode[map[string]any](t, run("user", "erase", "--email", "Ann@acme.example", "--yes", "--json"))
		if e["email"] != "ann@acme.example" || len(e["accounts"].([]any)) != 2 {
			t.Errorf("erase = %v; want Ann, out of acme and beta", e)
		}
		if r := run("user", "erase", "--email", "ann@acme.example", "--yes"); r.code != exitError || !strings.Contains(r.stderr, "there is no user ann@acme.example") {
			t.Errorf("erasing twice: exit %d, %q", r.code, r.stderr)
		}
		if r := run("user", "list", "--account", "beta", "--json"); r.code != 0 || strings.Contains(r.stdout, "ann@") {
			t.Errorf("beta's members after the erasure: exit %d, %s", r.code, r.stdout)
		}

		// Bad input: a one-line reason first, a non-zero exit, nothing
		// deleted.
		for _, args := range [][]string{
			{"account", "delete", "--slug", "acme", "--yes", "--chunk", "0"},
			{"account", "delete", "--slug", "acme", "--yes", "--chunk", "-5"},
			{"account", "delete", "--slug", "acme", "--yes", "--chunk", "10001"},
			{"account", "delete", "--slug", "acme", "--yes", "--chunk", "99999999999999999999"},
			{"account", "delete", "--slug", "acme", "--yes", "--chunk", "many"},
			{"account", "delete", "--yes"},
			{"account", "delete", "--slug", "nope", "--yes"},
			{"user", "erase", "--yes"},
			{"user", "erase", "--email", "nobody@acme.example", "--yes"},
			{"user", "erase", "--email", "not@an@email", "--yes"},
		} {
			r := run(args...)
			first, _, _ := strings.Cut(strings.TrimSpace(r.stderr), "\n")
			if r.code == 0 || first == "" || len(first) > 300 || strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("%s: exit %d, %q; want a one-line reason and a non-zero exit", strings.Join(args, " "), r.code, r.stderr)
			}
		}
		if r := run("account", "list"); !strings.Contains(r.stdout, "acme") {
			t.Errorf("acme went on bad input: %s", r.stdout)
		}
		if r := run("account", "delete", "--slug", "acme"); r.code != exitUsage || !strings.Contains(r.stderr, "add --yes") {
			t.Errorf("delete without --yes: exit %d, %q", r.code, r.stderr)
		}
		if r := run("account", "list"); !strings.Contains(r.stdout, "acme") {
			t.Errorf("acme went without --yes: %s", r.stdout)
		}
		d := decode[map[string]any](t, run("account", "delete", "--slug", "acme", "--yes", "--chunk", "1", "--json"))
		if d["done"] != true || d["memberships"] != 3.0 || d["erased"] != 2.0 || d["kept"] != 1.0 {
			t.Errorf("delete = %v; want done, 3 memberships, bob and cy (no one's home) erased, hal (beta's) kept", d)
		}
		r := run("account", "list")
		if strings.Contains(r.stdout, "acme") || !strings.Contains(r.stdout, "beta") {
			t.Errorf("accounts after the deletion: %s", r.stdout)
		}
		if r := run("account", "delete", "--slug", "acme", "--yes"); r.code != exitError || !strings.Contains(r.stderr, `no account "acme"`) {
			t.Errorf("deleting twice: exit %d, %q", r.code, r.stderr)
		}
		if r := run("user", "list", "--account", "beta"); !strings.Contains(r.stdout, "bea@beta.example") {
			t.Errorf("beta lost a member: %s", r.stdout)
		}
	})
}

// TestDeletionFailed: the command says to run it again only when the
// account is still there (deleting); when another run finished it, only
// that it is deleted.
func TestDeletionFailed(t *testing.T) {
	started := directory.AccountDeletion{AccountID: "a1", Slug: "acme"}
	for _, c := range []struct {
		name  string
		d     directory.AccountDeletion
		err   error
		again bool
	}{
		{"not started", directory.AccountDeletion{}, directory.NotFoundError(`no account "acme"`), false},
		{"finished by another run", started, directory.NotFoundError("account acme is deleted: another deletion of it finished first"), false},
		{"stopped midway", started, errors.New("delete account acme: connection reset"), true},
	} {
		err := deletionFailed(c.d, c.err)
		if again := strings.Contains(err.Error(), "run the command again"); again != c.again || !errors.Is(err, c.err) || directory.KindOf(err) != directory.KindOf(c.err) {
			t.Errorf("%s: %v; want run again %v, the same kind", c.name, err, c.again)
		}
	}
}
