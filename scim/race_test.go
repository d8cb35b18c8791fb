package scim_test

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// raceRequests sends n requests from goroutines released together and
// returns their statuses and bodies in order.
func raceRequests(c client, n int, req func(i int) (method, path, body string)) ([]int, []map[string]any) {
	statuses, bodies := make([]int, n), make([]map[string]any, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		method, path, body := req(i)
		wg.Go(func() {
			<-start
			statuses[i], bodies[i], _ = c.do(method, path, body)
		})
	}
	close(start)
	wg.Wait()
	return statuses, bodies
}

// TestRetriedCreatesAtOnceMakeOnePerson: Okta and Entra send a POST
// /Users again when the first timed out, and the two may arrive together.
// One is created (201); every other is a 409 "uniqueness" in the SCIM
// error schema, never a 500, and there is one person.
func TestRetriedCreatesAtOnceMakeOnePerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 3 {
			email := fmt.Sprintf("retried%d@acme.example", round)
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"emails":[{"primary":true,"value":%q}],"name":{"givenName":"Re","familyName":"Try"},"active":true}`, email, email)
			statuses, bodies := raceRequests(alpha, 6, func(int) (string, string, string) { return "POST", "/scim/v2/Users", body })
			oneCreated(t, round, statuses, bodies)
			_, list, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", email)), "")
			if list["totalResults"] != float64(1) {
				t.Errorf("round %d: %v users with userName %s, want 1", round, list["totalResults"], email)
			}
		}
	})
}

// TestMemberAddsAtOnceKeepEveryMember: two (here six) PATCH requests each
// add a member to the same group at once; none is lost.
func TestMemberAddsAtOnceKeepEveryMember(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		const n = 6
		users := make([]string, n)
		for i := range users {
			users[i] = createUser(t, alpha, fmt.Sprintf("m%d@acme.example", i))
		}
		for round := range 3 {
			status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team %d"}`, round))
			if status != 201 {
				t.Fatalf("create group: %d %v", status, g)
			}
			id := g["id"].(string)
			statuses, bodies := raceRequests(alpha, n, func(i int) (string, string, string) {
				return "PATCH", "/scim/v2/Groups/" + id, fmt.Sprintf(patchOp, `{"op":"add","path":"members","value":[{"value":"`+users[i]+`"}]}`)
			})
			for i, st := range statuses {
				if st != 200 && st != 204 {
					t.Errorf("round %d: add %d: %d %v", round, i, st, bodies[i])
				}
			}
			_, got, _ := alpha.do("GET", "/scim/v2/Groups/"+id, "")
			if members, _ := got["members"].([]any); len(members) != n {
				t.Errorf("round %d: the group has %d members, want %d (an add was lost)", round, len(members), n)
			}
		}
	})
}

// TestDeleteRacingAPatch: the provider deletes a user while another of its
// requests patches them. The DELETE succeeds; the PATCH either lands first
// (200) or finds no one (404), never a 500; the user is gone afterwards.
func TestDeleteRacingAPatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 10 {
			id := createUser(t, alpha, fmt.Sprintf("doomed%d@acme.example", round))
			statuses, bodies := raceRequests(alpha, 2, func(i int) (string, string, string) {
				if i == 0 {
					return "DELETE", "/scim/v2/Users/" + id, ""
				}
				return "PATCH", "/scim/v2/Users/" + id, fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"Still Here"}`)
			})
			if statuses[0] != 204 {
				t.Errorf("round %d: DELETE: %d %v", round, statuses[0], bodies[0])
			}
			if statuses[1] != 200 && statuses[1] != 404 {
				t.Errorf("round %d: PATCH: %d %v; want 200 or 404", round, statuses[1], bodies[1])
			}
			if st, body, _ := alpha.do("GET", "/scim/v2/Users/"+id, ""); st != 404 {
				t.Errorf("round %d: after the DELETE: %d %v", round, st, body)
			}
		}
	})
}

// TestSameMemberAddedTwiceAtOnce: the provider retries a PATCH that adds
// a member, and the retry arrives beside the first: both succeed, and the
// member is in the group once.
func TestSameMemberAddedTwiceAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		u := createUser(t, alpha, "again@acme.example")
		for round := range 3 {
			status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Again %d"}`, round))
			if status != 201 {
				t.Fatalf("create group: %d %v", status, g)
			}
			id := g["id"].(string)
			statuses, bodies := raceRequests(alpha, 4, func(int) (string, string, string) {
				return "PATCH", "/scim/v2/Groups/" + id, fmt.Sprintf(patchOp, `{"op":"add","path":"members","value":[{"value":"`+u+`"}]}`)
			})
			for i, st := range statuses {
				if st != 200 && st != 204 {
					t.Errorf("round %d: add %d: %d %v", round, i, st, bodies[i])
				}
			}
			_, got, _ := alpha.do("GET", "/scim/v2/Groups/"+id, "")
			if members, _ := got["members"].([]any); len(members) != 1 {
				t.Errorf("round %d: the group has %d members, want 1", round, len(members))
			}
		}
	})
}

// TestRetriedGroupCreatesAtOnce: two identical POST /Groups at once: one
// 201, the other a 409 "uniqueness" (never a 500), one group.
func TestRetriedGroupCreatesAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 3 {
			body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Twin %d"}`, round)
			statuses, bodies := raceRequests(alpha, 4, func(int) (string, string, string) { return "POST", "/scim/v2/Groups", body })
			oneCreated(t, round, statuses, bodies)
		}
	})
}

// TestRetriedDeletesAtOnce: the provider sends a DELETE again before the
// first answered: one 204, the others 404, never a 500, and the deletion
// is told once. On PostgreSQL every DELETE answered 204 and each wrote its
// own audit event and membership.deleted event.
func TestRetriedDeletesAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 3 {
			id := createUser(t, alpha, fmt.Sprintf("gone%d@acme.example", round))
			statuses, bodies := raceRequests(alpha, 4, func(int) (string, string, string) { return "DELETE", "/scim/v2/Users/" + id, "" })
			oneDeleted(t, round, statuses, bodies)
		}
		toldOnceEach(t, s, "membership.deleted", 3)
	})
}

// TestTwoUserNamesOneEmailAtOnce: two creates with different userNames and
// the same email, at once: one person in the account, the other create a
// 409 "uniqueness".
func TestTwoUserNamesOneEmailAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 3 {
			email := fmt.Sprintf("shared%d@acme.example", round)
			statuses, bodies := raceRequests(alpha, 2, func(i int) (string, string, string) {
				return "POST", "/scim/v2/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%d-%d","emails":[{"primary":true,"value":%q}],"active":true}`, i, round, email)
			})
			oneCreated(t, round, statuses, bodies)
		}
	})
}

// TestRetriedGroupDeletesAtOnce: a retried DELETE /Groups: one 204, the
// others 404, and the deletion told once.
func TestRetriedGroupDeletesAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 3 {
			status, g, _ := alpha.do("POST", "/scim/v2/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Doomed %d"}`, round))
			if status != 201 {
				t.Fatalf("create group: %d %v", status, g)
			}
			id := g["id"].(string)
			statuses, bodies := raceRequests(alpha, 4, func(int) (string, string, string) { return "DELETE", "/scim/v2/Groups/" + id, "" })
			oneDeleted(t, round, statuses, bodies)
		}
		toldOnceEach(t, s, "group.deleted", 3)
	})
}

// TestRetriedDeactivationsAtOnce: Entra's deactivating PATCH sent again
// beside the first: all succeed, and the member is deactivated.
func TestRetriedDeactivationsAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for round := range 3 {
			id := createUser(t, alpha, fmt.Sprintf("off%d@acme.example", round))
			statuses, bodies := raceRequests(alpha, 4, func(int) (string, string, string) {
				return "PATCH", "/scim/v2/Users/" + id, fmt.Sprintf(patchOp, `{"op":"replace","path":"active","value":false}`)
			})
			for i, st := range statuses {
				if st != 200 {
					t.Errorf("round %d: patch %d: %d %v", round, i, st, bodies[i])
				}
			}
			if _, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, ""); got["active"] != false {
				t.Errorf("round %d: active %v after the deactivations", round, got["active"])
			}
		}
	})
}

// oneDeleted checks the answers to racing DELETEs of one resource: one 204,
// the others 404.
func oneDeleted(t *testing.T, round int, statuses []int, bodies []map[string]any) {
	t.Helper()
	oneWon(t, fmt.Sprintf("round %d: delete", round), statuses, bodies, 204, func(st int, _ map[string]any) bool { return st == 404 })
}

// oneCreated checks the answers to racing creates of one resource: one
// 201, the others a 409 "uniqueness" in the SCIM error schema.
func oneCreated(t *testing.T, round int, statuses []int, bodies []map[string]any) {
	t.Helper()
	oneWon(t, fmt.Sprintf("round %d: create", round), statuses, bodies, 201, func(st int, body map[string]any) bool {
		return st == 409 && body["scimType"] == "uniqueness" && fmt.Sprint(body["schemas"]) == "[urn:ietf:params:scim:api:messages:2.0:Error]"
	})
}

// oneWon checks that exactly one racing request got won and that each
// other's answer is one lost accepts (never a 500).
func oneWon(t *testing.T, what string, statuses []int, bodies []map[string]any, won int, lost func(int, map[string]any) bool) {
	t.Helper()
	n := 0
	for i, st := range statuses {
		switch {
		case st == won:
			n++
		case !lost(st, bodies[i]):
			t.Errorf("%s %d: %d %v", what, i, st, bodies[i])
		}
	}
	if n != 1 {
		t.Errorf("%s: %d answered %d, want 1", what, n, won)
	}
}

// toldOnceEach checks that n deletions were audited (and announced) as
// action n times, not once per racing request.
func toldOnceEach(t *testing.T, s *store.Store, action string, n int) {
	t.Helper()
	var told int
	if err := s.DB().Get(&told, s.DB().Rebind(`SELECT count(*) FROM audit_events WHERE action = ?`), action); err != nil {
		t.Fatal(err)
	}
	if told != n {
		t.Errorf("%d %s audit events for %d deletions", told, action, n)
	}
}
