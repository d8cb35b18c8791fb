// Command admit is the admit server and its command-line administration.
// Run "admit help" for the commands. This file and its neighbours only read
// the configuration, wire the packages together and translate results for
// the terminal; every decision is made in package directory.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes: scripts tell a refusal (bad input, conflict) from a usage
// mistake by these.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cli := &cli{cfg: configFromEnv(getenv), getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return cli.run(ctx, args)
}
