package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReferenceDocsAreCurrent: docs/cli.md and docs/configuration.md are
// what the code prints now, so the reference cannot drift from the flags
// and settings it describes. `make docs` rewrites them.
func TestReferenceDocsAreCurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"cli.md", []string{"help", "--markdown"}},
		{"configuration.md", []string{"help", "config", "--markdown"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// No environment: the page must not depend on the machine.
			if code := run(context.Background(), tc.args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr); code != exitOK || stderr.Len() > 0 {
				t.Fatalf("admit %v: exit %d\n%s", tc.args, code, stderr.String())
			}
			onDisk, err := os.ReadFile(filepath.Join("..", "..", "docs", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(onDisk), stdout.String()); diff != "" {
				t.Errorf("docs/%s is out of date with the code; run `make docs` (-on disk +generated):\n%s", tc.file, diff)
			}
		})
	}
}

// TestCLIReferenceCoversEveryCommand: each command has a section with its
// synopsis and own flags, and every link of the contents reaches a section.
func TestCLIReferenceCoversEveryCommand(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	run(context.Background(), []string{"help", "--markdown"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stdout)
	page := stdout.String()
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### (.+)$`).FindAllStringSubmatch(page, -1) {
		headings[anchor(m[1])] = true
	}
	for _, cmd := range commands {
		if !strings.Contains(page, "\n### admit "+cmd.name+"\n") || !strings.Contains(page, "```\n"+synopsis(&cmd)+"\n```") {
			t.Errorf("no section with the synopsis of %q", cmd.name)
		}
	}
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(page, -1) {
		if !headings[m[1]] {
			t.Errorf("the contents link #%s reaches no heading", m[1])
		}
	}
	for _, want := range []string{"| `--account S` | account slug |", "| `--to FILE` |", "| `--role R` | role in the account | `member` |"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "--database-url") || strings.Contains(page, "ADMIT_ADDR") {
		t.Errorf("the command sections list the configuration, which configuration.md holds")
	}
}
