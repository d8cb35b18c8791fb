package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/mail"
)

type invitationJSON struct {
	ID           string    `json:"id"`
	Account      string    `json:"account"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	Status       string    `json:"status"`
	Sends        int       `json:"sends"`
	ExpiresAt    time.Time `json:"expires_at"`
	BounceReason string    `json:"bounce_reason,omitempty"`
}

func toInvitationJSON(slug string, inv directory.Invitation) invitationJSON {
	return invitationJSON{inv.ID, slug, inv.Email, string(inv.Role), string(inv.Status), inv.Sends, inv.ExpiresAt, inv.BounceReason}
}

func (c *cli) inviteCreate(ctx context.Context, args []string) error {
	fs := c.flags("invite create")
	slug := fs.String("account", "", "account slug")
	email := fs.String("email", "", "the person's email address")
	role := fs.String("role", "member", "role in the account")
	inviter := fs.String("inviter", "", "email of the member on whose behalf the invitation goes out; told if it bounces")
	ttl := fs.Duration("expires-in", directory.DefaultInvitationTTL, "how long the link works")
	if err := c.parse(fs, args, "account", "email"); err != nil {
		return err
	}
	return c.invite(ctx, *slug, directory.NewInvitation{Email: *email, Role: directory.Role(*role), InviterEmail: *inviter, TTL: *ttl})
}

func (c *cli) invite(ctx context.Context, slug string, in directory.NewInvitation) error {
	svc, a, done, err := c.account(ctx, slug)
	if err != nil {
		return err
	}
	defer done()
	inv, err := svc.Invite(ctx, a.ID, c.actor(), in)
	if err != nil {
		return err
	}
	c.output(toInvitationJSON(a.Slug, inv), fmt.Sprintf("invited %s to %s as %s; the link expires %s", inv.Email, a.Slug, inv.Role, inv.ExpiresAt.Format(time.RFC1123)))
	return nil
}

func (c *cli) inviteResend(ctx context.Context, args []string) error {
	fs := c.flags("invite resend")
	email := fs.String("email", "", "the invited person's email address")
	ttl := fs.Duration("expires-in", directory.DefaultInvitationTTL, "how long the new link works")
	return c.inAccount(ctx, fs, args, []string{"email"}, func(svc *directory.Service, a directory.Account) error {
		inv, err := svc.Resend(ctx, a.ID, c.actor(), *email, *ttl)
		if err != nil {
			return err
		}
		c.output(toInvitationJSON(a.Slug, inv), fmt.Sprintf("sent the invitation to %s again (send %d); the earlier link no longer works", inv.Email, inv.Sends))
		return nil
	})
}

func (c *cli) inviteRevoke(ctx context.Context, args []string) error {
	fs := c.flags("invite revoke")
	email := fs.String("email", "", "the invited person's email address")
	return c.inAccount(ctx, fs, args, []string{"email"}, func(svc *directory.Service, a directory.Account) error {
		inv, err := svc.Revoke(ctx, a.ID, c.actor(), *email)
		if err != nil {
			return err
		}
		c.output(toInvitationJSON(a.Slug, inv), fmt.Sprintf("withdrew the invitation of %s to %s", inv.Email, a.Slug))
		return nil
	})
}

func (c *cli) inviteList(ctx context.Context, args []string) error {
	fs := c.flags("invite list")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		invs, err := svc.Invitations(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]invitationJSON, len(invs))
		t := newTable("EMAIL", "ROLE", "STATUS", "SENT", "EXPIRES", "BOUNCE")
		for i, inv := range invs {
			out[i] = toInvitationJSON(a.Slug, inv)
			t.add(inv.Email, string(inv.Role), string(inv.Status), fmt.Sprintf("%d×", inv.Sends), inv.ExpiresAt.Format("2006-01-02 15:04"), inv.BounceReason)
		}
		if t.len() == 0 {
			c.output(out, "no invitations in "+a.Slug)
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}

// brandingFields are the flags of account set-branding and the field each sets.
var brandingFields = []struct {
	flag, usage string
	field       func(*directory.Branding) *string
}{
	{"display-name", "the name people see instead of the account name", func(b *directory.Branding) *string { return &b.DisplayName }},
	{"logo-url", "https:// address of the logo", func(b *directory.Branding) *string { return &b.LogoURL }},
	{"color", "primary colour, like #1f6feb", func(b *directory.Branding) *string { return &b.PrimaryColor }},
	{"sender-name", "the From name of emails", func(b *directory.Branding) *string { return &b.SenderName }},
	{"reply-to", "where replies to emails go", func(b *directory.Branding) *string { return &b.ReplyTo }},
	{"invite-subject", "subject line of invitation emails", func(b *directory.Branding) *string { return &b.InviteSubject }},
	{"invite-intro", "opening paragraph of invitation emails", func(b *directory.Branding) *string { return &b.InviteIntro }},
}

func (c *cli) accountSetBranding(ctx context.Context, args []string) error {
	fs := c.flags("account set-branding")
	values := map[string]*string{}
	for _, f := range brandingFields {
		values[f.flag] = fs.String(f.flag, "", f.usage+` ("" clears it)`)
	}
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		// Only the flags given change; the rest keep their values.
		b := a.Branding
		fs.Visit(func(given *flag.Flag) {
			for _, f := range brandingFields {
				if f.flag == given.Name {
					*f.field(&b) = *values[f.flag]
				}
			}
		})
		a, err := svc.SetBranding(ctx, a.ID, c.actor(), b)
		if err != nil {
			return err
		}
		c.output(map[string]any{"account": a.Slug, "branding": a.Branding}, fmt.Sprintf("branding of %s saved", a.Slug))
		return nil
	})
}

type mailJSON struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	To        string     `json:"to"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
}

func (c *cli) mailList(ctx context.Context, args []string) error {
	fs := c.flags("mail list")
	limit := limitFlag(fs, 50, 1, 500, "how many, newest first (1 to 500)")
	return c.inMailbox(ctx, fs, args, nil, func(svc *directory.Service, box mailbox) error {
		msgs, err := svc.Mail(ctx, box.accountID, *limit)
		if err != nil {
			return err
		}
		out := make([]mailJSON, len(msgs))
		t := newTable("ID", "KIND", "TO", "STATUS", "LAST ERROR")
		for i, m := range msgs {
			out[i] = mailJSON{m.ID, string(m.Kind), m.Recipient, string(m.Status), m.Attempts, m.LastError, m.CreatedAt, m.SentAt}
			t.add(m.ID, string(m.Kind), m.Recipient, string(m.Status), m.LastError)
		}
		if t.len() == 0 {
			c.output(out, "no mail")
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}

func (c *cli) mailShow(ctx context.Context, args []string) error {
	fs := c.flags("mail show")
	id := fs.String("id", "", "the message id (from mail list)")
	return c.inMailbox(ctx, fs, args, []string{"id"}, func(svc *directory.Service, box mailbox) error {
		m, err := svc.FindMailMessage(ctx, *id)
		if err != nil || m.AccountID != box.accountID {
			return directory.NotFoundError(fmt.Sprintf("no mail message %s in %s", *id, box.name))
		}
		body, err := svc.MailBodyOf(ctx, m)
		if err != nil {
			return err
		}
		r, err := mail.NewRenderer(c.linkBase(), c.cfg.Sender())
		if err != nil {
			return err
		}
		msg, err := r.Render(body)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("From: %s <%s>\nTo: %s\nSubject: %s\n\n%s", msg.From.Name, msg.From.Email, msg.To, msg.Subject, msg.Text)
		c.output(map[string]string{"id": m.ID, "from": msg.From.Email, "to": msg.To, "subject": msg.Subject, "text": msg.Text, "html": msg.HTML}, text)
		return nil
	})
}

func (c *cli) mailBounceSecret(ctx context.Context, args []string) error {
	fs := c.flags("mail bounce-secret")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	s, keys, err := c.open(ctx, c.logger(slog.LevelWarn))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := c.adoptBaseURL(ctx, s); err != nil {
		return err
	}
	secret := string(keys.bounceSecret())
	c.output(map[string]string{"secret": secret, "url": strings.TrimSuffix(c.linkBase(), "/") + "/hooks/mail-bounce"}, secret)
	return nil
}
