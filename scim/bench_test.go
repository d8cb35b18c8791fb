package scim_test

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkSCIMHTTP is the load run of the SCIM hot paths through HTTP, as
// an identity provider drives them: creates from several connections at
// once (what an initial sync does), a filter by userName, a user PATCH and
// a group member PATCH. ns/op of the parallel create is the inverse of
// creates per second.
func BenchmarkSCIMHTTP(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		alpha, _, _ := setup(b, s)
		var n atomic.Int64
		b.Run("create-parallel", func(b *testing.B) {
			b.SetParallelism(4) // 4×GOMAXPROCS connections, as Okta and Entra ID open several
			b.RunParallel(func(pb *testing.PB) {
				c := client{b, alpha.url, alpha.token}
				for pb.Next() {
					name := fmt.Sprintf("load%07d@acme.example", n.Add(1))
					if status, body, _ := c.do("POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
						"userName":%q,"name":{"givenName":"Load","familyName":"Test"},"emails":[{"value":%q,"primary":true}],"active":true}`, name, name)); status != 201 {
						b.Fatalf("create: %d %v", status, body)
					}
				}
			})
		})
		id := createUser(b, alpha, "target@acme.example")
		b.Run("filter-userName", func(b *testing.B) {
			q := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "target@acme.example"`)
			for b.Loop() {
				if status, body, _ := alpha.do("GET", q, ""); status != 200 || body["totalResults"] != 1.0 {
					b.Fatalf("filter: %d %v", status, body)
				}
			}
		})
		b.Run("patch-user", func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"name.givenName","value":"G%d"}]}`, i)
				if status, res, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, body); status != 200 {
					b.Fatalf("patch: %d %v", status, res)
				}
			}
		})
		_, g, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Load"}`)
		b.Run("patch-group-member", func(b *testing.B) {
			ops := []string{"add", "remove"}
			i := 0
			for b.Loop() {
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":%q,"path":"members","value":[{"value":%q}]}]}`, ops[i%2], id)
				if status, res, _ := alpha.do("PATCH", "/scim/v2/Groups/"+g["id"].(string), body); status != 204 {
					b.Fatalf("patch group: %d %v", status, res)
				}
				i++
			}
		})
	})
}
