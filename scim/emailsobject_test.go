package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEmailsAsOneObject: OneLogin's template sends emails as one object
// where RFC 7643 has a list. Whatever the element, the object is read as
// the list of that one would be: the same answer (status, scimType,
// detail), the same emails kept, the same address for the person, on
// POST, PUT and PATCH (with a path, and without one).
func TestEmailsAsOneObject(t *testing.T) {
	t.Parallel()
	elements := []struct{ name, el string }{
		{"primary work", `{"value":"WHO@acme.example","type":"work","primary":true}`},
		{"primary as the string True", `{"value":"WHO@acme.example","type":"work","primary":"True"}`},
		{"primary as the string false", `{"value":"WHO@acme.example","primary":"false"}`},
		{"primary not a boolean", `{"value":"WHO@acme.example","primary":"yes"}`},
		{"spaces and capitals", `{"value":" WHO@Acme.Example ","type":"work","primary":true}`},
		{"not an address", `{"value":"not an address","primary":true}`},
		{"type not a string", `{"value":"WHO@acme.example","type":7}`},
		{"no value", `{"type":"work","primary":true}`},
		{"empty value", `{"value":"","primary":true}`},
		{"null value", `{"value":null,"primary":true}`},
		{"unknown sub-attribute", `{"value":"WHO@acme.example","primary":true,"verified":true}`},
		{"a dotted key", `{"value":"WHO@acme.example","primary":true,"display.x":"y"}`},
		{"empty", `{}`},
	}
	type outcome struct {
		Status           int
		ScimType, Detail any
		Emails           any
		Email            string
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		alpha, _, svc := setupAt(t, s, nil, "acme.example")
		acct, err := svc.Account(ctx, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		// Each request is for a user of its own, user<n>: its outcome says
		// WHO for the user, so that two outcomes compare.
		anon := func(o outcome) outcome {
			t.Helper()
			raw, _ := json.Marshal(o)
			raw = []byte(strings.ReplaceAll(string(raw), fmt.Sprintf("user%d", n), "WHO"))
			var out outcome
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		named := func(emails string) string { return strings.ReplaceAll(emails, "WHO", fmt.Sprintf("user%d", n)) }
		email := func(id any) string {
			if id == nil {
				return ""
			}
			u, err := s.FindSCIMUser(ctx, acct.ID, id.(string))
			if err != nil {
				t.Fatal(err)
			}
			return u.Email
		}
		// each runs one request with emails in the given form, on a user
		// of its own, and reports what came of it.
		type request func(emails string) outcome
		post := func(emails string) outcome {
			n++
			st, b, _ := alpha.do("POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName":"user%d","emails":%s}`, n, named(emails)))
			return anon(outcome{st, b["scimType"], b["detail"], b["emails"], email(b["id"])})
		}
		created := func() string {
			n++
			st, b, _ := alpha.do("POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName":"user%d","emails":[{"value":"first-user%d@acme.example","primary":true}]}`, n, n))
			if st != 201 {
				t.Fatalf("create: %d %v", st, b)
			}
			return b["id"].(string)
		}
		put := func(emails string) outcome {
			id := created()
			st, b, _ := alpha.do("PUT", "/scim/v2/Users/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
				"userName":"user%d","emails":%s}`, n, named(emails)))
			return anon(outcome{st, b["scimType"], b["detail"], b["emails"], email(id)})
		}
		patch := func(op string) request {
			return func(emails string) outcome {
				id := created()
				st, b, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+
					fmt.Sprintf(op, named(emails))+`]}`)
				return anon(outcome{st, b["scimType"], b["detail"], b["emails"], email(id)})
			}
		}
		requests := []struct {
			name string
			do   request
		}{
			{"POST", post},
			{"PUT", put},
			{"PATCH replace emails", patch(`{"op":"replace","path":"emails","value":%s}`)},
			{"PATCH add emails", patch(`{"op":"add","path":"emails","value":%s}`)},
			{"PATCH replace without a path", patch(`{"op":"replace","value":{"emails":%s}}`)},
			{"PATCH add without a path", patch(`{"op":"add","value":{"emails":%s}}`)},
		}
		for _, r := range requests {
			for _, e := range elements {
				t.Run(r.name+"/"+e.name, func(t *testing.T) {
					want, got := r.do("["+e.el+"]"), r.do(e.el)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("emails as one object, against a list of it (-list +object):\n%s", diff)
					}
				})
			}
		}
	})
}
