package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

type apiKeyJSON struct {
	ID         string     `json:"id"`
	Account    string     `json:"account,omitempty"` // empty for an operator key
	Operator   bool       `json:"operator"`
	Name       string     `json:"name"`
	Key        string     `json:"key,omitempty"` // only when just created
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toAPIKeyJSON(slug string, k directory.APIKey) apiKeyJSON {
	return apiKeyJSON{ID: k.ID, Account: slug, Operator: k.Operator(), Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

// inKeyScope runs fn with an account (--account S) or, with --operator,
// with none: the operator keys. Exactly one of the two must be given.
func (c *cli) inKeyScope(ctx context.Context, fs *flag.FlagSet, args []string, required []string, fn func(svc *directory.Service, a directory.Account) error) error {
	slug := fs.String("account", "", "the account the key acts on")
	operator := fs.Bool("operator", false, "an operator key: creates accounts and acts on any account")
	if err := c.parse(fs, args, required...); err != nil {
		return err
	}
	if (*slug == "") == !*operator {
		return usageError{msg: fmt.Sprintf("%s: give --account S or --operator (one of the two)", strings.TrimPrefix(fs.Name(), "admit "))}
	}
	svc, a, done, err := c.webhookService(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	return fn(svc, a)
}

func (c *cli) apiKeyCreate(ctx context.Context, args []string) error {
	fs := c.flags("api-key create")
	name := fs.String("name", "", "what uses the key, e.g. \"billing sync\"")
	return c.inKeyScope(ctx, fs, args, []string{"name"}, func(svc *directory.Service, a directory.Account) error {
		key, k, err := svc.CreateAPIKey(ctx, a.ID, c.actor(), *name)
		if err != nil {
			return err
		}
		out := toAPIKeyJSON(a.Slug, k)
		out.Key = key
		base := strings.TrimSuffix(c.linkBase(), "/") + "/api/v1"
		c.output(struct {
			apiKeyJSON
			BaseURL string `json:"base_url"`
		}{out, base}, fmt.Sprintf("API base URL: %s\nAPI key (shown only now; send it as Authorization: Bearer KEY): %s", base, key))
		return nil
	})
}

func (c *cli) apiKeyList(ctx context.Context, args []string) error {
	fs := c.flags("api-key list")
	return c.inKeyScope(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		keys, err := svc.APIKeys(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]apiKeyJSON, len(keys))
		t := newTable("ID", "NAME", "STATE", "LAST USED")
		for i, k := range keys {
			out[i] = toAPIKeyJSON(a.Slug, k)
			state, used := "active", "never"
			if k.RevokedAt != nil {
				state = "revoked " + k.RevokedAt.Format("2006-01-02 15:04")
			}
			if k.LastUsedAt != nil {
				used = k.LastUsedAt.Format("2006-01-02 15:04")
			}
			t.add(k.ID, k.Name, state, used)
		}
		if t.len() == 0 {
			c.output(out, "no API keys")
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}

func (c *cli) apiKeyRevoke(ctx context.Context, args []string) error {
	fs := c.flags("api-key revoke")
	id := fs.String("id", "", "the key's id (from api-key list)")
	return c.inKeyScope(ctx, fs, args, []string{"id"}, func(svc *directory.Service, a directory.Account) error {
		k, err := svc.RevokeAPIKey(ctx, a.ID, c.actor(), *id)
		if err != nil {
			return err
		}
		c.output(toAPIKeyJSON(a.Slug, k), fmt.Sprintf("revoked API key %s (%s); it no longer works", k.ID, oneLine(k.Name)))
		return nil
	})
}
