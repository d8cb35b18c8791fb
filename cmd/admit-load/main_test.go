package main

import (
	"cmp"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/storetest"
)

// TestSmoke runs the load driver for a few hundred requests against a
// freshly built admit, so that make bench-load cannot rot while make test
// stays short. The figures of so small a run mean nothing; that every kind
// of work is answered as an identity provider expects does.
func TestSmoke(t *testing.T) {
	pg := cmp.Or(os.Getenv("ADMIT_TEST_POSTGRES_URL"), storetest.DefaultPostgresURL)
	if err := ping(pg); err != nil {
		if os.Getenv("ADMIT_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (ADMIT_TEST_REQUIRE_POSTGRES=1) but not usable: %v", err)
		}
		t.Skipf("SKIPPING: PostgreSQL not usable: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "admit")
	build := exec.Command("go", "build", "-o", bin, "../admit")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build admit: %v\n%s", err, out)
	}
	var logs strings.Builder
	rep, err := run(context.Background(), config{admit: bin, postgres: pg, users: 100, clients: 4, timeout: 5 * time.Minute}, &logs)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	var out strings.Builder
	rep.print(&out)
	for _, want := range []string{"create POST /Users", "filter userName eq", "Entra Replace active=false", "group of 100 members, one POST"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report has no %q:\n%s", want, out.String())
		}
	}
	if rep.create.n != 110 || rep.filter.n != 100 || rep.deactivate.n != 100 || rep.memberBig.n != 10 {
		t.Errorf("requests: create %d, filter %d, deactivate %d, member %d; want 110, 100, 100, 10", rep.create.n, rep.filter.n, rep.deactivate.n, rep.memberBig.n)
	}
}

func ping(url string) error {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}
