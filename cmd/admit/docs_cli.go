package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// The reference pages docs/cli.md and docs/configuration.md are printed by
// `admit help --markdown` and `admit help config --markdown` from the same
// tables and flag definitions as the terminal help, so they cannot say
// anything the code does not; TestReferenceDocsAreCurrent fails when the
// files in docs/ differ from what the code prints (make docs rewrites them).

const generatedNote = "<!-- Generated from the code by `make docs` (%s); do not edit by hand. TestReferenceDocsAreCurrent fails when this file is out of date. -->\n"

// cliMarkdown prints docs/cli.md: every command with its synopsis, its own
// flags and its example.
func (c *cli) cliMarkdown(ctx context.Context, w io.Writer) error {
	fmt.Fprint(w, "# Command reference\n\n")
	fmt.Fprintf(w, generatedNote, "admit help --markdown")
	fmt.Fprint(w, "\nEvery command reads the settings in [configuration.md](configuration.md) (database, base URL,\n"+
		"secret key) from the environment, or from a flag of the same name given before or after the\n"+
		"command. Every command works while `admit serve` runs, against the same database.\n\n"+
		"- `--json` prints the result as JSON on standard output; an error is then also printed as\n"+
		"  `{\"error\": \"…\", \"kind\": \"…\"}`.\n"+
		"- Exit status: 0 done; 1 refused or failed (one line on standard error, `admit: …`);\n"+
		"  2 a mistake in how the command was called (unknown command or flag, a required flag missing).\n"+
		"- `admit help COMMAND` or `admit COMMAND --help` prints the same as this page for one command.\n\n")
	var groups []string
	seen := map[string]bool{}
	for _, cmd := range commands {
		first, _, _ := strings.Cut(cmd.name, " ")
		if !seen[first] {
			seen[first] = true
			groups = append(groups, first)
		}
	}
	fmt.Fprint(w, "## Commands\n\n")
	for _, g := range groups {
		var links []string
		for _, cmd := range commands {
			if first, _, _ := strings.Cut(cmd.name, " "); first == g {
				links = append(links, fmt.Sprintf("[%s](#%s)", cmd.name, anchor("admit "+cmd.name)))
			}
		}
		fmt.Fprintf(w, "- %s\n", strings.Join(links, " · "))
	}
	for i := range commands {
		cmd := &commands[i]
		c.current = cmd
		// A command's flags exist only inside its run: --help makes it
		// define them and print them (as markdown here) without opening
		// the database.
		if err := cmd.run(c, ctx, []string{"--help"}); err != errHelpShown {
			return fmt.Errorf("%s --help: %v", cmd.name, err)
		}
	}
	return nil
}

// commandMarkdown is commandHelp's page section.
func (c *cli) commandMarkdown(w io.Writer, cmd *command, own []*flag.Flag) {
	fmt.Fprintf(w, "\n### admit %s\n\n%s.\n\n```\n%s\n```\n", cmd.name, capitalize(cmd.summary), synopsis(cmd))
	if len(own) > 0 {
		fmt.Fprint(w, "\n| flag | meaning | default |\n| --- | --- | --- |\n")
		for _, f := range own {
			value, usage := flag.UnquoteUsage(f)
			if v := placeholder(cmd.usage, f.Name); v != "" && value != "" {
				value = v
			}
			if value != "" {
				value = " " + value
			}
			def := ""
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
				def = "`" + f.DefValue + "`"
			}
			fmt.Fprintf(w, "| `--%s%s` | %s | %s |\n", f.Name, value, cell(usage), def)
		}
	}
	if cmd.example != "" {
		fmt.Fprintf(w, "\nExample:\n\n```sh\n%s\n```\n", cmd.example)
	}
}

// configMarkdown prints docs/configuration.md from the settings table.
func (c *cli) configMarkdown(w io.Writer) {
	defaults := configFromEnv(func(string) string { return "" })
	fmt.Fprint(w, "# Configuration\n\n")
	fmt.Fprintf(w, generatedNote, "admit help config --markdown")
	fmt.Fprint(w, "\nadmit reads its settings from environment variables. Each has a flag of the same meaning,\n"+
		"spelled two ways (`--addr` or `--ADMIT_ADDR`), which overrides the variable for one run of any\n"+
		"command. Every problem with the settings is reported at once, at start, before anything is\n"+
		"opened. `admit help config` prints the same list in the terminal.\n\n"+
		"| variable | flag | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, s := range settings {
		def := ""
		if d := *s.field(&defaults); d != "" {
			def = "`" + d + "`"
		}
		fmt.Fprintf(w, "| `%s` | `--%s` | %s | %s |\n", s.env, s.flag, def, cell(s.usage))
	}
	fmt.Fprint(w, "\nThe CLI prints links with the base URL the server recorded at its last start, and refuses to\n"+
		"run with a secret key other than the one that sealed the database: give every process (the\n"+
		"server, each replica, the CLI) the same `ADMIT_SECRET_KEY`. Deployment examples that set these\n"+
		"variables are in [examples/deploy](../examples/deploy/); running admit in production is in\n"+
		"[operations.md](operations.md).\n")
}

// cell makes text safe inside a markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "*", `\*`, "<", "&lt;").Replace(s)
}

// anchor is the id GitHub gives a heading: lower case, spaces to hyphens,
// punctuation other than hyphens and underscores dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}
