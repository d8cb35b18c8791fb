package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// errHelpShown ends a command whose help was asked for and printed: exit 0.
var errHelpShown = errors.New("help shown")

// lookup finds the command args start with, and the args left after its
// name. With none, group is the first word when it names a group of
// commands ("user"), for help on that group.
func lookup(args []string) (cmd *command, rest []string, group string) {
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return &commands[i], args[len(words):], ""
		}
	}
	if len(args) > 0 && len(groupCommands(args[0])) > 0 {
		return nil, args[1:], args[0]
	}
	return nil, args, ""
}

// groupCommands lists the commands whose name starts with the word.
func groupCommands(word string) []command {
	var out []command
	for _, cmd := range commands {
		if first, _, _ := strings.Cut(cmd.name, " "); first == word && cmd.name != word {
			out = append(out, cmd)
		}
	}
	return out
}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// help answers `admit help [topic]`: the overview, the configuration, a
// group of commands or one command (whose flags only its run knows, so it
// is run with --help).
func (c *cli) help(ctx context.Context, topic []string) error {
	switch {
	case len(topic) == 0:
		c.overview(c.stdout)
		return errHelpShown
	case len(topic) == 1 && topic[0] == "config":
		c.configHelp(c.stdout)
		return errHelpShown
	case slices.Equal(topic, []string{"--markdown"}):
		c.markdown = true
		if err := c.cliMarkdown(ctx, c.stdout); err != nil {
			return err
		}
		return errHelpShown
	case slices.Equal(topic, []string{"config", "--markdown"}):
		c.configMarkdown(c.stdout)
		return errHelpShown
	}
	cmd, rest, group := lookup(topic)
	switch {
	case cmd != nil && len(rest) == 0:
		c.current = cmd
		return cmd.run(c, ctx, []string{"--help"})
	case group != "" && len(rest) == 0:
		c.groupHelp(c.stdout, group)
		return errHelpShown
	}
	return usageError{msg: fmt.Sprintf("no help for %q; run 'admit help' for the commands", strings.Join(topic, " "))}
}

// overview is `admit help`: every command in one line each.
func (c *cli) overview(w io.Writer) {
	fmt.Fprint(w, "admit: single sign-on, SCIM and invitations for a multi-account platform\n\nusage: admit <command> [flags]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cmd := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun 'admit help <command>' or 'admit <command> --help' for a command's flags and an example,\nand 'admit help config' for the settings every command reads (database, base URL, secret key).\n")
}

// groupHelp lists the commands of one group, as `admit user --help` asks.
func (c *cli) groupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: admit %s <command> [flags]\n\ncommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cmd := range groupCommands(group) {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'admit help %s <command>' for its flags and an example.\n", group)
}

// configHelp lists the settings once: they are read by every command from
// the environment, and each may be given as a flag instead.
func (c *cli) configHelp(w io.Writer) {
	defaults := configFromEnv(func(string) string { return "" })
	fmt.Fprint(w, "Every command reads these settings from the environment; a flag of the same name\n(--addr or --ADMIT_ADDR) overrides the variable for one run.\n\n")
	for _, s := range settings {
		fmt.Fprintf(w, "  %s (--%s)\n      %s", s.env, s.flag, s.usage)
		if d := *s.field(&defaults); d != "" {
			fmt.Fprintf(w, "; default %s", d)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "\nThe CLI prints links with the base URL the server recorded at its last start, and\nrefuses to run with a secret key other than the one that sealed the database.\n")
}

// commandHelp prints one command's synopsis, its own flags (not the
// configuration's), and its example.
func (c *cli) commandHelp(w io.Writer, cmd *command, fs *flag.FlagSet) {
	config := map[string]bool{}
	for _, s := range settings {
		config[s.flag], config[s.env] = true, true
	}
	var own []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !config[f.Name] {
			own = append(own, f)
		}
	})
	if c.markdown {
		c.commandMarkdown(w, cmd, own)
		return
	}
	fmt.Fprintf(w, "usage: %s\n\n%s.\n", synopsis(cmd), capitalize(cmd.summary))
	if len(own) > 0 {
		fmt.Fprint(w, "\nflags:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range own {
			value, usage := flag.UnquoteUsage(f)
			if v := placeholder(cmd.usage, f.Name); v != "" && value != "" {
				value = v
			}
			if value != "" {
				value = " " + value
			}
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
				usage += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, value, usage)
		}
		tw.Flush()
	}
	if cmd.example != "" {
		fmt.Fprintf(w, "\nexample:\n  %s\n", cmd.example)
	}
	fmt.Fprint(w, "\nSettings (database, base URL, secret key) come from the environment: admit help config\n")
}

// placeholder is the value name the synopsis gives a flag ("S" in
// "--account S"), so that the flag list and the synopsis agree.
func placeholder(usage, name string) string {
	fields := strings.Fields(strings.NewReplacer("[", " ", "]", " ", "(", " ", ")", " ", "|", " ").Replace(usage))
	for i, f := range fields {
		if f == "--"+name && i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") {
			return fields[i+1]
		}
	}
	return ""
}

func synopsis(cmd *command) string {
	return strings.TrimSpace("admit " + cmd.name + " " + cmd.usage)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
