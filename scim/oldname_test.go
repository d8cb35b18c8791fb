package scim_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestOldNameIsNotGivenToThePerson: a givenName stored before names
// refused reordering characters is sent back unchanged, so the SCIM change
// goes through (a deactivation, a title); but it is no new name of the
// person's. After she named herself "Ada" again, a PATCH or a PUT that
// resends the old value must not write the override onto her name, where
// the console, mail and apps' claims show it.
func TestOldNameIsNotGivenToThePerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alpha, _, svc := setupAt(t, s, nil, "acme.example")
		acme, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := alpha.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"ada@acme.example","active":true,"emails":[{"primary":true,"value":"ada@acme.example"}],
			"name":{"givenName":"Ada","familyName":"Lovelace"}}`)
		if status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
		id := body["id"].(string)
		// As a release before the rule stored it; her own name is "Ada"
		// (she, or a later rule, put it right).
		const overridden = "Ada \u202emoc.live"
		cur, err := s.FindSCIMUser(ctx, acme.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		legacy := cur.Profile
		legacy.GivenName, legacy.FamilyName = overridden, "Lovelace\u2069"
		var attrs map[string]any
		if err := json.Unmarshal(legacy.Attributes, &attrs); err != nil {
			t.Fatal(err)
		}
		attrs["name"] = map[string]any{"givenName": overridden, "familyName": "Lovelace\u2069"}
		if legacy.Attributes, err = json.Marshal(attrs); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateSCIMProfile(ctx, acme.ID, id, legacy, time.Now()); err != nil {
			t.Fatal(err)
		}
		nameOf := func(step string) {
			t.Helper()
			m, err := svc.Member(ctx, acme.ID, "ada@acme.example")
			if err != nil {
				t.Fatal(err)
			}
			if m.User.FirstName != "Ada" || m.User.LastName != "Lovelace" {
				t.Errorf("after %s, her name is %q %q; want Ada Lovelace", step, m.User.FirstName, m.User.LastName)
			}
		}
		status, body, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"title","value":"Countess"}]}`)
		if status != 200 {
			t.Fatalf("a PATCH of the title: %d %v", status, body)
		}
		nameOf("a PATCH of the title")
		if err := s.UpdateUserName(ctx, cur.Membership.UserID, "Ada", "Lovelace", time.Now()); err != nil {
			t.Fatal(err)
		}
		status, body, _ = alpha.do("PUT", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"ada@acme.example","active":false,"emails":[{"primary":true,"value":"ada@acme.example"}],
			"name":{"givenName":"Ada \u202emoc.live","familyName":"Lovelace\u2069"}}`)
		if status != 200 || body["active"] != false {
			t.Fatalf("a PUT deactivating her with the old givenName: %d %v", status, body)
		}
		nameOf("a PUT resending the old givenName")
		// The old value changed in any way (case, spaces inside) is a new
		// value, held to the rule.
		for _, v := range []string{"ADA \u202emoc.live", "Ada  \u202emoc.live", "Ada \u202emoc.live\u2069"} {
			status, body, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"name.givenName","value":"`+v+`"}]}`)
			if status != 400 {
				t.Errorf("a PATCH of givenName to %s: %d %v; want 400", v, status, body)
			}
		}
		nameOf("the refused PATCHes")
	})
}
