package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelp runs the binary where a newcomer looks for help.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args       []string
		code       int
		want, not  []string // in stdout
		wantStderr []string
	}{
		{args: []string{"--help"}, want: []string{"usage: admit <command>", "user add", "group list", "admit help config"}},
		{args: []string{"-h"}, want: []string{"usage: admit <command>"}},
		{args: []string{"help"}, want: []string{"usage: admit <command>", "audit list"}},
		{args: []string{"help", "user", "add"}, want: []string{"usage: admit user add --account S", "--email E", "the person's email address", "example:\n  admit user add"}, not: []string{"ADMIT_ADDR", "--addr", "--database-url", "error"}},
		{args: []string{"user", "add", "--help"}, want: []string{"usage: admit user add --account S", "example:"}, not: []string{"ADMIT_", "--base-url"}},
		{args: []string{"user", "add", "-h"}, want: []string{"usage: admit user add"}},
		{args: []string{"user", "--help"}, want: []string{"user add", "user deactivate"}, not: []string{"invite create"}},
		{args: []string{"help", "user"}, want: []string{"user list"}, not: []string{"account create"}},
		// serve prints no result: its --json is its log's.
		{args: []string{"serve", "--help"}, want: []string{"usage: admit serve", "write the log as JSON lines"}},
		{args: []string{"help", "config"}, want: []string{"ADMIT_DATABASE_URL (--database-url)", "ADMIT_SECRET_KEY", "default 127.0.0.1:8080"}},
		{args: nil, code: exitUsage, wantStderr: []string{"usage: admit <command>"}},
		{args: []string{"user"}, code: exitUsage, wantStderr: []string{"user add"}},
		{args: []string{"user", "add", "--nope"}, code: exitUsage, wantStderr: []string{"admit: user add: flag provided but not defined: -nope\nusage: admit user add --account S", "admit help user add"}},
		{args: []string{"user", "add", "--account", "acme"}, code: exitUsage, wantStderr: []string{"admit: user add: missing --email, --first, --last\n"}},
		{args: []string{"help", "nosuch"}, code: exitUsage, wantStderr: []string{`no help for "nosuch"`}},
		{args: []string{"nosuch"}, code: exitUsage, wantStderr: []string{`unknown command "nosuch"`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := admitWith(t, append(cleanEnv(), "ADMIT_DATABASE_URL=postgres://127.0.0.1:1/unreachable"), "", tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(r.stdout, n) {
					t.Errorf("stdout has %q:\n%s", n, r.stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if tc.code == 0 && r.stderr != "" {
				t.Errorf("help wrote to stderr: %s", r.stderr)
			}
		})
	}
}

// TestEveryCommandHasHelp: each command answers --help with its synopsis,
// flags and example, without touching the (unreachable) database.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string {
		if k == "ADMIT_DATABASE_URL" {
			return "postgres://127.0.0.1:1/unreachable"
		}
		return ""
	}
	for _, cmd := range commands {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), strings.Fields("help "+cmd.name), getenv, strings.NewReader(""), &stdout, &stderr)
		if code != exitOK || !strings.HasPrefix(stdout.String(), "usage: admit "+cmd.name) || !strings.Contains(stdout.String(), "example:\n  admit ") && !strings.Contains(stdout.String(), "example:\n  ADMIT_") {
			t.Errorf("admit help %s: exit %d\n%s%s", cmd.name, code, stdout.String(), stderr.String())
		}
		if strings.Contains(stdout.String(), "--database-url") || strings.Contains(stdout.String(), "--ADMIT_") {
			t.Errorf("admit help %s lists the configuration", cmd.name)
		}
		if cmd.example == "" || !strings.Contains(cmd.example, cmd.name) {
			t.Errorf("%s: the example does not run the command: %q", cmd.name, cmd.example)
		}
	}
	// help config lists each setting once.
	var stdout bytes.Buffer
	run(context.Background(), []string{"help", "config"}, getenv, strings.NewReader(""), &stdout, &stdout)
	for _, s := range settings {
		if n := strings.Count(stdout.String(), s.env+" "); n != 1 {
			t.Errorf("help config names %s %d times", s.env, n)
		}
	}
}
