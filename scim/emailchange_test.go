package scim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestRenamedAddressFollowsTheHomeIdP: Entra ID renames a person's
// address with one PATCH of userName and emails[type eq "work"].value,
// Okta with a PUT. From the account that verified both domains, the
// person's own address follows (the console, the API and the next single
// sign-on see the new one); another person's address is 409 uniqueness,
// in SCIM's error schema, and changes nothing.
func TestRenamedAddressFollowsTheHomeIdP(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alpha, _, svc := setupAt(t, s, nil, "acme.example")
		acme, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		// As Entra ID creates a user: the work address, primary.
		status, body, _ := alpha.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"externalId":"7f3c","userName":"ada@acme.example","active":true,"displayName":"Ada Lovelace",
			"emails":[{"primary":true,"type":"work","value":"ada@acme.example"}],"name":{"givenName":"Ada","familyName":"Lovelace"}}`)
		if status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
		id := body["id"].(string)
		createUser(t, alpha, "bob@acme.example")

		entra := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Replace","path":"userName","value":"%[1]s"},
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"%[1]s"}]}`
		status, body, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(entra, "ada.king@acme.example"))
		if status != 200 || body["userName"] != "ada.king@acme.example" {
			t.Fatalf("Entra's rename: %d %v", status, body)
		}
		if m, err := svc.Member(ctx, acme.ID, "ada.king@acme.example"); err != nil || m.Membership.ID != id {
			t.Errorf("the member by the new address: %+v, %v; want the same member", m.Membership, err)
		}

		status, body, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(entra, "bob@acme.example"))
		if status != 409 || body["scimType"] != "uniqueness" || body["detail"] == "" {
			t.Errorf("a rename to bob's address: %d %v; want 409 uniqueness saying why", status, body)
		}
		_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
		if got["userName"] != "ada.king@acme.example" {
			t.Errorf("after the refused rename, userName is %v; want it unchanged", got["userName"])
		}
		if m, err := svc.Member(ctx, acme.ID, "ada.king@acme.example"); err != nil || m.Membership.ID != id {
			t.Errorf("after the refused rename: %+v, %v; want the person at ada.king@", m.Membership, err)
		}
	})
}
