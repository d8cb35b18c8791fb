// Package store keeps admit's directory in PostgreSQL (the production store,
// shared by every replica) or in embedded SQLite (the zero-setup default).
// It implements directory.Store with one set of queries for both: the
// differences between the two databases are confined to dialect.go and the
// two migration folders. It holds no rules: those live in package directory.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite"

	"github.com/admit-dev/admit/directory"
)

//go:embed migrations
var migrations embed.FS

// Store is the directory's storage on one database. Its zero value is not
// usable; call Open.
type Store struct {
	db      *sqlx.DB
	q       sqlx.ExtContext // db, or the transaction this Store is bound to
	dialect dialect
	log     *slog.Logger
}

var _ directory.Store = (*Store)(nil)

// Open connects to the database named by url: "postgres://…" (or
// "postgresql://…") for PostgreSQL, "sqlite:PATH" for SQLite, whose folder is
// created if needed. It does not change the schema; call Migrate for that.
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	var (
		d   dialect
		dsn string
	)
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		d, dsn = postgresDialect, oneRoundTrip(url)
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		path = strings.TrimPrefix(path, "//") // accept sqlite:///abs/path too
		if path == "" {
			return nil, fmt.Errorf("database URL %q names no file", url)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
		// The file holds password hashes: only admit's user may read it.
		// SQLite gives its -wal and -shm files the database file's mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open database file: %w", err)
		}
		f.Close()
		d, dsn = sqliteDialect, sqliteDSN(path)
		keepAllocatorPages()
	default:
		return nil, fmt.Errorf("database URL %q: want postgres://… or sqlite:PATH", url)
	}
	db, err := sqlx.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", d.name, err)
	}
	d.configurePool(db)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, q: db, dialect: d, log: log}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", d.name, d.wrap(err, "ping"))
	}
	return s, nil
}

// oneRoundTrip asks lib/pq to send a query with arguments in one round
// trip (Parse, Bind, Execute, Sync together) instead of two (a prepare,
// then an execute): every query admit sends has arguments, and the round
// trips, not the queries, are most of a request's time. The arguments go
// as text, except []byte, which goes as binary; admit passes JSON for
// jsonb columns as strings, so only bytea takes binary. An operator's own
// binary_parameters setting in the URL is kept.
func oneRoundTrip(dsn string) string {
	u, err := neturl.Parse(dsn)
	if err != nil {
		return dsn // Open's connect reports the URL's problem
	}
	q := u.Query()
	if q.Has("binary_parameters") {
		return dsn
	}
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()
	return u.String()
}

// sqliteDSN turns on what admit relies on in SQLite: WAL so that the CLI can
// write while the server runs, a busy timeout so writers wait instead of
// failing, foreign keys, BEGIN IMMEDIATE so a transaction takes the write
// lock up front rather than failing when it upgrades from read to write,
// and a page cache of 16 MiB a connection instead of 2: a directory of
// 100,000 people has a dozen indexes of memberships that each write
// walks, and with the small cache an import spent a sixth more CPU
// reading pages back from the operating system; and a checkpoint every
// 10,000 WAL pages (40 MiB) instead of 1,000, so that the pages a long
// run of writes changes over and over are copied into the database file
// fewer times (6% of an import's time).
func sqliteDSN(path string) string {
	return "file:" + path + "?_txlock=immediate&_time_format=sqlite" +
		"&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(10000)"
}

// Dialect names the database: "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.dialect.name }

// Close closes the database connections.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database, for tests and benchmarks that load
// data in bulk.
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.dialect.wrap(s.db.PingContext(ctx), "ping")
}

// Migrate brings the schema to the newest version embedded in the binary.
// On PostgreSQL an advisory lock makes replicas that start together take
// turns.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	return s.MigrateTo(ctx, 0)
}

// MigrateTo brings the schema to version (the newest when 0): tests use it
// to check that a migration upgrades a database holding data.
func (s *Store) MigrateTo(ctx context.Context, version int64) ([]string, error) {
	fsys, err := fs.Sub(migrations, "migrations/"+s.dialect.name)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithLogger(gooseLogger{s.log})}
	if s.dialect.name == postgresDialect.name {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(s.dialect.goose, s.db.DB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var results []*goose.MigrationResult
	if version == 0 {
		results, err = p.Up(ctx)
	} else {
		results, err = p.UpTo(ctx, version)
	}
	if err != nil {
		if s.dialect.name == sqliteDialect.name {
			// A migration that runs its own transaction (00036) and failed
			// half-way left its connection inside it, with foreign keys
			// off: close the idle connections (SQLite rolls back what a
			// closed connection left open) before anything else uses them.
			s.db.SetMaxIdleConns(0)
			s.dialect.configurePool(s.db)
		}
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	applied := make([]string, len(results))
	for i, r := range results {
		applied[i] = r.Source.Path
	}
	return applied, nil
}

// SchemaVersion returns the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.GetContext(ctx, &v, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

type gooseLogger struct{ log *slog.Logger }

func (g gooseLogger) Printf(format string, v ...any) {
	if g.log != nil {
		g.log.Info(strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}
func (g gooseLogger) Fatalf(format string, v ...any) { g.Printf(format, v...) }

// Tx runs fn in a transaction; see directory.Store. Inside a transaction it
// simply runs fn: nested calls join the outer transaction.
//
// A transaction whose connection broke, or that could not begin, fails
// with directory.Unavailable. It is run once more on a fresh connection
// when nothing can have been committed (it failed before COMMIT was sent):
// after a restart of the database, the pool's idle connections are dead and
// the first transaction on each of them fails. A COMMIT whose answer was
// lost is never run again: it may have been applied. A transaction that
// failed on a unique violation is run again, a few times, on PostgreSQL:
// it raced another that created the same row (dialect.raceAttempts).
func (s *Store) Tx(ctx context.Context, fn func(tx directory.Store) error) error {
	if _, inTx := s.q.(*sqlx.Tx); inTx {
		return fn(s)
	}
	reconnected, raced := false, 0
	for i := 1; ; i++ {
		err := s.tx(ctx, fn)
		if err == nil {
			return nil
		}
		if s.dialect.unavailable(err) {
			s.dropIdle()
			var ce commitError
			if reconnected || errors.As(err, &ce) || ctx.Err() != nil {
				return s.unavailable(err)
			}
			reconnected = true
			s.log.DebugContext(ctx, "transaction lost its connection; trying once more", "err", err)
			continue
		}
		if s.dialect.uniqueViolation(err) {
			// Another transaction committed the row this one found absent
			// (see dialect.raceAttempts).
			raced++
			if raced >= s.dialect.raceAttempts {
				return err
			}
		} else if i >= s.dialect.attempts || !s.dialect.retryable(err) {
			return err
		}
		// Back off with jitter so that colliding transactions spread out.
		wait := time.Duration(1<<i)*time.Millisecond + rand.N(5*time.Millisecond)
		s.log.DebugContext(ctx, "retrying transaction", "attempt", i, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		}
	}
}

// unavailable makes err, which unavailable classified, an error of kind
// directory.Unavailable unless it already is one.
func (s *Store) unavailable(err error) error {
	if directory.KindOf(err) == directory.Unavailable {
		return err
	}
	return directory.UnavailableError(err)
}

// dropIdle closes the pool's idle connections: once one connection has
// been found broken, the others that were idle at the same time most
// likely are too (the server restarted), and each would fail a request.
// database/sql closes idle connections beyond a lowered limit.
func (s *Store) dropIdle() {
	if s.dialect.name != postgresDialect.name {
		return
	}
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(postgresIdleConns())
}

// commitError is a COMMIT that failed: if its connection broke, whether
// the transaction was applied is unknown.
type commitError struct{ err error }

func (e commitError) Error() string { return "commit: " + e.err.Error() }
func (e commitError) Unwrap() error { return e.err }

// within runs fn with a Store bound to a transaction (the current one when
// s already is): for methods that write several rows that belong together.
func (s *Store) within(ctx context.Context, fn func(s *Store) error) error {
	return s.Tx(ctx, func(tx directory.Store) error { return fn(tx.(*Store)) })
}

func (s *Store) tx(ctx context.Context, fn func(tx directory.Store) error) error {
	var (
		tx   *sqlx.Tx
		conn *sqlx.Conn
		err  error
	)
	if s.dialect.name == sqliteDialect.name {
		// On SQLite the transaction holds its connection until it ends, so
		// that a COMMIT SQLite refuses can be rolled back on it: SQLite
		// keeps the transaction open then (a deferred foreign key broken,
		// or busy), and database/sql would put the connection back in the
		// pool still inside it, where every later transaction failed to
		// begin. (PostgreSQL ends a transaction whose COMMIT fails; there
		// database/sql's BEGIN also retries a pooled connection found dead.)
		if conn, err = s.db.Connx(ctx); err != nil {
			return fmt.Errorf("begin transaction: %w", s.dialect.wrap(err, "begin"))
		}
		defer conn.Close()
		tx, err = conn.BeginTxx(ctx, nil)
	} else {
		tx, err = s.db.BeginTxx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("begin transaction: %w", s.dialect.wrap(err, "begin"))
	}
	ended := false
	defer func() {
		// fn failed or panicked: roll back now (a panic would otherwise
		// leave the transaction, and SQLite's write lock, held until the
		// context ends, with the connection's Close waiting on it).
		if ended {
			return
		}
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, context.Canceled) && !s.dialect.unavailable(rbErr) {
			s.log.WarnContext(ctx, "rollback failed", "err", rbErr)
		}
	}()
	if err := fn(&Store{db: s.db, q: tx, dialect: s.dialect, log: s.log}); err != nil {
		return err
	}
	ended = true
	if err := tx.Commit(); err != nil {
		if conn != nil {
			// "No transaction is active" when SQLite ended it itself.
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return commitError{s.dialect.wrap(err, "commit")}
	}
	return nil
}

// DatabaseTime returns the database's clock. Replicas compare times they
// wrote (leases, retries, the sweep's cutoffs) with their own clocks, so
// each replica checks its clock against this one, which they share. On
// SQLite the database is on this machine, and its clock is this one.
func (s *Store) DatabaseTime(ctx context.Context) (time.Time, error) {
	if s.dialect.name != "postgres" {
		return time.Now(), nil
	}
	var t time.Time
	err := s.db.GetContext(ctx, &t, `SELECT clock_timestamp()`)
	return t, s.dialect.wrap(err, "read the database's clock")
}
