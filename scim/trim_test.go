package scim_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEmailValuesTrimmed: an email value sent with spaces around it (an
// identity provider's mapping expression that adds one) is kept and
// answered without them, as the address the person signs in with is.
func TestEmailValuesTrimmed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alpha, _, svc := setupAt(t, s, nil, "acme.example")
		acct, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		values := func(b map[string]any) string {
			var out []string
			list, _ := b["emails"].([]any)
			for _, v := range list {
				el, _ := v.(map[string]any)
				out = append(out, fmt.Sprintf("%q", el["value"]))
			}
			return fmt.Sprint(out)
		}
		st, b, _ := alpha.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann",
			"emails":[{"value":" Ann@acme.example\t","type":"work","primary":true}]}`)
		if st != 201 {
			t.Fatalf("create: %d %v", st, b)
		}
		id := b["id"].(string)
		if got, want := values(b), `["Ann@acme.example"]`; got != want {
			t.Errorf("created: emails %s; want %s", got, want)
		}
		st, b, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"add","path":"emails","value":[{"value":"  ann.other@acme.example ","type":"other"}]}]}`)
		if st != 200 {
			t.Fatalf("PATCH: %d %v", st, b)
		}
		want := `["Ann@acme.example" "ann.other@acme.example"]`
		if got := values(b); got != want {
			t.Errorf("patched: emails %s; want %s", got, want)
		}
		_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
		if v := values(got); v != want {
			t.Errorf("GET: emails %s; want %s", v, want)
		}
		u, err := s.FindSCIMUser(ctx, acct.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "ann@acme.example" && u.Email != "Ann@acme.example" {
			t.Errorf("the person's address = %q", u.Email)
		}
	})
}
