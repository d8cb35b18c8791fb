package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/admit-dev/admit/directory"
)

type roleMappingJSON struct {
	Account  string `json:"account"`
	Group    string `json:"group"`
	Role     string `json:"role"`
	Priority int    `json:"priority"`
}

func (c *cli) roleMap(ctx context.Context, args []string) error {
	fs := c.flags("role map")
	group := fs.String("group", "", "the group's display name or externalId, as the identity provider sends it")
	role := fs.String("role", "", "the role its members get")
	priority := fs.Int("priority", 0, "which mapping wins for a member of several groups: the highest (default: admin 200, own roles 100, member 0)")
	return c.inAccount(ctx, fs, args, []string{"group", "role"}, func(svc *directory.Service, a directory.Account) error {
		var p *int
		if flagSet(fs, "priority") {
			p = priority
		}
		m, changed, err := svc.MapGroupToRole(ctx, a.ID, c.actor(), *group, directory.Role(*role), p)
		if err != nil {
			return err
		}
		c.output(map[string]any{"mapping": toRoleMappingJSON(a.Slug, m), "roles_changed": changed},
			fmt.Sprintf("members of %q get role %s in %s (priority %d); %d member(s) changed role now", m.Group, m.Role, a.Slug, m.Priority, changed))
		return nil
	})
}

func (c *cli) roleUnmap(ctx context.Context, args []string) error {
	fs := c.flags("role unmap")
	group := fs.String("group", "", "the group of the mapping")
	return c.inAccount(ctx, fs, args, []string{"group"}, func(svc *directory.Service, a directory.Account) error {
		changed, err := svc.UnmapGroup(ctx, a.ID, c.actor(), *group)
		if err != nil {
			return err
		}
		c.output(map[string]any{"account": a.Slug, "group": *group, "roles_changed": changed},
			fmt.Sprintf("removed the mapping of %q in %s; %d member(s) changed role", *group, a.Slug, changed))
		return nil
	})
}

func (c *cli) roleMappings(ctx context.Context, args []string) error {
	fs := c.flags("role mappings")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		mappings, err := svc.RoleMappings(ctx, a.ID)
		if err != nil {
			return err
		}
		out := make([]roleMappingJSON, len(mappings))
		t := newTable("GROUP", "ROLE", "PRIORITY")
		for i, m := range mappings {
			out[i] = toRoleMappingJSON(a.Slug, m)
			t.add(fmt.Sprintf("%q", m.Group), string(m.Role), fmt.Sprint(m.Priority))
		}
		if t.len() == 0 {
			c.output(out, "no group-to-role mappings in "+a.Slug)
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}

func toRoleMappingJSON(slug string, m directory.RoleMapping) roleMappingJSON {
	return roleMappingJSON{Account: slug, Group: m.Group, Role: string(m.Role), Priority: m.Priority}
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
