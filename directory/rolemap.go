package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RoleMapping gives the members of a group a role in the account. The
// group is named by its display name or its externalId (Entra ID sends a
// group's object id there, which survives renames), without case. A member
// of several mapped groups gets the role of the mapping with the highest
// priority.
//
// Once an account has mappings, its identity provider decides the roles of
// the people in mapped groups: joining a mapped group gives its role,
// leaving the last one sets the role back to member. Owners are never
// changed by a mapping, and no mapping gives the owner role: an identity
// provider's group should not be able to take over the account.
type RoleMapping struct {
	AccountID string
	Group     string // as the admin wrote it
	Role      Role
	Priority  int
	CreatedAt time.Time
}

// RoleScope selects the members whose mapped role is worked out again.
type RoleScope struct {
	UserIDs []string // these people
	GroupID string   // the members of this group
	Key     string   // the members of groups whose name or externalId is Key (lowercased)
	// Ignoring leaves this group out of the computation: it is about to be
	// emptied, deleted or renamed.
	Ignoring string
}

// defaultPriority ranks admin above the account's own roles, and those
// above member, when the admin gives no priority.
func defaultPriority(r Role) int {
	switch r {
	case RoleAdmin:
		return 200
	case RoleMember:
		return 0
	}
	return 100
}

func groupKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// MapGroupToRole adds or changes the mapping of a group and applies it to
// the group's current members at once. priority nil means the role's
// default. It returns how many members' roles changed.
func (s *Service) MapGroupToRole(ctx context.Context, accountID string, actor Actor, group string, role Role, priority *int) (RoleMapping, int64, error) {
	group = strings.TrimSpace(group)
	if group == "" || len(group) > 256 || hasControl(group) {
		return RoleMapping{}, 0, InvalidError("the group must be a display name or externalId of at most 256 characters")
	}
	if role == RoleOwner {
		return RoleMapping{}, 0, InvalidError("no group can give the owner role: make owners by hand")
	}
	roles, err := s.Roles(ctx, accountID)
	if err != nil {
		return RoleMapping{}, 0, err
	}
	if !slices.Contains(roles, role) {
		return RoleMapping{}, 0, InvalidError(fmt.Sprintf("role %q does not exist in this account (roles: %s)", role, joinRoles(roles)))
	}
	m := RoleMapping{AccountID: accountID, Group: group, Role: role, Priority: defaultPriority(role), CreatedAt: s.clock()}
	if priority != nil {
		m.Priority = *priority
	}
	var changed int64
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := tx.SaveRoleMapping(ctx, m, groupKey(group)); err != nil {
			return err
		}
		if changed, err = s.applyRoleMappings(ctx, tx, actor, accountID, RoleScope{Key: groupKey(group)}); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "role_mapping.saved", targetType: "role_mapping", targetID: groupKey(group),
			data: map[string]any{"group": group, "role": role, "priority": m.Priority, "roles_changed": changed},
		})
	})
	if err != nil {
		return RoleMapping{}, 0, fmt.Errorf("map group to role: %w", err)
	}
	return m, changed, nil
}

// UnmapGroup removes a group's mapping; its members get the role their
// other mapped groups give, or member.
func (s *Service) UnmapGroup(ctx context.Context, accountID string, actor Actor, group string) (int64, error) {
	var changed int64
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.DeleteRoleMapping(ctx, accountID, groupKey(group)); err != nil {
			return err
		}
		var err error
		if changed, err = s.applyRoleMappings(ctx, tx, actor, accountID, RoleScope{Key: groupKey(group)}); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "role_mapping.deleted", targetType: "role_mapping", targetID: groupKey(group),
			data: map[string]any{"group": group, "roles_changed": changed},
		})
	})
	if err != nil {
		return 0, fmt.Errorf("unmap group: %w", err)
	}
	return changed, nil
}

// RoleMappings lists the account's mappings, highest priority first.
func (s *Service) RoleMappings(ctx context.Context, accountID string) ([]RoleMapping, error) {
	return s.store.FindRoleMappings(ctx, accountID)
}

// mapRoles works out again the roles of the members in scope when g is a
// mapped group; it costs one indexed lookup when g is not.
func (s *Service) mapRoles(ctx context.Context, tx Store, actor Actor, g Group, scope RoleScope) (int64, error) {
	if len(scope.UserIDs) == 0 && scope.GroupID == "" {
		return 0, nil
	}
	mapped, err := tx.IsGroupMapped(ctx, g.AccountID, groupKey(g.DisplayName), groupKey(g.ExternalID))
	if err != nil || !mapped {
		return 0, err
	}
	return s.applyRoleMappings(ctx, tx, actor, g.AccountID, scope)
}

// applyRoleMappings sets the roles in scope and records each membership
// whose role changed: a role is a change to the directory like any other,
// which the audit trail and the platform (through the outbox) must see.
func (s *Service) applyRoleMappings(ctx context.Context, tx Store, actor Actor, accountID string, scope RoleScope) (int64, error) {
	changes, err := tx.ApplyRoleMappings(ctx, accountID, scope)
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		err := s.record(ctx, tx, change{
			accountID: accountID, actor: actor, action: "membership.role_changed", targetType: "membership", targetID: c.UserID,
			data:   map[string]any{"role": c.Role, "by": "group-to-role mapping"},
			events: []publication{roleChangedEvent(c.UserID, c.Role, "group-to-role mapping")},
		})
		if err != nil {
			return 0, err
		}
	}
	return int64(len(changes)), nil
}

// RoleChange is a membership whose role a mapping changed.
type RoleChange struct {
	UserID string
	Role   Role
}
