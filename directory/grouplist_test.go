package directory_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestGroupSummaries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme", "acme.example")
		other := mustAccount(t, svc, "other", "other.example")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		_, otherTok, _ := svc.CreateSCIMToken(ctx, other.ID, operator, "idp")
		ids := scimUsers(t, svc, a.ID, tok, "u", 3)
		for _, g := range []directory.GroupInput{{DisplayName: "Staff", Members: ids}, {DisplayName: "Admins", ExternalID: "oid-7", Members: ids[:1]}, {DisplayName: "Empty"}} {
			if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, g); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.CreateSCIMGroup(ctx, other.ID, otherTok, directory.GroupInput{DisplayName: "Theirs"}); err != nil {
			t.Fatal(err)
		}
		// Mapped by externalId, without case; and an SSO-only group.
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "OID-7", directory.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
		c := connection(t, svc, a.ID, "okta", directory.JITCreate)
		for _, email := range []string{"u0@acme.example", "sso@acme.example"} {
			if _, err := svc.SignInWithSSO(ctx, c, directory.Identity{Email: email, FirstName: "P", LastName: "Q", Groups: []string{"Ops"}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := svc.GroupSummaries(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			source  directory.GroupSource
			name    string
			members int
			role    directory.Role
		}
		want := []row{{"scim", "Admins", 1, "admin"}, {"scim", "Empty", 0, ""}, {"scim", "Staff", 3, ""}, {"sso", "ops", 2, ""}}
		if len(got) != len(want) {
			t.Fatalf("got %d groups %+v; want %v", len(got), got, want)
		}
		for i, g := range got {
			if (row{g.Source, g.DisplayName, g.Members, g.Role}) != want[i] {
				t.Errorf("group %d = %+v; want %+v", i, g, want[i])
			}
		}
	})
}
