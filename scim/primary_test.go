package scim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestOnePrimary: a multi-valued attribute has at most one value marked
// primary (RFC 7643 §2.4, "MUST appear no more than once"). A PATCH that
// makes a value primary makes the others not (RFC 7644 §3.5.2, "SHALL
// cause the server to automatically set primary to false for any other
// values"), and the new primary email is the one admit reads; a POST or
// PUT that marks two keeps the first, the one admit reads. Answers and
// later reads show one primary.
func TestOnePrimary(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alpha, _, svc := setupAt(t, s, nil, "acme.example")
		acct, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		create := func(emails string) string {
			n++
			st, b, _ := alpha.do("POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d","emails":%s,
				"phoneNumbers":[{"value":"+1 555 0100","type":"work","primary":true}]}`, n, emails))
			if st != 201 {
				t.Fatalf("create: %d %v", st, b)
			}
			return b["id"].(string)
		}
		// primaries says which values of each attribute are primary, in
		// order, as the answer and a later GET show them.
		primaries := func(t *testing.T, b map[string]any, attr string) []string {
			t.Helper()
			var out []string
			list, _ := b[attr].([]any)
			for _, v := range list {
				if el, _ := v.(map[string]any); el["primary"] == true {
					out = append(out, fmt.Sprint(el["value"]))
				}
			}
			return out
		}
		check := func(t *testing.T, id string, answer map[string]any, attr string, want ...string) {
			t.Helper()
			_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
			for name, b := range map[string]map[string]any{"answer": answer, "GET": got} {
				if p := primaries(t, b, attr); fmt.Sprint(p) != fmt.Sprint(want) {
					t.Errorf("%s: %s primary = %v; want %v (%v)", name, attr, p, want, b[attr])
				}
			}
		}
		email := func(id string) string {
			u, err := s.FindSCIMUser(ctx, acct.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			return u.Email
		}
		patch := func(id, ops string) map[string]any {
			st, b, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
			if st != 200 {
				t.Fatalf("PATCH %s: %d %v", ops, st, b)
			}
			return b
		}

		t.Run("PATCH add of a primary email", func(t *testing.T) {
			id := create(`[{"value":"old@acme.example","type":"work","primary":true}]`)
			b := patch(id, `{"op":"add","path":"emails","value":[{"value":"new@acme.example","type":"other","primary":true}]}`)
			check(t, id, b, "emails", "new@acme.example")
			if e := email(id); e != "new@acme.example" {
				t.Errorf("the person's address = %s; want the new primary", e)
			}
			check(t, id, b, "phoneNumbers", "+1 555 0100") // another attribute's primary stays
		})
		t.Run("PATCH of a value filter's primary", func(t *testing.T) {
			id := create(`[{"value":"work@acme.example","type":"work","primary":true},{"value":"home@acme.example","type":"home"}]`)
			b := patch(id, `{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}`)
			check(t, id, b, "emails", "home@acme.example")
		})
		t.Run("PATCH without a path", func(t *testing.T) {
			id := create(`[{"value":"old3@acme.example","type":"work","primary":true}]`)
			b := patch(id, `{"op":"add","value":{"phoneNumbers":[{"value":"+1 555 0199","type":"mobile","primary":"True"}]}}`)
			check(t, id, b, "phoneNumbers", "+1 555 0199")
			check(t, id, b, "emails", "old3@acme.example")
		})
		t.Run("PATCH that adds a value not primary", func(t *testing.T) {
			id := create(`[{"value":"old4@acme.example","type":"work","primary":true}]`)
			b := patch(id, `{"op":"add","path":"emails","value":[{"value":"more@acme.example","type":"home"}]}`)
			check(t, id, b, "emails", "old4@acme.example")
		})
		t.Run("POST with two primaries", func(t *testing.T) {
			id := create(`[{"value":"one@acme.example","type":"work","primary":true},{"value":"two@acme.example","type":"home","primary":true}]`)
			_, b, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
			check(t, id, b, "emails", "one@acme.example")
			if e := email(id); e != "one@acme.example" {
				t.Errorf("the person's address = %s; want the first primary", e)
			}
		})
		t.Run("PUT with two primaries", func(t *testing.T) {
			id := create(`[{"value":"put@acme.example","primary":true}]`)
			st, b, _ := alpha.do("PUT", "/scim/v2/Users/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d",
				"emails":[{"value":"put@acme.example","type":"work","primary":true},{"value":"put2@acme.example","type":"home","primary":true}]}`, n))
			if st != 200 {
				t.Fatalf("PUT: %d %v", st, b)
			}
			check(t, id, b, "emails", "put@acme.example")
		})
	})
}
