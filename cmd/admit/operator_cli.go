package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

type operatorJSON struct {
	UserID  string `json:"user_id"`
	Email   string `json:"email"`
	AddedAt string `json:"added_at"`
	AddedBy string `json:"added_by"`
}

func toOperatorJSON(o directory.Operator) operatorJSON {
	return operatorJSON{o.UserID, o.Email, o.AddedAt.Format(time.RFC3339), o.AddedBy}
}

func (c *cli) operatorAdd(ctx context.Context, args []string) error {
	fs := c.flags("operator add")
	email := fs.String("email", "", "the person's email: a user already (they sign in through an account they belong to)")
	return c.inService(ctx, fs, args, []string{"email"}, func(svc *directory.Service) error {
		o, err := svc.AddOperator(ctx, c.actor(), *email)
		if err != nil {
			return err
		}
		c.output(toOperatorJSON(o), fmt.Sprintf("%s is an operator: they may create accounts and enter any account's console at /admin", o.Email))
		return nil
	})
}

func (c *cli) operatorRemove(ctx context.Context, args []string) error {
	fs := c.flags("operator remove")
	email := fs.String("email", "", "the operator's email")
	return c.inService(ctx, fs, args, []string{"email"}, func(svc *directory.Service) error {
		if err := svc.RemoveOperator(ctx, c.actor(), *email); err != nil {
			return err
		}
		c.output(map[string]string{"email": strings.TrimSpace(*email), "status": "removed"}, fmt.Sprintf("%s is no longer an operator", strings.TrimSpace(*email)))
		return nil
	})
}

func (c *cli) operatorList(ctx context.Context, args []string) error {
	fs := c.flags("operator list")
	return c.inService(ctx, fs, args, nil, func(svc *directory.Service) error {
		ops, err := svc.Operators(ctx)
		if err != nil {
			return err
		}
		out := make([]operatorJSON, len(ops))
		t := newTable("EMAIL", "ADDED", "BY")
		for i, o := range ops {
			out[i] = toOperatorJSON(o)
			t.add(o.Email, out[i].AddedAt, o.AddedBy)
		}
		if t.len() == 0 {
			c.output(out, "no operators")
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}
