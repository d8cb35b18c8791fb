package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/lib/pq"
)

// TestUnavailablePostgres: what lib/pq and database/sql return when the
// server is away is an outage; what a statement's failure returns is not.
func TestUnavailablePostgres(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", fmt.Errorf("begin: %w", refused), true},
		{"reset by peer", fmt.Errorf("query: %w", syscall.ECONNRESET), true},
		{"broken pipe", syscall.EPIPE, true},
		{"bad connection", fmt.Errorf("exec: %w", driver.ErrBadConn), true},
		{"connection done", sql.ErrConnDone, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"admin shutdown", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{"crash shutdown", &pq.Error{Code: "57P02"}, true},
		{"starting up", &pq.Error{Code: "57P03", Message: "the database system is starting up"}, true},
		{"connection exception", &pq.Error{Code: "08006"}, true},
		{"too many connections", &pq.Error{Code: "53300"}, true},
		{"unique violation", &pq.Error{Code: "23505"}, false},
		{"serialization failure", &pq.Error{Code: "40001"}, false},
		{"query canceled", &pq.Error{Code: "57014"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"transaction done", sql.ErrTxDone, false},
		{"context canceled", context.Canceled, false},
		{"deadline exceeded", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"other", errors.New("decode branding: bad JSON"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unavailablePostgres(tc.err); got != tc.want {
				t.Errorf("unavailablePostgres(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
