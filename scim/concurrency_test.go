package scim_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`

// TestPatchesDoNotLoseADeactivation races Entra's deactivating PATCH with
// a PATCH of another attribute, round after round: the second must not
// write back the active=true it would have read before the deactivation.
func TestPatchesDoNotLoseADeactivation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "racer@acme.example")
		const rounds = 200
		for i := range rounds {
			if status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(patchOp, `{"op":"replace","path":"active","value":true}`)); status != 200 {
				t.Fatalf("round %d: reactivate: %d %v", i, status, body)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			statuses := make([]int, 2)
			for j, op := range []string{
				`{"op":"Replace","path":"active","value":"False"}`,
				fmt.Sprintf(`{"op":"replace","path":"displayName","value":"Racer %d"}`, i),
			} {
				wg.Go(func() {
					<-start
					statuses[j], _, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(patchOp, op))
				})
			}
			close(start)
			wg.Wait()
			if statuses[0] != 200 || statuses[1] != 200 {
				t.Fatalf("round %d: statuses %v", i, statuses)
			}
			_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
			if got["active"] != false || got["displayName"] != fmt.Sprintf("Racer %d", i) {
				t.Fatalf("round %d: active %v, displayName %v; want false and Racer %d (a lost update)", i, got["active"], got["displayName"], i)
			}
		}
	})
}

// TestGroupPatchesDoNotLoseARename races a rename with a member change:
// the member change must not write back the name it read before.
func TestGroupPatchesDoNotLoseARename(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		u := createUser(t, alpha, "member@acme.example")
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team 0"}`)
		if status != 201 {
			t.Fatalf("create group: %d %v", status, g)
		}
		id := g["id"].(string)
		const rounds = 100
		for i := 1; i <= rounds; i++ {
			var wg sync.WaitGroup
			start := make(chan struct{})
			statuses := make([]int, 2)
			memberOp := `{"op":"add","path":"members","value":[{"value":"` + u + `"}]}`
			if i%2 == 0 {
				memberOp = `{"op":"remove","path":"members[value eq \"` + u + `\"]"}`
			}
			for j, op := range []string{fmt.Sprintf(`{"op":"replace","path":"displayName","value":"Team %d"}`, i), memberOp} {
				wg.Go(func() {
					<-start
					statuses[j], _, _ = alpha.do("PATCH", "/scim/v2/Groups/"+id, fmt.Sprintf(patchOp, op))
				})
			}
			close(start)
			wg.Wait()
			if statuses[0] != 204 || statuses[1] != 204 {
				t.Fatalf("round %d: statuses %v", i, statuses)
			}
			_, got, _ := alpha.do("GET", "/scim/v2/Groups/"+id+"?excludedAttributes=members", "")
			if got["displayName"] != fmt.Sprintf("Team %d", i) {
				t.Fatalf("round %d: displayName %v; want Team %d (a lost update)", i, got["displayName"], i)
			}
		}
	})
}
