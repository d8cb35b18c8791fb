// Package pgtest runs a PostgreSQL cluster of its own, in a temporary
// folder on a free loopback port, for tests and load runs that stop and
// restart the database: the shared server that storetest uses is never
// stopped. It needs PostgreSQL's server binaries (initdb, pg_ctl); as root
// it runs them as the postgres user, since initdb refuses to run as root.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	_ "github.com/lib/pq"
)

// Cluster is a running (or stopped) PostgreSQL cluster.
type Cluster struct {
	dir  string // owns data/, the socket and the server's log
	bin  string
	port int
	// asPostgres runs the binaries as the postgres user (we are root).
	asPostgres bool
}

// ErrNoBinaries is returned by Start when PostgreSQL's server binaries are
// not installed.
var ErrNoBinaries = errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found")

// binaries finds the folder of initdb and pg_ctl: Debian keeps them out of
// PATH, in /usr/lib/postgresql/VERSION/bin.
func binaries() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // newest first (same digit count)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// Start makes a new cluster in a temporary folder and starts it. Call
// Remove when done.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "admit-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, asPostgres: os.Geteuid() == 0}
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := c.init(ctx); err != nil {
		c.Remove()
		return nil, err
	}
	if err := c.StartServer(ctx); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) init(ctx context.Context) error {
	if err := c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// Durability is not what these clusters test: fsync off makes them
	// start, stop and write faster.
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\nshared_buffers = 32MB\n", c.port, c.dir)
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of PostgreSQL's binaries, as the postgres user when we are root.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asPostgres {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s %v: %w\n%s", name, args, err, out.Bytes())
	}
	return nil
}

// StartServer starts the cluster's server and waits until it accepts
// connections.
func (c *Cluster) StartServer(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60", "start")
}

// StopServer stops the server the way an operator's restart does ("fast":
// sessions are ended, 57P01, and transactions in flight rolled back) and
// waits until it is down.
func (c *Cluster) StopServer(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Restart stops the server, keeps it down for down, and starts it again.
// make bench-load and the fault tests use it mid-run.
func (c *Cluster) Restart(ctx context.Context, down time.Duration) error {
	if err := c.StopServer(ctx); err != nil {
		return err
	}
	select {
	case <-time.After(down):
	case <-ctx.Done():
	}
	return c.StartServer(context.WithoutCancel(ctx))
}

// Remove stops the server, if it runs, and deletes the cluster's folder.
func (c *Cluster) Remove() error {
	if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.run(ctx, "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
	}
	return os.RemoveAll(c.dir)
}

// URL is the connection URL of database name in the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	db, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// Log returns what the server has logged, for a failing test's message.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

// New starts a cluster for the test and removes it when the test ends,
// also when it fails. Without the binaries the test is skipped, unless
// ADMIT_TEST_REQUIRE_POSTGRES=1, which makes it fail.
func New(tb testing.TB) *Cluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx)
	if errors.Is(err, ErrNoBinaries) && os.Getenv("ADMIT_TEST_REQUIRE_POSTGRES") != "1" {
		tb.Skipf("SKIPPING: %v (install postgresql, or set ADMIT_TEST_REQUIRE_POSTGRES=1 to fail instead)", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Remove(); err != nil {
			tb.Errorf("pgtest: remove cluster: %v", err)
		}
	})
	return c
}
