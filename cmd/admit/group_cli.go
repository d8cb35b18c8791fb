package main

import (
	"context"
	"fmt"

	"github.com/admit-dev/admit/directory"
)

type groupJSON struct {
	Source      string `json:"source"`
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"display_name"`
	ExternalID  string `json:"external_id,omitempty"`
	Members     int    `json:"members"`
	Role        string `json:"role,omitempty"`
}

// groupList prints the groups an operator maps roles from: those SCIM
// pushed and those SSO logins sent.
func (c *cli) groupList(ctx context.Context, args []string) error {
	fs := c.flags("group list")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		groups, err := svc.GroupSummaries(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]groupJSON, len(groups))
		t := newTable("GROUP", "FROM", "MEMBERS", "ROLE")
		for i, g := range groups {
			out[i] = groupJSON{string(g.Source), g.ID, g.DisplayName, g.ExternalID, g.Members, string(g.Role)}
			t.add(g.DisplayName, string(g.Source), fmt.Sprint(g.Members), string(g.Role))
		}
		if t.len() == 0 {
			c.output(out, "no groups in "+a.Slug+": none pushed by SCIM, none sent at an SSO login")
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}
