package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

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
		var text strings.Builder
		tw := tabwriter.NewWriter(&text, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tFROM\tMEMBERS\tROLE")
		for i, g := range groups {
			out[i] = groupJSON{string(g.Source), g.ID, g.DisplayName, g.ExternalID, g.Members, string(g.Role)}
			role := string(g.Role)
			if role == "" {
				role = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", oneLine(g.DisplayName), g.Source, g.Members, role)
		}
		tw.Flush()
		if len(groups) == 0 {
			c.output(out, "no groups in "+a.Slug+": none pushed by SCIM, none sent at an SSO login")
			return nil
		}
		c.output(out, strings.TrimSuffix(text.String(), "\n"))
		return nil
	})
}
