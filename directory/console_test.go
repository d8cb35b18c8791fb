package directory_test

import (
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestCan is the console's table of who may do what, read back: owners
// everything, admins all but owners' affairs, members and an account's own
// roles nothing.
func TestCan(t *testing.T) {
	t.Parallel()
	all := []directory.Action{directory.ViewMembers, directory.AddMembers, directory.ManageMembers, directory.ManageOwners, directory.ManageSSO}
	for _, tc := range []struct {
		role directory.Role
		may  []directory.Action
	}{
		{directory.RoleOwner, all},
		{directory.RoleAdmin, []directory.Action{directory.ViewMembers, directory.AddMembers, directory.ManageMembers}},
		{directory.RoleMember, nil},
		{"auditor", nil},
		{"", nil},
	} {
		t.Run(string(tc.role), func(t *testing.T) {
			for _, a := range all {
				want := false
				for _, m := range tc.may {
					want = want || m == a
				}
				if got := directory.Can(tc.role, a); got != want {
					t.Errorf("Can(%q, %s) = %v; want %v", tc.role, a, got, want)
				}
			}
			if directory.Can(tc.role, "unknown_action") {
				t.Errorf("Can(%q, an unknown action) = true", tc.role)
			}
		})
	}
	// The table handed out is a copy: changing it changes no rule.
	p := directory.Permissions()
	p[0].Roles[0] = directory.RoleMember
	if directory.Can(directory.RoleMember, p[0].Action) {
		t.Error("changing the returned table gave members a right")
	}
}
