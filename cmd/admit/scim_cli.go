package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

type scimTokenJSON struct {
	ID         string     `json:"id"`
	Account    string     `json:"account"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"` // only when just created
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toSCIMTokenJSON(slug string, t directory.SCIMToken) scimTokenJSON {
	return scimTokenJSON{ID: t.ID, Account: slug, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

func (c *cli) scimTokenCreate(ctx context.Context, args []string) error {
	fs := c.flags("scim-token create")
	name := fs.String("name", "SCIM token", "what the token is for, e.g. \"Okta production\"")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		token, t, err := svc.CreateSCIMToken(ctx, a.ID, c.actor(), *name)
		if err != nil {
			return err
		}
		out := toSCIMTokenJSON(a.Slug, t)
		out.Token = token
		base := strings.TrimSuffix(c.linkBase(), "/") + "/scim/v2"
		c.output(struct {
			scimTokenJSON
			BaseURL string `json:"base_url"`
		}{out, base}, fmt.Sprintf("SCIM base URL: %s\nBearer token (shown only now; store it in the identity provider): %s", base, token))
		return nil
	})
}

func (c *cli) scimTokenList(ctx context.Context, args []string) error {
	fs := c.flags("scim-token list")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		tokens, err := svc.SCIMTokens(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]scimTokenJSON, len(tokens))
		table := newTable("ID", "NAME", "STATE", "LAST USED")
		for i, t := range tokens {
			out[i] = toSCIMTokenJSON(a.Slug, t)
			state, used := "active", "never"
			if t.RevokedAt != nil {
				state = "revoked " + t.RevokedAt.Format("2006-01-02 15:04")
			}
			if t.LastUsedAt != nil {
				used = t.LastUsedAt.Format("2006-01-02 15:04")
			}
			table.add(t.ID, t.Name, state, used)
		}
		if table.len() == 0 {
			c.output(out, "no SCIM tokens in "+a.Slug+": admit scim-token create --account "+a.Slug+" makes one")
			return nil
		}
		c.output(out, table.String())
		return nil
	})
}

func (c *cli) scimTokenRevoke(ctx context.Context, args []string) error {
	fs := c.flags("scim-token revoke")
	id := fs.String("id", "", "the token's id (from scim-token list)")
	return c.inAccount(ctx, fs, args, []string{"id"}, func(svc *directory.Service, a directory.Account) error {
		t, err := svc.RevokeSCIMToken(ctx, a.ID, c.actor(), *id)
		if err != nil {
			return err
		}
		c.output(toSCIMTokenJSON(a.Slug, t), fmt.Sprintf("revoked SCIM token %s (%s); it no longer works", t.ID, t.Name))
		return nil
	})
}
