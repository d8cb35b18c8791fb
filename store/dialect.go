package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/admit-dev/admit/directory"
)

// dialect is everything that differs between PostgreSQL and SQLite outside
// the migrations: the driver, the pool, and how errors are told apart.
type dialect struct {
	name          string
	driver        string
	goose         goose.Dialect
	configurePool func(*sqlx.DB)
	// uniqueViolation and retryable classify driver errors; unavailable
	// tells that the database could not be reached or the connection
	// broke (see unavailablePostgres).
	uniqueViolation func(error) bool
	// foreignKeyViolation: a row refers to one that is gone (an account
	// deleted, a person erased, while the request that writes it ran).
	foreignKeyViolation func(error) bool
	retryable           func(error) bool
	unavailable         func(error) bool
	// walkEmailIndex, placed after "memberships m", makes the planner read
	// the members in email order instead of merging the three search
	// indexes and sorting (see FindMembers). PostgreSQL's planner makes
	// that choice from its statistics; SQLite's must be told.
	walkEmailIndex string
	// walkFilterIndex is walkEmailIndex for a listing by a console
	// filter: the index of the filter, in email order.
	walkFilterIndex func(directory.MemberQuery) string
	// skipLocked ends a SELECT of rows to claim, so that concurrent
	// claimers pass over each other's rows instead of waiting on them.
	skipLocked string
	// lockRows ends a SELECT whose rows a transaction reads in order to
	// change them, holding them until it ends. SQLite needs nothing:
	// its transactions start with BEGIN IMMEDIATE, which takes the
	// database's one write lock before the first read.
	lockRows func(alias string) string
	// forShare ends a SELECT of a row that must not change until the
	// transaction ends, while others may read it the same way (SQLite's
	// single writer needs nothing).
	forShare string
	// forKeyShare ends a SELECT of a row that must not be deleted, nor
	// locked FOR UPDATE, until the transaction ends: what a foreign key's
	// check takes on the row it refers to. Updates of other columns go on.
	forKeyShare string
	// insertInWith: a data-modifying WITH runs one INSERT or DELETE
	// inside another's statement (PostgreSQL), saving a round trip.
	insertInWith bool
	// contains and endsWith build the substring tests of SCIM's co and ew
	// filters; LIKE would need wildcards escaped, and SQLite's ignores case.
	contains func(col string) string
	endsWith func(col string, n int) string
	// jsonArg is a placeholder for a JSON argument that is compared with
	// a JSON column: PostgreSQL compares jsonb values, SQLite the text.
	jsonArg string
	// attempts bounds how often Tx runs a transaction that keeps failing
	// with a retryable error.
	attempts int
	// raceAttempts bounds how often Tx runs a transaction that failed on
	// a unique violation. On PostgreSQL, under READ COMMITTED, a
	// transaction that read that a row was absent (a person's membership,
	// a SCIM userName) and then inserted it collides with another that
	// inserted and committed it in between: a double click, a retried
	// SCIM POST. Run again, its reads see that row and it takes the path
	// for an existing one (signs in, answers 409), so the database, not a
	// lock in admit, settles the race. SQLite's BEGIN IMMEDIATE lets no
	// writer read before another commits: a unique violation there is
	// the caller's own input, and is not run again.
	raceAttempts int
}

var postgresDialect = dialect{
	name:   "postgres",
	driver: "postgres",
	goose:  goose.DialectPostgres,
	configurePool: func(db *sqlx.DB) {
		// A transaction spends its time waiting on round trips, not on
		// admit's CPU: 8 connections a core keep 16 SCIM clients on 2 cores
		// from queueing for one (make bench-load).
		db.SetMaxOpenConns(postgresIdleConns())
		db.SetMaxIdleConns(postgresIdleConns())
		// An idle connection is not checked until it is used: one that a
		// restart, a failover or a firewall ended fails its next query.
		// Short idle and total lifetimes bound how many such connections
		// the pool can hold (Tx also empties the pool when it meets one,
		// see dropIdle), and move connections to a new primary.
		db.SetConnMaxIdleTime(time.Minute)
		db.SetConnMaxLifetime(30 * time.Minute)
	},
	uniqueViolation: func(err error) bool {
		var pe *pq.Error
		return errors.As(err, &pe) && pe.Code == "23505"
	},
	foreignKeyViolation: func(err error) bool {
		var pe *pq.Error
		return errors.As(err, &pe) && pe.Code == "23503"
	},
	unavailable: unavailablePostgres,
	retryable: func(err error) bool {
		var pe *pq.Error
		// 40001 serialization_failure, 40P01 deadlock_detected.
		return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
	},
	skipLocked:      " FOR UPDATE SKIP LOCKED",
	lockRows:        func(alias string) string { return " FOR UPDATE OF " + alias },
	forShare:        " FOR SHARE",
	forKeyShare:     " FOR KEY SHARE",
	insertInWith:    true,
	walkFilterIndex: func(directory.MemberQuery) string { return "" },
	jsonArg:         "CAST(? AS jsonb)",
	contains:        func(col string) string { return "strpos(" + col + ", ?) > 0" },
	endsWith:        func(col string, n int) string { return "right(" + col + ", " + strconv.Itoa(n) + ") = ?" },
	attempts:        8,
	raceAttempts:    3,
}

var sqliteDialect = dialect{
	name:   "sqlite",
	driver: "sqlite",
	goose:  goose.DialectSQLite3,
	configurePool: func(db *sqlx.DB) {
		// SQLite has one writer at a time; more connections only help
		// readers, and each one holds its own page cache.
		db.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
		db.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	},
	uniqueViolation: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	foreignKeyViolation: func(err error) bool {
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	retryable: func(err error) bool {
		var se *sqlite.Error
		// The busy timeout already waited; a BUSY that still comes back is
		// worth one more try from the top of the transaction.
		return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
	},
	walkEmailIndex: " INDEXED BY memberships_email",
	walkFilterIndex: func(q directory.MemberQuery) string {
		switch {
		case q.Bounced:
			// The invited, of whom it keeps those whose invitation
			// bounced: fewer than those who never signed in.
			return " INDEXED BY memberships_status"
		case q.NeverSignedIn:
			return " INDEXED BY memberships_never_signed_in"
		case q.Status != "":
			return " INDEXED BY memberships_status"
		case q.Source != "":
			return " INDEXED BY memberships_source"
		}
		return ""
	},
	lockRows: func(string) string { return "" },
	contains: func(col string) string { return "instr(" + col + ", ?) > 0" },
	jsonArg:  "?",
	endsWith: func(col string, n int) string { return "substr(" + col + ", -" + strconv.Itoa(n) + ") = ?" },
	// A file on the same machine does not go away the way a server does:
	// its failures are internal.
	unavailable: func(error) bool { return false },
	// Each attempt already waited out the busy timeout.
	attempts:     2,
	raceAttempts: 1,
}

// postgresIdleConns is how many idle connections the PostgreSQL pool keeps.
func postgresIdleConns() int { return 8 * runtime.GOMAXPROCS(0) }

// unavailablePostgres tells that err means PostgreSQL could not be reached
// or a connection broke, rather than that a statement failed: the server
// refused or reset the connection, ended it (57P01 admin_shutdown when it
// stops, 57P02 crash_shutdown, 57P03 "the database system is starting up"
// or "shutting down"), any connection exception (class 08), too many
// connections (53300), or lib/pq marked the connection bad
// (driver.ErrBadConn, which is what it returns for a FATAL error).
func unavailablePostgres(err error) bool {
	// A caller that gave up (its client left, its deadline passed) says
	// nothing about the database; context.DeadlineExceeded would pass for
	// a net.Error below.
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "53300" ||
			strings.HasPrefix(string(pe.Code), "08")
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// wrap turns a driver error into a directory error where the caller can act
// on it: no rows is NotFound, a unique violation is Conflict; anything else
// is returned wrapped with the operation.
func (d dialect) wrap(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return &directory.Error{Kind: directory.NotFound, Message: "not found", Err: fmt.Errorf("%s: %w", op, err)}
	case d.uniqueViolation(err):
		return &directory.Error{Kind: directory.Conflict, Message: "already exists", Err: fmt.Errorf("%s: %w", op, err)}
	case d.foreignKeyViolation(err):
		// What the row belongs to went (an account deleted, a person
		// erased) after the request found it: gone, not a server error.
		return &directory.Error{Kind: directory.NotFound, Message: "what this belongs to no longer exists", Err: fmt.Errorf("%s: %w", op, err)}
	case d.unavailable(err):
		return directory.UnavailableError(fmt.Errorf("%s: %w", op, err))
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}
