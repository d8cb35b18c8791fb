package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// scimUsers creates n SCIM users in the account and returns their SCIM ids.
func scimUsers(t *testing.T, svc *directory.Service, accountID string, tok directory.SCIMToken, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		email := fmt.Sprintf("%s%d@acme.example", prefix, i)
		u, err := svc.CreateSCIMUser(context.Background(), accountID, tok, scimInput(email, email, "", "P", fmt.Sprint(i), true))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.Membership.ID
	}
	return ids
}

// scimRole is the role of the account's member with that SCIM id.
func scimRole(t *testing.T, svc *directory.Service, accountID, id string) directory.Role {
	t.Helper()
	u, err := svc.SCIMUser(context.Background(), accountID, id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Membership.Role
}

func memberIDs(g directory.SCIMGroup) []string {
	var ids []string
	for _, m := range g.Members {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestSCIMGroupMembers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a, b := mustAccount(t, svc, "alpha"), mustAccount(t, svc, "beta")
		_, tokA, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		_, tokB, _ := svc.CreateSCIMToken(ctx, b.ID, operator, "idp")
		ids := scimUsers(t, svc, a.ID, tokA, "u", 4)
		foreign := scimUsers(t, svc, b.ID, tokB, "f", 1)

		g, err := svc.CreateSCIMGroup(ctx, a.ID, tokA, directory.GroupInput{DisplayName: "Engineering", ExternalID: "g-1", Members: ids[:2]})
		if err != nil {
			t.Fatal(err)
		}
		if got := memberIDs(g); !slices.Equal(got, sorted(ids[:2]...)) || g.Version != 1 {
			t.Fatalf("created with members %v (version %d); want %v", got, g.Version, sorted(ids[:2]...))
		}
		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tokA, directory.GroupInput{DisplayName: "ENGINEERING"}); directory.KindOf(err) != directory.Conflict {
			t.Errorf("a second group of the same name in other case: %v; want Conflict", err)
		}
		if _, err := svc.CreateSCIMGroup(ctx, b.ID, tokB, directory.GroupInput{DisplayName: "Engineering"}); err != nil {
			t.Errorf("another account may have a group of the same name: %v", err)
		}
		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tokA, directory.GroupInput{DisplayName: "Stolen", Members: foreign}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("a member from another account: %v; want Invalid", err)
		}
		if _, err := svc.SCIMGroup(ctx, a.ID, "missing", false); directory.KindOf(err) != directory.NotFound {
			t.Errorf("no such group: %v", err)
		}
		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tokA, directory.GroupInput{DisplayName: "  "}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("blank name: %v; want Invalid", err)
		}

		gid := g.Group.ID
		steps := func(st ...directory.MemberStep) directory.GroupChange { return directory.GroupChange{Steps: st} }
		tests := []struct {
			name   string
			change directory.GroupChange
			want   []string
		}{
			{"add one, twice is no error", steps(directory.MemberStep{Op: directory.MembersAdd, Members: []string{ids[2], ids[2]}}), sorted(ids[:3]...)},
			{"remove one and an absent one", steps(directory.MemberStep{Op: directory.MembersRemove, Members: []string{ids[0], ids[3], "nobody"}}), sorted(ids[1], ids[2])},
			{"replace", steps(directory.MemberStep{Op: directory.MembersReplace, Members: []string{ids[3], ids[0]}}), sorted(ids[0], ids[3])},
			{"steps in order", steps(
				directory.MemberStep{Op: directory.MembersRemoveAll},
				directory.MemberStep{Op: directory.MembersAdd, Members: []string{ids[1]}},
				directory.MemberStep{Op: directory.MembersRemove, Members: []string{ids[1]}},
				directory.MemberStep{Op: directory.MembersAdd, Members: []string{ids[2]}},
			), []string{ids[2]}},
		}
		for _, tt := range tests {
			if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tokA, gid, tt.change, directory.IfVersion{}); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			got, _ := svc.SCIMGroup(ctx, a.ID, gid, true)
			if !slices.Equal(memberIDs(got), tt.want) {
				t.Errorf("%s: members %v; want %v", tt.name, memberIDs(got), tt.want)
			}
		}

		// A failing step leaves nothing half-done: the name stays too.
		name := "Renamed"
		_, err = svc.ChangeSCIMGroup(ctx, a.ID, tokA, gid, directory.GroupChange{DisplayName: &name, Steps: []directory.MemberStep{
			{Op: directory.MembersAdd, Members: []string{ids[0]}}, {Op: directory.MembersAdd, Members: foreign},
		}}, directory.IfVersion{})
		if directory.KindOf(err) != directory.Invalid {
			t.Fatalf("adding a stranger: %v; want Invalid", err)
		}
		got, _ := svc.SCIMGroup(ctx, a.ID, gid, true)
		if got.Group.DisplayName != "Engineering" || !slices.Equal(memberIDs(got), []string{ids[2]}) {
			t.Errorf("after a failed change: %q with %v; want it unchanged", got.Group.DisplayName, memberIDs(got))
		}
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tokA, gid, directory.GroupChange{DisplayName: &name}, directory.VersionIn(1)); directory.KindOf(err) != directory.PreconditionFailed {
			t.Errorf("stale version: %v; want PreconditionFailed", err)
		}
		// Beta's token reaches none of it.
		if _, err := svc.ChangeSCIMGroup(ctx, b.ID, tokB, gid, directory.GroupChange{DisplayName: &name}, directory.IfVersion{}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("beta changes alpha's group: %v", err)
		}
		if err := svc.DeleteSCIMGroup(ctx, b.ID, tokB, gid, directory.IfVersion{}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("beta deletes alpha's group: %v", err)
		}

		// Deleting a user takes them out of the group; deleting the group
		// leaves its members in the account.
		if err := svc.DeleteSCIMUser(ctx, a.ID, tokA, ids[2], directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := svc.SCIMGroup(ctx, a.ID, gid, true); len(got.Members) != 0 {
			t.Errorf("a deleted user is still a member: %v", memberIDs(got))
		}
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tokA, gid, steps(directory.MemberStep{Op: directory.MembersAdd, Members: []string{ids[1]}}), directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteSCIMGroup(ctx, a.ID, tokA, gid, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SCIMUser(ctx, a.ID, ids[1]); err != nil {
			t.Errorf("the group's member went with the group: %v", err)
		}
		events, _ := s.FindAuditEvents(ctx, a.ID, 100)
		var actions []string
		for _, e := range events {
			if e.Actor.Source == directory.SourceSCIM {
				actions = append(actions, e.Action)
			}
		}
		for _, want := range []string{"group.created", "group.updated", "group.deleted"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %s audit event from SCIM in %v", want, actions)
			}
		}
	})
}

func TestSCIMGroupFiltersAndPaging(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		ids := scimUsers(t, svc, a.ID, tok, "u", 2)
		for i, name := range []string{"Sales", "Sales Ops", "Engineering", "Support"} {
			members := []string(nil)
			if i%2 == 0 {
				members = ids[:1]
			}
			if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: name, ExternalID: fmt.Sprintf("oid-%d", i), Members: members}); err != nil {
				t.Fatal(err)
			}
		}
		f := func(field directory.FilterField, op directory.FilterOp, v any) *directory.Filter {
			return &directory.Filter{Op: op, Field: field, Value: v}
		}
		tests := []struct {
			name   string
			filter *directory.Filter
			want   []string
		}{
			{"displayName eq without case", f(directory.FieldDisplayName, directory.OpEq, "sales"), []string{"Sales"}},
			{"displayName sw", f(directory.FieldDisplayName, directory.OpSw, "SALES"), []string{"Sales", "Sales Ops"}},
			{"externalId eq", f(directory.FieldExternalID, directory.OpEq, "oid-2"), []string{"Engineering"}},
			{"externalId is case-exact", f(directory.FieldExternalID, directory.OpEq, "OID-2"), nil},
			{"has member", f(directory.FieldMember, directory.OpEq, ids[0]), []string{"Engineering", "Sales"}},
			{"has not member", f(directory.FieldMember, directory.OpNe, ids[0]), []string{"Sales Ops", "Support"}},
		}
		for _, tt := range tests {
			page, err := svc.ListSCIMGroups(ctx, a.ID, tt.filter, 1, 10, false)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var got []string
			for _, g := range page.Groups {
				got = append(got, g.Group.DisplayName)
				if g.Members != nil {
					t.Errorf("%s: members loaded when not asked for", tt.name)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || page.Total != len(tt.want) {
				t.Errorf("%s: %v (total %d); want %v", tt.name, got, page.Total, tt.want)
			}
		}
		if _, err := svc.ListSCIMGroups(ctx, a.ID, f(directory.FieldMember, directory.OpCo, "x"), 1, 10, false); directory.KindOf(err) != directory.Invalid {
			t.Errorf("members.value co: %v; want Invalid", err)
		}
		if _, err := svc.ListSCIMUsers(ctx, a.ID, f(directory.FieldMember, directory.OpEq, "x"), 1, 10); directory.KindOf(err) != directory.Invalid {
			t.Errorf("members.value on users: %v; want Invalid", err)
		}
		// Pages of two, members included, cover every group once.
		var seen []string
		for start := 1; start <= 4; start += 2 {
			page, err := svc.ListSCIMGroups(ctx, a.ID, nil, start, 2, true)
			if err != nil || page.Total != 4 {
				t.Fatalf("page at %d: total %d, %v", start, page.Total, err)
			}
			for _, g := range page.Groups {
				seen = append(seen, g.Group.DisplayName)
				if g.Members == nil {
					t.Errorf("%s: members not loaded", g.Group.DisplayName)
				}
			}
		}
		slices.Sort(seen)
		if !slices.Equal(seen, []string{"Engineering", "Sales", "Sales Ops", "Support"}) {
			t.Errorf("pages gave %v", seen)
		}
	})
}

// SCIM clients page with startIndex while users come and go; a page must
// continue where the last one ended, not skip the users that moved up.
func TestSCIMPagingWhileDeleting(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		scimUsers(t, svc, a.ID, tok, "u", 25)

		first, err := svc.ListSCIMUsers(ctx, a.ID, nil, 1, 10)
		if err != nil || len(first.Users) != 10 || first.Total != 25 {
			t.Fatalf("first page: %d of %d, %v", len(first.Users), first.Total, err)
		}
		seen := map[string]bool{}
		for _, u := range first.Users {
			seen[u.Membership.ID] = true
		}
		// Five users of the first page leave before the client asks for
		// the second. With OFFSET, the five users that move up into
		// places 6-10 would never be listed.
		for _, u := range first.Users[:5] {
			if err := svc.DeleteSCIMUser(ctx, a.ID, tok, u.Membership.ID, directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
		}
		for start := 11; ; start += 10 {
			page, err := svc.ListSCIMUsers(ctx, a.ID, nil, start, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page.Users {
				if seen[u.Membership.ID] {
					t.Errorf("%s listed twice", u.Profile.UserName)
				}
				seen[u.Membership.ID] = true
			}
			if len(page.Users) < 10 {
				break
			}
		}
		if len(seen) != 25 {
			t.Errorf("the client saw %d distinct users; want all 25 (20 remaining and 5 deleted after it saw them)", len(seen))
		}
		// A remembered position lasts an hour; then startIndex is an offset
		// again, and the sweeper deletes it.
		continued, _ := svc.ListSCIMUsers(ctx, a.ID, nil, 11, 10)
		clk.Add(2 * time.Hour)
		offset, _ := svc.ListSCIMUsers(ctx, a.ID, nil, 11, 10)
		if len(continued.Users) == 0 || len(offset.Users) == 0 || continued.Users[0].Membership.ID == offset.Users[0].Membership.ID {
			t.Error("an expired position was still used")
		}
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := s.DB().Get(&left, s.DB().Rebind(`SELECT COUNT(*) FROM scim_cursors WHERE expires_at <= ?`), clk.Now()); err != nil || left != 0 {
			t.Errorf("%d expired positions left after a sweep (%v)", left, err)
		}
		// The same startIndex with another filter is another listing: it
		// does not reuse this one's position.
		active := &directory.Filter{Op: directory.OpEq, Field: directory.FieldActive, Value: true}
		page, err := svc.ListSCIMUsers(ctx, a.ID, active, 11, 10)
		if err != nil || len(page.Users) != 10 || page.Total != 20 {
			t.Errorf("another listing at 11: %d of %d, %v; want 10 of 20 by offset", len(page.Users), page.Total, err)
		}
	})
}

func TestRoleMappings(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		if err := svc.CreateRole(ctx, a.ID, operator, "billing"); err != nil {
			t.Fatal(err)
		}
		ids := scimUsers(t, svc, a.ID, tok, "u", 3)
		role := func(id string) directory.Role { return scimRole(t, svc, a.ID, id) }
		admins, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Platform Admins", ExternalID: "6f1c-oid", Members: ids[:1]})
		if err != nil {
			t.Fatal(err)
		}
		billing, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Finance"})
		if err != nil {
			t.Fatal(err)
		}
		if role(ids[0]) != directory.RoleMember {
			t.Fatal("a role without any mapping")
		}
		// Mapping an existing group applies at once, by name or externalId.
		if _, n, err := svc.MapGroupToRole(ctx, a.ID, operator, "platform admins", directory.RoleAdmin, nil); err != nil || n != 1 {
			t.Fatalf("map: %d changed, %v", n, err)
		}
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "finance", "billing", nil); err != nil {
			t.Fatal(err)
		}
		if role(ids[0]) != directory.RoleAdmin {
			t.Errorf("member of the mapped group: %s; want admin", role(ids[0]))
		}
		// Each role a mapping changes is in the audit trail (and the
		// outbox), naming the member and the new role.
		first, _ := svc.SCIMUser(ctx, a.ID, ids[0])
		events, _ := s.FindAuditEvents(ctx, a.ID, 100)
		found := false
		for _, e := range events {
			var data struct{ Role string }
			_ = json.Unmarshal(e.Data, &data)
			found = found || e.Action == "membership.role_changed" && e.TargetID == first.Membership.UserID && data.Role == "admin"
		}
		if !found {
			t.Error("no membership.role_changed audit event for the member the mapping made admin")
		}
		add := func(g directory.SCIMGroup, id string) {
			t.Helper()
			if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, g.Group.ID, directory.GroupChange{Steps: []directory.MemberStep{{Op: directory.MembersAdd, Members: []string{id}}}}, directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
		}
		remove := func(g directory.SCIMGroup, id string) {
			t.Helper()
			if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, g.Group.ID, directory.GroupChange{Steps: []directory.MemberStep{{Op: directory.MembersRemove, Members: []string{id}}}}, directory.IfVersion{}); err != nil {
				t.Fatal(err)
			}
		}
		add(billing, ids[1])
		add(billing, ids[0])
		if role(ids[1]) != "billing" || role(ids[0]) != directory.RoleAdmin {
			t.Errorf("roles %s, %s; want billing, and admin over billing by priority", role(ids[1]), role(ids[0]))
		}
		remove(admins, ids[0])
		if role(ids[0]) != "billing" {
			t.Errorf("left the admins group, still in finance: %s; want billing", role(ids[0]))
		}
		remove(billing, ids[0])
		if role(ids[0]) != directory.RoleMember {
			t.Errorf("left every mapped group: %s; want member", role(ids[0]))
		}
		// Priorities set by the admin win over the defaults. The admins
		// group is now mapped by its externalId only.
		if _, err := svc.UnmapGroup(ctx, a.ID, operator, "Platform Admins"); err != nil {
			t.Fatal(err)
		}
		low := -1
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "6F1C-OID", directory.RoleAdmin, &low); err != nil {
			t.Fatal(err)
		}
		add(admins, ids[1])
		if role(ids[1]) != "billing" {
			t.Errorf("admin mapped at priority -1 beside billing at 100: %s; want billing", role(ids[1]))
		}
		// Renaming a group away from its mapped name takes the role back.
		name, ext := "Former Finance", ""
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, billing.Group.ID, directory.GroupChange{DisplayName: &name, ExternalID: &ext}, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if role(ids[1]) != directory.RoleAdmin {
			t.Errorf("finance renamed away: %s; want admin from the other group", role(ids[1]))
		}
		// Emptying and deleting groups take their roles back too.
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, admins.Group.ID, directory.GroupChange{Steps: []directory.MemberStep{{Op: directory.MembersRemoveAll}}}, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if role(ids[1]) != directory.RoleMember {
			t.Errorf("admins emptied: %s; want member", role(ids[1]))
		}
		add(admins, ids[2])
		if err := svc.DeleteSCIMGroup(ctx, a.ID, tok, admins.Group.ID, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if role(ids[2]) != directory.RoleMember {
			t.Errorf("admins deleted: %s; want member", role(ids[2]))
		}
		// No group makes an owner, and no mapping takes an owner's role.
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "Owners", directory.RoleOwner, nil); directory.KindOf(err) != directory.Invalid {
			t.Errorf("mapping to owner: %v; want Invalid", err)
		}
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "x", "nonexistent", nil); directory.KindOf(err) != directory.Invalid {
			t.Errorf("mapping to an unknown role: %v; want Invalid", err)
		}
		if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(`UPDATE memberships SET role = 'owner' WHERE scim_id = ?`), ids[2]); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Finance", Members: ids[2:]}); err != nil {
			t.Fatal(err)
		}
		if role(ids[2]) != directory.RoleOwner {
			t.Errorf("an owner joined a mapped group: %s; want owner", role(ids[2]))
		}
		mappings, err := svc.RoleMappings(ctx, a.ID)
		if err != nil || len(mappings) != 2 || mappings[0].Role != "billing" {
			t.Errorf("mappings %+v, %v; want billing first (priority 100), then admin (-1)", mappings, err)
		}
		if _, err := svc.UnmapGroup(ctx, a.ID, operator, "FINANCE"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.UnmapGroup(ctx, a.ID, operator, "finance"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("unmapping twice: %v; want NotFound", err)
		}
	})
}

// A person the identity provider deleted through SCIM stays deleted for
// just-in-time provisioning until SCIM or an admin adds them again.
func TestDeletedBySCIM(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a, b := mustAccount(t, svc, "alpha"), mustAccount(t, svc, "beta")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		deleted := func(accountID string) bool {
			t.Helper()
			d, err := svc.DeletedBySCIM(ctx, accountID, "ADA@acme.example")
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if deleted(a.ID) {
			t.Fatal("an unknown person counts as deleted")
		}
		u, err := svc.CreateSCIMUser(ctx, a.ID, tok, scimInput("ada@acme.example", "ada@acme.example", "", "Ada", "L", true))
		if err != nil {
			t.Fatal(err)
		}
		addWithPassword(t, svc, b.ID, "ada@acme.example", "a long enough password")
		if err := svc.DeleteSCIMUser(ctx, a.ID, tok, u.Membership.ID, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if !deleted(a.ID) || deleted(b.ID) {
			t.Errorf("after SCIM DELETE in alpha: deleted in alpha %v, in beta %v; want true, false", deleted(a.ID), deleted(b.ID))
		}
		if _, err := svc.CreateSCIMUser(ctx, a.ID, tok, scimInput("ada@acme.example", "ada@acme.example", "", "Ada", "L", true)); err != nil {
			t.Fatal(err)
		}
		if deleted(a.ID) {
			t.Error("pushed again by SCIM, still counted as deleted")
		}
	})
}

// TestGroupListingBoundsMembers: a page of groups with their members
// carries at most the bound's members (small here: the rule is the same), ending early before a group
// that would pass it; the first group of a page is always whole, and no
// group's member list is ever cut. Without members, the page is count.
func TestGroupListingBoundsMembers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const bound = 40
		svc := directory.NewService(directory.Config{Store: s, Hasher: fastHasher(), MaxListedMembers: bound})
		a := mustAccount(t, svc, "alpha")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		storetest.SeedMembers(t, s, a.ID, "m", bound+20)
		// groups creates n groups with the externalId and returns them in
		// listing order, sized as given.
		groups := func(externalID string, sizes ...int) *directory.Filter {
			f := &directory.Filter{Op: directory.OpEq, Field: directory.FieldExternalID, Value: externalID}
			for i := range sizes {
				if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: fmt.Sprintf("%s %d", externalID, i), ExternalID: externalID}); err != nil {
					t.Fatal(err)
				}
			}
			page, err := svc.ListSCIMGroups(ctx, a.ID, f, 1, 100, false)
			if err != nil || len(page.Groups) != len(sizes) {
				t.Fatalf("list %s: %v, %v", externalID, page, err)
			}
			for i, g := range page.Groups {
				storetest.SeedGroupMembers(t, s, a.ID, g.Group.ID, sizes[i])
			}
			return f
		}
		sizesOf := func(p directory.GroupPage) []int {
			var out []int
			for _, g := range p.Groups {
				out = append(out, len(g.Members))
			}
			return out
		}
		half := bound/2 + 5
		for i, tc := range []struct {
			name       string
			sizes      []int
			startIndex int
			members    bool
			want       []int
		}{
			{"a page ends before the group that passes the bound", []int{half, half, 3, 0}, 1, true, []int{half}},
			{"the next page continues after it", []int{half, half, 3, 0}, 2, true, []int{half, 3, 0}},
			{"without members the page is whole", []int{half, half, 3, 0}, 1, false, []int{0, 0, 0, 0}},
			{"a first group past the bound comes whole, alone", []int{bound + 10, 1}, 1, true, []int{bound + 10}},
			{"and then the rest", []int{bound + 10, 1}, 2, true, []int{1}},
			{"groups that fit come together", []int{bound - 10, 10}, 1, true, []int{bound - 10, 10}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := groups(fmt.Sprintf("case-%d", i), tc.sizes...)
				page, err := svc.ListSCIMGroups(ctx, a.ID, f, tc.startIndex, 100, tc.members)
				if err != nil {
					t.Fatal(err)
				}
				if got := sizesOf(page); !slices.Equal(got, tc.want) || page.Total != len(tc.sizes) {
					t.Errorf("members per group %v of %d; want %v of %d", got, page.Total, tc.want, len(tc.sizes))
				}
			})
		}
	})
}
