package scim_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEmailSubAttributeFilters: conditions on emails.type, emails.primary
// and emails.display are evaluated against the email admit keeps of each
// user (the primary one, else the work one, else the first), as the
// identity provider sent it, or as admit shows a member it sent no emails
// for (work, primary, no display). Before, they held for every user:
// emails[type eq "home"] listed everyone, and emails[type eq "home" or
// value eq "nobody@x"] too. A filter that holds for no one answers no
// users without asking the database; one on a group's members.type holds
// for all or none (every member is a user).
func TestEmailSubAttributeFilters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, svc := setup(t, s)
		create := func(userName, emails string) string {
			t.Helper()
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q%s}`, userName, emails)
			status, got, _ := alpha.do("POST", "/scim/v2/Users", body)
			if status != 201 {
				t.Fatalf("create %s: %d %v", userName, status, got)
			}
			return got["id"].(string)
		}
		// Okta: work and primary.
		okta := create("okta@acme.example", `,"emails":[{"value":"okta@acme.example","type":"work","primary":true}]`)
		// Entra ID: work, no primary.
		entra := create("entra@acme.example", `,"emails":[{"value":"entra@acme.example","type":"work"}]`)
		// Only a home email, with a display.
		home := create("home@acme.example", `,"emails":[{"value":"home@acme.example","type":"Home","display":"At home"}]`)
		// No emails: shown as work, primary.
		none := create("none@acme.example", ``)
		// Added by an admin: described by no identity provider.
		a, err := svc.Account(t.Context(), "alpha")
		if err != nil {
			t.Fatal(err)
		}
		storetest.SeedMembers(t, s, a.ID, "admin", 1)
		_, page, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName sw "admin"`), "")
		admin := page["Resources"].([]any)[0].(map[string]any)["id"].(string)
		all := []string{okta, entra, home, none, admin}

		for _, tc := range []struct {
			filter string
			want   []string
		}{
			{`emails[type eq "home"]`, []string{home}},
			{`emails[type eq "HOME"]`, []string{home}},
			{`emails[type eq "work"]`, []string{okta, entra, none, admin}},
			{`emails[type ne "work"]`, []string{home}},
			{`emails[type eq "home" or value eq "nobody@x.example"]`, []string{home}},
			{`emails[type eq "other" or value eq "nobody@x.example"]`, nil},
			{`emails[primary eq true]`, []string{okta, none, admin}},
			{`emails[primary eq false]`, []string{entra, home}},
			{`emails[not (primary eq true)]`, []string{entra, home}},
			{`emails[display pr]`, []string{home}},
			{`emails[display eq "at home"]`, []string{home}},
			{`emails[display eq "x"]`, nil},
			{`emails[type eq "work" and value eq "entra@acme.example"]`, []string{entra}},
			{`emails[type eq "home"].value eq "okta@acme.example"`, nil},
			{`emails.type sw "ho"`, []string{home}},
			{`not (emails[type eq "work"]) and userName sw "home"`, []string{home}},
		} {
			t.Run(tc.filter, func(t *testing.T) {
				status, body, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(tc.filter), "")
				if status != 200 {
					t.Fatalf("%d %v", status, body)
				}
				var got []string
				for _, r := range body["Resources"].([]any) {
					got = append(got, r.(map[string]any)["id"].(string))
				}
				slices.Sort(got)
				want := slices.Clone(tc.want)
				slices.Sort(want)
				if !slices.Equal(got, want) || body["totalResults"] != float64(len(want)) {
					t.Errorf("%v (total %v); want %v of %v", got, body["totalResults"], want, all)
				}
			})
		}
		for _, bad := range []string{`emails[primary gt true]`, `emails[type eq 5]`, `emails[primary eq "true"]`} {
			if status, body, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(bad), ""); status != 400 || body["scimType"] != "invalidFilter" {
				t.Errorf("%s: %d %v; want 400 invalidFilter", bad, status, body)
			}
		}

		// A PATCH that changes the kept email changes what its filters match.
		if status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+entra, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"emails","value":[{"value":"entra@acme.example","type":"other","primary":true}]}]}`); status != 200 {
			t.Fatalf("patch: %d %v", status, body)
		}
		if _, body, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`emails[type eq "other" and primary eq true]`), ""); body["totalResults"] != 1.0 {
			t.Errorf("after the PATCH: %v", body)
		}

		// Groups: every member is a user.
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":%q}]}`, okta))
		if status != 201 {
			t.Fatalf("group: %d %v", status, g)
		}
		for filter, want := range map[string]float64{
			`members[type eq "Group"]`: 0, `members[type eq "User"]`: 1, fmt.Sprintf(`members[type eq "User" and value eq %q]`, okta): 1,
			fmt.Sprintf(`members[type eq "Group" and value eq %q]`, okta): 0, `not (members[type eq "User"])`: 0,
		} {
			if _, body, _ := alpha.do("GET", "/scim/v2/Groups?filter="+url.QueryEscape(filter), ""); body["totalResults"] != want || len(body["Resources"].([]any)) != int(want) {
				t.Errorf("%s: %v; want %v", filter, body, want)
			}
		}
	})
}
