package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

type domainJSON struct {
	Domain     string `json:"domain"`
	Status     string `json:"status"` // verified or pending
	VerifiedBy string `json:"verified_by,omitempty"`
	VerifiedAt string `json:"verified_at,omitempty"`
	// The record that proves control, while the domain is pending.
	RecordName  string `json:"record_name,omitempty"`
	RecordType  string `json:"record_type,omitempty"`
	RecordValue string `json:"record_value,omitempty"`
	CreatedAt   string `json:"created_at"`
}

func toDomainJSON(d directory.Domain) domainJSON {
	out := domainJSON{Domain: d.Name, Status: "pending", CreatedAt: d.CreatedAt.Format(time.RFC3339)}
	if d.Verified() {
		out.Status, out.VerifiedBy, out.VerifiedAt = "verified", string(d.VerifiedBy), d.VerifiedAt.Format(time.RFC3339)
	} else {
		out.RecordName, out.RecordType, out.RecordValue = d.ChallengeName(), "TXT", d.ChallengeValue()
	}
	return out
}

// domainText says what a domain's state means for the person at the terminal.
func domainText(a directory.Account, d directory.Domain) string {
	if d.Verified() {
		return fmt.Sprintf("%s is a verified domain of %s (%s)", d.Name, a.Slug, d.VerifiedBy)
	}
	return fmt.Sprintf("%s is claimed by %s, pending verification. Publish this DNS record:\n\n  %s  TXT  %q\n\nthen run: admit domain verify --account %s --domain %s",
		d.Name, a.Slug, d.ChallengeName(), d.ChallengeValue(), a.Slug, d.Name)
}

func (c *cli) domainAdd(ctx context.Context, args []string) error {
	fs := c.flags("domain add")
	name := fs.String("domain", "", "the email domain, like acme.example")
	vouch := fs.Bool("verified", false, "vouch for the domain as the operator instead of a DNS proof (audited)")
	return c.inAccount(ctx, fs, args, []string{"domain"}, func(svc *directory.Service, a directory.Account) error {
		d, err := svc.AddDomain(ctx, a.ID, c.actor(), *name, *vouch)
		if err != nil {
			return err
		}
		c.output(toDomainJSON(d), domainText(a, d))
		return nil
	})
}

func (c *cli) domainVerify(ctx context.Context, args []string) error {
	fs := c.flags("domain verify")
	name := fs.String("domain", "", "the email domain")
	return c.inAccount(ctx, fs, args, []string{"domain"}, func(svc *directory.Service, a directory.Account) error {
		d, err := svc.VerifyDomain(ctx, a.ID, c.actor(), *name)
		if err != nil {
			return err
		}
		c.output(toDomainJSON(d), domainText(a, d))
		return nil
	})
}

func (c *cli) domainList(ctx context.Context, args []string) error {
	fs := c.flags("domain list")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		domains, err := svc.Domains(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]domainJSON, len(domains))
		t := newTable("DOMAIN", "STATUS", "DETAIL")
		for i, d := range domains {
			out[i] = toDomainJSON(d)
			detail := out[i].VerifiedBy
			if !d.Verified() {
				detail = fmt.Sprintf("publish %s TXT %q", d.ChallengeName(), d.ChallengeValue())
			}
			t.add(d.Name, out[i].Status, detail)
		}
		if t.len() == 0 {
			c.output(out, a.Slug+" has no domains; add one with: admit domain add --account "+a.Slug+" --domain D")
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}

func (c *cli) domainRemove(ctx context.Context, args []string) error {
	fs := c.flags("domain remove")
	name := fs.String("domain", "", "the email domain")
	return c.inAccount(ctx, fs, args, []string{"domain"}, func(svc *directory.Service, a directory.Account) error {
		if err := svc.RemoveDomain(ctx, a.ID, c.actor(), *name); err != nil {
			return err
		}
		c.output(map[string]string{"account": a.Slug, "domain": strings.ToLower(strings.TrimSpace(*name)), "status": "removed"},
			fmt.Sprintf("removed %s from %s", *name, a.Slug))
		return nil
	})
}
