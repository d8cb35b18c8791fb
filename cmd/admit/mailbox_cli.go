package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/admit-dev/admit/directory"
)

// mailbox is whose mail a mail command reads: an account's, or the
// installation's (mail to operators, such as a disabled platform-wide
// webhook's notice, which belongs to no account).
type mailbox struct {
	accountID string // empty: the installation
	name      string // for messages: the account's slug, or "the installation"
}

// inMailbox parses the command's flags, which must name exactly one of
// --account S and --installation, and runs fn with that mailbox.
func (c *cli) inMailbox(ctx context.Context, fs *flag.FlagSet, args []string, required []string, fn func(svc *directory.Service, box mailbox) error) error {
	slug := fs.String("account", "", "account slug")
	installation := fs.Bool("installation", false, "the installation's mail (to operators) instead of an account's")
	if err := c.parse(fs, args, required...); err != nil {
		return err
	}
	name := strings.TrimPrefix(fs.Name(), "admit ")
	if *installation == (*slug != "") {
		return usageError{msg: fmt.Sprintf("%s: give --account S or --installation", name)}
	}
	if *installation {
		svc, done, err := c.service(ctx)
		if err != nil {
			return err
		}
		defer done()
		return fn(svc, mailbox{name: "the installation"})
	}
	svc, a, done, err := c.account(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	return fn(svc, mailbox{accountID: a.ID, name: a.Slug})
}
