package scim_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEveryMemberIsAWholeResource: people an admin added by hand or by
// invitation are listed with what a SCIM-made user has (name, displayName,
// emails, active, meta), with the name the account's admins see of them;
// an account that is not the person's home never shows a name it gave
// them (DESIGN rule 10).
func TestEveryMemberIsAWholeResource(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alpha, _, svc := setup(t, s)
		op := directory.Actor{Source: directory.SourceCLI}
		a, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		beta, err := svc.Account(ctx, "beta")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddDomain(ctx, beta.ID, op, "beta.example", true); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, a.ID, op, directory.NewUser{Email: "grace@acme.example", FirstName: "Grace", LastName: "Hopper"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, a.ID, op, directory.NewInvitation{Email: "ada@acme.example", FirstName: "Ada", LastName: "Lovelace"}); err != nil {
			t.Fatal(err)
		}
		// Beta's person, named by beta; alpha adds them by hand with a
		// name of its own, which must not show.
		if _, err := svc.AddUser(ctx, beta.ID, op, directory.NewUser{Email: "bob@beta.example", FirstName: "Bob", LastName: "Beta"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, a.ID, op, directory.NewUser{Email: "bob@beta.example", FirstName: "Fake", LastName: "Name"}); err != nil {
			t.Fatal(err)
		}
		// A person new to admit whose domain beta verified: alpha may not
		// name them, so alpha's view has no name.
		if _, err := svc.AddUser(ctx, a.ID, op, directory.NewUser{Email: "carol@beta.example", FirstName: "Planted", LastName: "Name"}); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			userName, given, family string
			active                  bool
		}{
			{"grace@acme.example", "Grace", "Hopper", true},
			{"ada@acme.example", "Ada", "Lovelace", false}, // invited, not yet accepted
			{"bob@beta.example", "Bob", "Beta", true},
			{"carol@beta.example", "", "", true},
		} {
			t.Run(tc.userName, func(t *testing.T) {
				status, list, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", tc.userName)), "")
				res, _ := list["Resources"].([]any)
				if status != 200 || len(res) != 1 {
					t.Fatalf("list: %d %v", status, list)
				}
				u := res[0].(map[string]any)
				checks := []func(*testing.T, map[string]any){
					field("userName", tc.userName), field("active", tc.active), field("meta.resourceType", "User"),
					field("meta.location", "https://admit.example/scim/v2/Users/"+fmt.Sprint(u["id"])), emailOf("work", tc.userName),
				}
				if tc.given != "" {
					checks = append(checks, field("name.givenName", tc.given), field("name.familyName", tc.family),
						field("name.formatted", tc.given+" "+tc.family), field("displayName", tc.given+" "+tc.family))
				} else {
					checks = append(checks, field("name", nil), field("displayName", nil))
				}
				for _, c := range checks {
					c(t, u)
				}
				if !hasSchema(u, "urn:ietf:params:scim:schemas:core:2.0:User") || u["meta"].(map[string]any)["version"] == nil {
					t.Errorf("schemas or meta.version missing: %v", u)
				}
				// The same by id.
				_, got, _ := alpha.do("GET", "/scim/v2/Users/"+fmt.Sprint(u["id"]), "")
				if fmt.Sprint(got["name"]) != fmt.Sprint(u["name"]) {
					t.Errorf("GET by id name %v; listing %v", got["name"], u["name"])
				}
			})
		}

		// The identity provider takes over a member added by hand: a
		// deactivating PATCH keeps the name they were described with.
		_, list, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "grace@acme.example"`), "")
		id := list["Resources"].([]any)[0].(map[string]any)["id"].(string)
		status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(patchOp, `{"op":"Replace","path":"active","value":"False"}`))
		if status != 200 {
			t.Fatalf("patch: %d %v", status, body)
		}
		_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
		all(field("active", false), field("name.givenName", "Grace"), field("displayName", "Grace Hopper"))(t, got)
	})
}
