// Package storetest gives tests a fresh, migrated store on SQLite and on
// PostgreSQL, so that every storage and directory test runs on both.
//
// PostgreSQL comes from ADMIT_TEST_POSTGRES_URL (default: the local server,
// user postgres, trust auth). Each test gets its own database, cloned from a
// template migrated once per test binary, and dropped after the test (in the
// background: see dropAfter).
// A SQLite database is likewise a copy of a file migrated once per test
// binary: under the race detector the pure-Go SQLite ran every test's
// migrations in 3 to 13 s, most of make test's time.
// When the server cannot be reached the PostgreSQL tests are skipped and Main
// says so loudly; with ADMIT_TEST_REQUIRE_POSTGRES=1 (as CI sets) they fail.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/admit-dev/admit/store"
)

// DefaultPostgresURL is used when ADMIT_TEST_POSTGRES_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// The template is made once per test binary: a test binary is one package's
// tests, and Main drops the template when they end.
var (
	templateOnce sync.Once
	templateName string
	templateErr  error
	skipped      atomic.Int64

	sqliteOnce     sync.Once
	sqliteTemplate string // a migrated database file
	sqliteErr      error

	// Test databases are dropped in the background, and Main waits for
	// the drops: DROP DATABASE waits for an immediate checkpoint of the
	// whole server (PostgreSQL 15), which took 1 to 5 s on the shared
	// server, most of a short test's time. Each drop starts at once:
	// drops that wait together share a checkpoint, while queued ones let
	// the databases pile up, and a checkpoint then synced tens of
	// thousands of their files (up to a minute).
	inMain   atomic.Bool
	dropping sync.WaitGroup
	dropMu   sync.Mutex
	dropErrs []error

	// spares are test databases made ahead from the template while
	// tests run: CREATE DATABASE took 2 to 3 s on the shared server.
	// Each database handed out from the second on starts the making of
	// another, up to maxSpares at a time (a package with one PostgreSQL
	// test would only wait for a spare it never uses).
	spares     = make(chan string, maxSpares)
	sparesMu   sync.Mutex
	sparesDue  int // being made or waiting in spares
	sparesMade sync.WaitGroup
	handedOut  atomic.Int64
)

const maxSpares = 2

// Main runs the package's tests and then drops the PostgreSQL template.
// Call it from TestMain in every package that uses storetest.
func Main(m *testing.M) {
	inMain.Store(true)
	code := m.Run()
	sparesMade.Wait()
	close(spares)
	for name := range spares {
		dropping.Go(func() { dropInBackground(name) })
	}
	// The template goes with the last test databases, sharing their
	// checkpoint: nothing clones it any more.
	if templateName != "" {
		dropping.Go(func() {
			if err := dropDatabase(adminURL(), templateName); err != nil {
				fmt.Fprintf(os.Stderr, "storetest: drop template %s: %v\n", templateName, err)
			}
		})
	}
	dropping.Wait()
	for _, err := range dropErrs {
		fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		code = 1
	}
	if sqliteTemplate != "" {
		os.RemoveAll(filepath.Dir(sqliteTemplate))
	}
	if n := skipped.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "\n!!! storetest: %d PostgreSQL tests were SKIPPED: %v\n!!! Start PostgreSQL (see README) or set ADMIT_TEST_POSTGRES_URL; CI sets ADMIT_TEST_REQUIRE_POSTGRES=1 and fails instead.\n\n", n, templateErr)
	}
	os.Exit(code)
}

// Each runs fn once on SQLite and once on PostgreSQL, as subtests named
// after the database.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EachB is Each for benchmarks.
func EachB(b *testing.B, fn func(b *testing.B, s *store.Store)) {
	b.Helper()
	b.Run("sqlite", func(b *testing.B) { fn(b, SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, Postgres(b)) })
}

// SQLiteURL returns the URL of a fresh SQLite database in the test's
// temporary folder; the schema is not created.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "admit.db")
}

// SQLite returns a migrated store on a fresh SQLite database.
func SQLite(t testing.TB) *store.Store {
	t.Helper()
	return open(t, MigratedSQLiteURL(t))
}

// MigratedSQLiteURL returns the URL of a fresh SQLite database in the
// test's temporary folder, with the schema of every migration: a copy of
// a template migrated once per test binary.
func MigratedSQLiteURL(t testing.TB) string {
	t.Helper()
	sqliteOnce.Do(makeSQLiteTemplate)
	if sqliteErr != nil {
		t.Fatalf("SQLite template: %v", sqliteErr)
	}
	path := filepath.Join(t.TempDir(), "admit.db")
	data, err := os.ReadFile(sqliteTemplate)
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		t.Fatalf("copy the SQLite template: %v", err)
	}
	return "sqlite:" + path
}

// makeSQLiteTemplate migrates a database file. Closing its last
// connection checkpoints SQLite's write-ahead log into the file and
// removes the log, so the one file is the whole database; Open puts a
// copy back in WAL mode.
func makeSQLiteTemplate() {
	dir, err := os.MkdirTemp("", "admit-storetest-")
	if err != nil {
		sqliteErr = err
		return
	}
	path := filepath.Join(dir, "template.db")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, "sqlite:"+path, slog.New(slog.DiscardHandler))
	if err != nil {
		sqliteErr = err
		return
	}
	_, err = s.Migrate(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if _, serr := os.Stat(path + "-wal"); serr == nil {
			err = fmt.Errorf("the write-ahead log of %s was left after closing", path)
		}
	}
	if err != nil {
		sqliteErr = fmt.Errorf("migrate: %w", err)
		os.RemoveAll(dir)
		return
	}
	sqliteTemplate = path
}

// PostgresURL returns the URL of a fresh, migrated PostgreSQL database that
// is dropped after the test. It skips the test when PostgreSQL cannot be
// reached, unless ADMIT_TEST_REQUIRE_POSTGRES=1.
func PostgresURL(t testing.TB) string {
	t.Helper()
	templateOnce.Do(makeTemplate)
	if templateErr != nil {
		if os.Getenv("ADMIT_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (ADMIT_TEST_REQUIRE_POSTGRES=1) but not usable: %v", templateErr)
		}
		skipped.Add(1)
		t.Skipf("SKIPPING: PostgreSQL not usable: %v", templateErr)
	}
	name, err := testDatabase()
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dropAfter(t, name)
	return withDatabase(adminURL(), name)
}

// testDatabase returns a new database cloned from the template: a spare
// if one is ready, else one made now. Under Main it has another spare
// made.
func testDatabase() (string, error) {
	if !inMain.Load() {
		return cloneTemplate()
	}
	if handedOut.Add(1) > 1 {
		defer makeSpare()
	}
	select {
	case name := <-spares:
		sparesMu.Lock()
		sparesDue--
		sparesMu.Unlock()
		return name, nil
	default:
		return cloneTemplate()
	}
}

// makeSpare starts the making of a spare database unless maxSpares are
// already due. One that fails is left out: a test then makes its own, and
// reports the error if it fails again.
func makeSpare() {
	sparesMu.Lock()
	defer sparesMu.Unlock()
	if sparesDue == maxSpares {
		return
	}
	sparesDue++
	sparesMade.Go(func() {
		name, err := cloneTemplate()
		if err != nil {
			sparesMu.Lock()
			sparesDue--
			sparesMu.Unlock()
			return
		}
		spares <- name
	})
}

func cloneTemplate() (string, error) {
	name := uniqueName("admit_test")
	return name, exec(adminURL(), fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName))
}

// dropAfter drops the test database name when t ends: in the background
// when Main runs the tests (it waits for the drops and fails the run if
// one fails), at once otherwise.
func dropAfter(t testing.TB, name string) {
	t.Cleanup(func() {
		if !inMain.Load() {
			if err := dropDatabase(adminURL(), name); err != nil {
				t.Errorf("drop test database %s: %v", name, err)
			}
			return
		}
		dropping.Go(func() { dropInBackground(name) })
	})
}

// dropInBackground drops the test database name, keeping an error for
// Main to report.
func dropInBackground(name string) {
	if err := dropDatabase(adminURL(), name); err != nil {
		dropMu.Lock()
		dropErrs = append(dropErrs, fmt.Errorf("drop test database %s: %w", name, err))
		dropMu.Unlock()
	}
}

// EmptyPostgresURL returns the URL of a fresh PostgreSQL database with no
// schema, dropped after the test: for migration tests.
func EmptyPostgresURL(t testing.TB) string {
	t.Helper()
	templateOnce.Do(makeTemplate)
	if templateErr != nil {
		PostgresURL(t) // skips or fails as PostgresURL does
	}
	name := uniqueName("admit_empty")
	if err := exec(adminURL(), `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	dropAfter(t, name)
	return withDatabase(adminURL(), name)
}

// Postgres returns a migrated store on a fresh PostgreSQL database.
func Postgres(t testing.TB) *store.Store {
	t.Helper()
	return open(t, PostgresURL(t))
}

// DropPostgres drops a database made by PostgresURL at once, closing its
// connections: what a test of a vanished database needs.
func DropPostgres(t testing.TB, databaseURL string) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := dropDatabase(adminURL(), strings.TrimPrefix(u.Path, "/")); err != nil {
		t.Fatal(err)
	}
}

// open opens a copy of a migrated template. It does not migrate again:
// that found nothing to do, but goose reads and parses every migration
// file to find it out, which under -race cost about half a second of CPU
// for each of the suite's many stores.
func open(t testing.TB, dbURL string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func adminURL() string {
	if u := os.Getenv("ADMIT_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

func makeTemplate() {
	name := uniqueName("admit_template")
	if templateErr = exec(adminURL(), `CREATE DATABASE `+name); templateErr != nil {
		return
	}
	templateName = name
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, withDatabase(adminURL(), name), slog.New(slog.DiscardHandler))
	if err != nil {
		templateErr = err
		return
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		templateErr = fmt.Errorf("migrate template: %w", err)
	}
}

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s_%d_%x", prefix, os.Getpid(), b)
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func exec(dbURL, stmt string) error { return execWithin(dbURL, stmt, 30*time.Second) }

func execWithin(dbURL, stmt string, limit time.Duration) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w", redact(dbURL), err)
	}
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// dropDatabase drops name, ending its sessions first (WITH (FORCE), PG 13+).
func dropDatabase(adminURL, name string) error {
	return execWithin(adminURL, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name), 5*time.Minute)
}

func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "the PostgreSQL URL"
	}
	return u.Redacted()
}

// TerminateConnections ends every session of the database made by
// PostgresURL, as a restart of the server would (their next statement
// fails with 57P01 admin_shutdown), without stopping the shared server.
func TerminateConnections(t testing.TB, databaseURL string) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if err := exec(adminURL(), fmt.Sprintf(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()`, name)); err != nil {
		t.Fatalf("terminate the sessions of %s: %v", name, err)
	}
}
