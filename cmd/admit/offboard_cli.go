package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/admit-dev/admit/directory"
)

func (c *cli) accountDelete(ctx context.Context, args []string) error {
	fs := c.flags("account delete")
	slug := fs.String("slug", "", "the account to delete")
	yes := fs.Bool("yes", false, "confirm: the deletion cannot be undone")
	chunk := fs.Int("chunk", directory.DefaultAccountChunk, "rows or members deleted per transaction (at most 10000)")
	return c.inService(ctx, fs, args, []string{"slug"}, func(svc *directory.Service) error {
		if !*yes {
			return usageError{msg: fmt.Sprintf("account delete: deleting %s removes it, its members' memberships and everything in it, and erases the people whose only account it is (unless another account is their home, or they are operators); it cannot be undone: add --yes", *slug)}
		}
		if *chunk < 1 || *chunk > directory.MaxAccountChunk {
			return usageError{msg: fmt.Sprintf("account delete: --chunk is from 1 to %d", directory.MaxAccountChunk)}
		}
		d, err := svc.DeleteAccount(ctx, c.actor(), strings.TrimSpace(*slug), *chunk, func(p directory.AccountDeletion) error {
			if p.Transactions%100 == 0 {
				c.logger(slog.LevelInfo).InfoContext(ctx, "deleting account", "slug", p.Slug, "rows", p.Rows, "memberships", p.Memberships)
			}
			return nil
		})
		if err != nil {
			return deletionFailed(d, err)
		}
		resumed := ""
		if d.Resumed {
			resumed = " (resumed)"
		}
		c.output(d, fmt.Sprintf("deleted account %s%s: %d memberships (%d people erased, %d kept: they belong elsewhere, another account is their home, or they are operators), %d other rows, in %d transactions",
			d.Slug, resumed, d.Memberships, d.Erased, d.Kept, d.Rows, d.Transactions))
		return nil
	})
}

// deletionFailed words a deletion's error: one that stopped with the
// account still there (deleting) says to run the command again; one that
// found it gone (another run finished it) says only that.
func deletionFailed(d directory.AccountDeletion, err error) error {
	if d.AccountID == "" || directory.KindOf(err) == directory.NotFound {
		return err
	}
	return fmt.Errorf("%w (the account stays deleting, where no one can sign in to it: run the command again to finish)", err)
}

func (c *cli) userErase(ctx context.Context, args []string) error {
	fs := c.flags("user erase")
	email := fs.String("email", "", "the person's email")
	yes := fs.Bool("yes", false, "confirm: the erasure cannot be undone")
	orphanOK := fs.Bool("orphan-ok", false, "erase them also where they are the last active owner, leaving the account without one")
	return c.inService(ctx, fs, args, []string{"email"}, func(svc *directory.Service) error {
		if !*yes {
			return usageError{msg: fmt.Sprintf("user erase: erasing %s removes their user and memberships in every account; it cannot be undone: add --yes", strings.TrimSpace(*email))}
		}
		e, err := svc.ErasePerson(ctx, c.actor(), *email, directory.EraseOptions{OrphanOK: *orphanOK})
		if err != nil {
			return err
		}
		orphaned := ""
		if len(e.Orphaned) > 0 {
			orphaned = fmt.Sprintf("; %s now have no active owner: name one", strings.Join(e.Orphaned, ","))
		}
		uploads := ""
		if e.UploadsDiscarded > 0 {
			uploads = fmt.Sprintf("; %d files waiting to be imported were discarded (their admins upload them again)", e.UploadsDiscarded)
		}
		c.output(e, fmt.Sprintf("erased %s (user %s): left %d accounts %s; %d audit events now name them %s%s%s",
			e.Email, e.UserID, len(e.Accounts), strings.Join(e.Accounts, ","), e.AuditEvents, directory.Pseudonym(e.UserID), orphaned, uploads))
		return nil
	})
}
