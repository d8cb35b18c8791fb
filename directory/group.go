package directory

import (
	"context"
	"fmt"
	"strings"
)

// GroupMember is a member of a group as SCIM names it: the SCIM id of the
// person's membership of the account.
type GroupMember struct {
	ID      string // SCIM id of the member
	UserID  string
	Display string
}

// SCIMGroup is a group with, when asked for, its members.
type SCIMGroup struct {
	Group   Group
	Version int
	Members []GroupMember // nil when not loaded
}

// GroupInput is a group as a SCIM client sends it.
type GroupInput struct {
	DisplayName string
	ExternalID  string
	Members     []string // SCIM ids of the account's users
}

// check checks a group as a client sent it. was is the group before a
// change (nil for a new group): a name kept as it was is not checked
// again, so that a rule made stricter since it was stored never refuses a
// change of members.
func (in *GroupInput) check(was *Group) error {
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	kept := was != nil && in.DisplayName == was.DisplayName
	switch {
	case in.DisplayName == "":
		return InvalidError("displayName is required")
	case !kept && (len([]rune(in.DisplayName)) > 256 || hasControl(in.DisplayName)):
		return InvalidError("displayName must be at most 256 characters, without control characters")
	case len([]rune(in.ExternalID)) > 256:
		return InvalidError("externalId must be at most 256 characters")
	}
	return nil
}

// CreateSCIMGroup creates a group with its members (Okta sends them in
// the POST body).
func (s *Service) CreateSCIMGroup(ctx context.Context, accountID string, token SCIMToken, in GroupInput) (SCIMGroup, error) {
	if err := in.check(nil); err != nil {
		return SCIMGroup{}, err
	}
	now := s.clock()
	g := Group{ID: newID(), AccountID: accountID, DisplayName: in.DisplayName, ExternalID: in.ExternalID, CreatedAt: now, UpdatedAt: now}
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.CreateGroup(ctx, g); err != nil {
			return nameTaken(err, g.DisplayName)
		}
		userIDs, err := tx.AddGroupMembers(ctx, accountID, g.ID, in.Members, now)
		if err != nil {
			return err
		}
		roles, err := s.mapRoles(ctx, tx, scimActor(token), g, RoleScope{UserIDs: userIDs})
		if err != nil {
			return err
		}
		events := []publication{groupEvent(EventGroupCreated, g)}
		for _, id := range userIDs {
			events = append(events, groupMemberEvent(EventGroupMemberAdded, g, id))
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: scimActor(token), action: "group.created", targetType: "group", targetID: g.ID,
			data:   map[string]any{"display_name": g.DisplayName, "members": len(userIDs), "roles_changed": roles},
			events: events,
		})
	})
	if err != nil {
		return SCIMGroup{}, fmt.Errorf("create group: %w", err)
	}
	return s.store.FindSCIMGroup(ctx, accountID, g.ID, true)
}

// nameTaken explains the uniqueness conflict of a group's name: a mapping
// to a role must name exactly one group.
func nameTaken(err error, name string) error {
	if KindOf(err) == Conflict {
		return ConflictError(fmt.Sprintf("a group named %q already exists in this account", name))
	}
	return err
}

// SCIMGroup returns a group; members are loaded only when asked for
// (Entra reads groups with excludedAttributes=members).
func (s *Service) SCIMGroup(ctx context.Context, accountID, id string, members bool) (SCIMGroup, error) {
	return s.store.FindSCIMGroup(ctx, accountID, id, members)
}

// GroupChange is a change to a group: a new name or external id, and
// steps on its members, applied in order. Adding or removing a member
// costs the same in a group of ten or of a hundred thousand: no member
// list is ever loaded to change it.
type GroupChange struct {
	DisplayName *string
	ExternalID  *string
	Steps       []MemberStep
}

// MemberStep is one change to a group's members.
type MemberStep struct {
	Op      MemberOp
	Members []string // SCIM ids; none for MembersRemoveAll
}

// MemberOp is what a MemberStep does.
type MemberOp int

const (
	MembersAdd MemberOp = iota
	MembersRemove
	MembersRemoveAll
	MembersReplace // remove all, then add Members
)

// ChangeSCIMGroup applies a change (PUT and PATCH), if the group's
// version meets cond (If-Match).
func (s *Service) ChangeSCIMGroup(ctx context.Context, accountID string, token SCIMToken, id string, c GroupChange, cond IfVersion) (SCIMGroup, error) {
	var out SCIMGroup
	err := s.store.Tx(ctx, func(tx Store) error {
		// Locked: a change computed from a group that another one changes
		// meanwhile would write back what that one replaced.
		cur, err := tx.LockSCIMGroup(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := cond.check(cur.Version, "group"); err != nil {
			return err
		}
		g := cur.Group
		in := GroupInput{DisplayName: g.DisplayName, ExternalID: g.ExternalID}
		if c.DisplayName != nil {
			in.DisplayName = *c.DisplayName
		}
		if c.ExternalID != nil {
			in.ExternalID = *c.ExternalID
		}
		if err := in.check(&g); err != nil {
			return err
		}
		now := s.clock()
		var added, removed int
		var cleared bool
		var members memberChanges
		var roles int64
		addRoles := func(n int64, err error) error { roles += n; return err }
		renamed := g.DisplayName != in.DisplayName || g.ExternalID != in.ExternalID
		if renamed {
			// Under its old name the group may have given its members a
			// role: take it back before the name changes.
			if err := addRoles(s.mapRoles(ctx, tx, scimActor(token), g, RoleScope{GroupID: g.ID, Ignoring: g.ID})); err != nil {
				return err
			}
		}
		g.DisplayName, g.ExternalID, g.UpdatedAt = in.DisplayName, in.ExternalID, now
		if err := tx.UpdateGroup(ctx, g); err != nil {
			return nameTaken(err, g.DisplayName)
		}
		if renamed {
			if err := addRoles(s.mapRoles(ctx, tx, scimActor(token), g, RoleScope{GroupID: g.ID})); err != nil {
				return err
			}
		}
		for _, step := range c.Steps {
			if step.Op == MembersRemoveAll || step.Op == MembersReplace {
				// Work out the members' roles without this group before
				// emptying it: afterwards nothing says who was in it.
				if err := addRoles(s.mapRoles(ctx, tx, scimActor(token), g, RoleScope{GroupID: g.ID, Ignoring: g.ID})); err != nil {
					return err
				}
				userIDs, err := tx.RemoveAllGroupMembers(ctx, g.ID)
				if err != nil {
					return err
				}
				members.removed(userIDs)
				cleared = true
			}
			var userIDs []string
			var err error
			switch step.Op {
			case MembersAdd, MembersReplace:
				userIDs, err = tx.AddGroupMembers(ctx, accountID, g.ID, step.Members, now)
				added += len(userIDs)
				members.added(userIDs)
			case MembersRemove:
				userIDs, err = tx.RemoveGroupMembers(ctx, accountID, g.ID, step.Members)
				removed += len(userIDs)
				members.removed(userIDs)
			}
			if err != nil {
				return err
			}
			if len(userIDs) > 0 {
				if err := addRoles(s.mapRoles(ctx, tx, scimActor(token), g, RoleScope{UserIDs: userIDs})); err != nil {
					return err
				}
			}
		}
		var events []publication
		if renamed {
			events = append(events, groupEvent(EventGroupUpdated, g))
		}
		// UpdateGroup added one to the version of the row locked above:
		// the group as changed is known without reading it again.
		out = SCIMGroup{Group: g, Version: cur.Version + 1}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: scimActor(token), action: "group.updated", targetType: "group", targetID: g.ID,
			data:   map[string]any{"display_name": g.DisplayName, "added": added, "removed": removed, "cleared": cleared, "roles_changed": roles},
			events: append(events, members.events(g)...),
		})
	})
	if err != nil {
		return SCIMGroup{}, fmt.Errorf("change group: %w", err)
	}
	return out, nil
}

// DeleteSCIMGroup deletes a group, if its version meets cond (If-Match);
// its members stay members of the account.
func (s *Service) DeleteSCIMGroup(ctx context.Context, accountID string, token SCIMToken, id string, cond IfVersion) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		find := func(ctx context.Context, accountID, id string) (SCIMGroup, error) {
			return tx.FindSCIMGroup(ctx, accountID, id, false)
		}
		if cond.set {
			// Locked: a change committed between the check and the
			// deletion would be deleted unseen.
			find = tx.LockSCIMGroup
		}
		g, err := find(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := cond.check(g.Version, "group"); err != nil {
			return err
		}
		roles, err := s.mapRoles(ctx, tx, scimActor(token), g.Group, RoleScope{GroupID: id, Ignoring: id})
		if err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, accountID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: scimActor(token), action: "group.deleted", targetType: "group", targetID: id,
			data:   map[string]any{"display_name": g.Group.DisplayName, "roles_changed": roles},
			events: []publication{groupEvent(EventGroupDeleted, g.Group)},
		})
	})
	if err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	return nil
}

// memberChanges nets the member steps of one group change: a member
// removed and added again (a replace that keeps them) was never out of the
// group, and the platform hears nothing about them.
type memberChanges struct {
	order []string
	net   map[string]int // +1 added, -1 removed, 0 back where it was
}

func (c *memberChanges) step(userIDs []string, d int) {
	if c.net == nil {
		c.net = map[string]int{}
	}
	for _, id := range userIDs {
		if _, seen := c.net[id]; !seen {
			c.order = append(c.order, id)
		}
		c.net[id] += d
	}
}

func (c *memberChanges) added(userIDs []string)   { c.step(userIDs, +1) }
func (c *memberChanges) removed(userIDs []string) { c.step(userIDs, -1) }

func (c *memberChanges) events(g Group) []publication {
	var out []publication
	for _, id := range c.order {
		switch c.net[id] {
		case +1:
			out = append(out, groupMemberEvent(EventGroupMemberAdded, g, id))
		case -1:
			out = append(out, groupMemberEvent(EventGroupMemberRemoved, g, id))
		}
	}
	return out
}

// GroupPage is one page of a group listing.
type GroupPage struct {
	Total  int
	Groups []SCIMGroup
}

// DefaultMaxListedMembers bounds the members one page of a group listing
// loads and sends (Config.MaxListedMembers).
// SCIM pages groups but not their members (RFC 7644 has no
// paging of an attribute's values), so a page of 500 groups of 100,000
// members each would be 50 million rows in one response. Servers that
// identity providers talk to bound it too: Oracle's refuses a group read
// of more than 10,000 members, Keycloak returns members only when asked,
// and Entra ID itself reads groups with excludedAttributes=members.
const DefaultMaxListedMembers = 10_000

// ListSCIMGroups lists the account's groups matching f (on id,
// displayName, externalId), members included when asked for. With members
// a page ends before the group that would take it past the bound:
// it then holds fewer groups than count, which RFC 7644 §3.4.2.4 allows
// (itemsPerPage says how many; the next page starts after them). The
// first group of a page is always whole, whatever its size, as GET of
// that one group would be: no group's member list is ever cut.
func (s *Service) ListSCIMGroups(ctx context.Context, accountID string, f *Filter, startIndex, count int, members bool) (GroupPage, error) {
	// With members, a page may stop short of count at the bound on the
	// members it carries.
	total, groups, err := listPage(ctx, s, accountID, "Group", f, startIndex, count, !members,
		func() (int, error) { return s.store.CountSCIMGroups(ctx, accountID, f) },
		func(pos Position, limit int) ([]SCIMGroup, error) {
			groups, err := s.store.FindSCIMGroups(ctx, accountID, f, pos, limit)
			if err != nil || !members {
				return groups, err
			}
			return s.withMembers(ctx, accountID, groups)
		},
		func(g SCIMGroup) string { return g.Group.ID })
	return GroupPage{Total: total, Groups: groups}, err
}

// withMembers loads the members of groups, in order, while they fit in
// the bound, and returns the groups that fit. A group that does
// not fit costs at most the rows that were left, plus one.
func (s *Service) withMembers(ctx context.Context, accountID string, groups []SCIMGroup) ([]SCIMGroup, error) {
	left := s.maxListedMembers
	for i := range groups {
		limit := 0 // the first group whole
		if i > 0 {
			if left <= 0 {
				return groups[:i], nil
			}
			limit = left + 1
		}
		members, err := s.store.FindGroupMembers(ctx, accountID, groups[i].Group.ID, limit)
		if err != nil {
			return nil, err
		}
		if i > 0 && len(members) > left {
			return groups[:i], nil
		}
		groups[i].Members = members
		left -= len(members)
	}
	return groups, nil
}
