package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func writePeople(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("Email;Given name;Surname;Role\n")
	for i := range n {
		fmt.Fprintf(&b, "p%05d@acme.example;P;%d;\n", i, i)
	}
	b.WriteString("p00000@acme.example;Dup;Licate;\nbad-address;X;Y;\n")
	path := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportCommand(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		if r := admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		file := writePeople(t, 3)
		r := admit(t, db, "", "import", "--account", "acme", "--file", file, "--no-password", "--dry-run", "--json")
		if r.code != 0 || strings.Count(r.stdout, `"outcome":"created"`) != 3 || !strings.Contains(r.stdout, `"outcome":"duplicate"`) || !strings.Contains(r.stdout, `"outcome":"error"`) {
			t.Fatalf("dry run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "user", "list", "--account", "acme", "--json"); strings.Contains(r.stdout, "p00000") {
			t.Fatal("the dry run added people")
		}
		if r := admit(t, db, "", "import", "--account", "acme", "--file", file, "--invite", "--password-stdin"); r.code != exitUsage {
			t.Errorf("two modes: exit %d %s", r.code, r.stderr)
		}
		if r := admit(t, db, "short\n", "import", "--account", "acme", "--file", file, "--password-stdin"); r.code == 0 || !strings.Contains(r.stderr, "initial password") {
			t.Errorf("weak password: exit %d %s", r.code, r.stderr)
		}
		notSheet := filepath.Join(t.TempDir(), "x.csv")
		os.WriteFile(notSheet, []byte("\x00\x01\x02\x03"), 0o600)
		if r := admit(t, db, "", "import", "--account", "acme", "--file", notSheet, "--no-password"); r.code == 0 || !strings.Contains(r.stderr, "not a spreadsheet") {
			t.Errorf("binary file: exit %d %s", r.code, r.stderr)
		}
		r = admit(t, db, "a shared initial secret\n", "import", "--account", "acme", "--file", file, "--password-stdin")
		if r.code != 0 {
			t.Fatalf("import: %s", r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var last importJSON
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Type != "finished" || last.Counts.Created != 3 || last.Counts.Duplicate != 1 || last.Counts.Failed != 1 {
			t.Fatalf("last line %q (%v); want finished with 3 created, 1 duplicate, 1 error", lines[len(lines)-1], err)
		}
		r = admit(t, db, "", "import", "report", "--account", "acme")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "line,email,first_name,last_name,role,outcome,reason\n2,p00000@acme.example,P,0,member,created,\n") {
			t.Errorf("report: exit %d\n%s", r.code, r.stdout)
		}
		if r := admit(t, db, "", "import", "status", "--account", "acme", "--json"); !strings.Contains(r.stdout, `"status": "finished"`) {
			t.Errorf("status: %s", r.stdout)
		}

		// A column admit does not read is left out with a warning, which
		// reads as one (the import goes on, and exits 0), as every
		// warning of the command line does.
		teams := filepath.Join(t.TempDir(), "teams.csv")
		if err := os.WriteFile(teams, []byte("Email,First name,Last name,Team\nteam@acme.example,T,Eam,Red\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r = admit(t, db, "", "import", "--account", "acme", "--file", teams, "--no-password")
		if want := "admit: warning: columns not imported (admit reads no such heading): Team\n"; r.code != 0 || r.stderr != want {
			t.Errorf("import with an unknown column: exit %d, stderr %q; want %q", r.code, r.stderr, want)
		}
	})
}

// TestImportKilledResumes kills the process working an import after its
// first batch, resumes it, and compares the result with an uninterrupted
// import of the same file into another database.
func TestImportKilledResumes(t *testing.T) {
	t.Parallel()
	const n = 3000
	eachDatabase(t, func(t *testing.T, db string) {
		other := storetest.SQLiteURL(t)
		if strings.HasPrefix(db, "postgres") {
			other = storetest.PostgresURL(t)
		}
		file := writePeople(t, n)
		for _, d := range []string{db, other} {
			if r := admit(t, d, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"); r.code != 0 {
				t.Fatal(r.stderr)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, admitBin, "import", "--account", "acme", "--file", file, "--password-stdin")
		cmd.Env = append(os.Environ(), "ADMIT_DATABASE_URL="+db, testKey)
		cmd.Dir = t.TempDir()
		cmd.Stdin = strings.NewReader("a shared initial secret\n")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() {
			t.Fatalf("no progress line: %v", sc.Err())
		}
		var first importJSON
		if err := json.Unmarshal(sc.Bytes(), &first); err != nil || first.Type != "progress" || first.Done >= n {
			t.Fatalf("first line %s (%v); want progress before the end", sc.Bytes(), err)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if r := admit(t, db, "", "import", "status", "--account", "acme", "--json"); !strings.Contains(r.stdout, `"status": "running"`) {
			t.Fatalf("after the kill: %s", r.stdout)
		}
		// Resuming waits for the killed runner's claim to lapse.
		resume := exec.CommandContext(ctx, admitBin, "import", "resume", "--account", "acme")
		resume.Env, resume.Dir = cmd.Env, t.TempDir()
		if out, err := resume.CombinedOutput(); err != nil {
			t.Fatalf("resume: %v\n%s", err, out)
		}
		straightRun := exec.CommandContext(ctx, admitBin, "import", "--account", "acme", "--file", file, "--password-stdin")
		straightRun.Env, straightRun.Dir = append(os.Environ(), "ADMIT_DATABASE_URL="+other, testKey), t.TempDir()
		straightRun.Stdin = strings.NewReader("a shared initial secret\n")
		if out, err := straightRun.CombinedOutput(); err != nil {
			t.Fatalf("uninterrupted import: %v\n%.500s", err, out)
		}
		resumed := admit(t, db, "", "import", "report", "--account", "acme").stdout
		straight := admit(t, other, "", "import", "report", "--account", "acme").stdout
		if diff := cmp.Diff(straight, resumed); diff != "" {
			t.Errorf("report after a kill and a resume differs (-uninterrupted +resumed):\n%s", diff)
		}
		if got := strings.Count(resumed, ",created,"); got != n {
			t.Errorf("%d created; want %d", got, n)
		}
		count := func(d string) int {
			s, err := store.Open(context.Background(), d, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var c int
			if err := s.DB().Get(&c, `SELECT COUNT(*) FROM memberships`); err != nil {
				t.Fatal(err)
			}
			return c
		}
		if a, b := count(db), count(other); a != n || b != n {
			t.Errorf("memberships: resumed %d, uninterrupted %d; want %d each", a, b, n)
		}
	})
}
