package directory

import "context"

// GroupSource says where a group comes from: pushed by SCIM, or named in
// the groups an SSO login sent (which admit keeps per member, not as a
// group of its own).
type GroupSource string

const (
	GroupFromSCIM GroupSource = "scim"
	GroupFromSSO  GroupSource = "sso"
)

// GroupSummary is one group of an account as an operator sees it: its
// members' count and the role a mapping gives them, if any.
type GroupSummary struct {
	Source      GroupSource
	ID          string // the SCIM group's id; empty for SSO groups
	DisplayName string // for SSO groups, the name as matched (lowercased)
	ExternalID  string
	Members     int
	Role        Role // empty when no mapping applies
}

// GroupSummaries lists the account's SCIM groups, then the groups its
// members' SSO logins sent, each with its members' count and mapped role.
func (s *Service) GroupSummaries(ctx context.Context, accountID string) ([]GroupSummary, error) {
	groups, err := s.store.FindGroupSummaries(ctx, accountID)
	if err != nil {
		return nil, err
	}
	mappings, err := s.store.FindRoleMappings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	// A group matches a mapping by display name or externalId, without
	// case, as applyRoleMappings matches them.
	for i, g := range groups {
		for _, m := range mappings { // highest priority first
			if k := groupKey(m.Group); k == groupKey(g.DisplayName) || (g.ExternalID != "" && k == groupKey(g.ExternalID)) {
				groups[i].Role = m.Role
				break
			}
		}
	}
	return groups, nil
}
