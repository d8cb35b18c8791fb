// Command admit-load drives a built admit binary over SCIM the way Entra ID
// and Okta do, at many connections at once, on a fresh PostgreSQL database,
// and measures the bare database with the same driver and concurrency in
// the same run. It prints admit's figures and their ratios to the bare
// database's, against the targets of issue 15 (`make bench-load`).
//
// It is a program rather than a benchmark under a build tag because it
// measures admit from outside, as an identity provider sees it: a built
// binary behind HTTP, started as an operator starts it. Timings on a
// shared machine vary from run to run; only the same-run ratios compare.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	var c config
	flag.StringVar(&c.admit, "admit", "bin/admit", "the admit binary to run")
	flag.StringVar(&c.postgres, "postgres", envOr("ADMIT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"a PostgreSQL server URL whose user may create databases; the run makes a fresh one and drops it")
	flag.IntVar(&c.users, "users", 10000, "users to create, and members of the big group")
	flag.IntVar(&c.clients, "clients", 16, "concurrent clients")
	flag.StringVar(&c.pprof, "pprof", "", "ADMIT_PPROF_ADDR for admit (loopback), to profile it during the run")
	flag.BoolVar(&c.keep, "keep", false, "keep the database and print its URL")
	flag.DurationVar(&c.restartFor, "restart-for", 0, "instead of measuring speed: run admit on a PostgreSQL cluster of the run's own, stop it for this long under SCIM load, and check that every request got its 2xx (with the write there afterwards) or a 503 with Retry-After")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, c, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "admit-load:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
	if rep.outage != nil {
		if !rep.outage.ok() {
			os.Exit(1)
		}
		return
	}
	if !rep.allMet() {
		// Not a failure of the run: the table says which target is not met.
		fmt.Println("\nsome targets are not met (see the table)")
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// config is one run.
type config struct {
	admit    string
	postgres string
	users    int
	clients  int
	pprof    string
	keep     bool
	// restartFor, when set, makes the run the fault run (outage.go).
	restartFor time.Duration
	// timeout bounds the whole run.
	timeout time.Duration
}
