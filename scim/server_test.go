package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/scim"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

type client struct {
	t     testing.TB
	url   string
	token string
}

func (c client) do(method, path, body string, header ...string) (int, map[string]any, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func setup(t testing.TB, s *store.Store) (alpha, beta client, svc *directory.Service) {
	t.Helper()
	return setupAt(t, s, nil)
}

// setupAt is setup with the directory's clock (nil: the real one), alpha
// holding alphaDomains verified (as an operator gives them).
func setupAt(t testing.TB, s *store.Store, now func() time.Time, alphaDomains ...string) (alpha, beta client, svc *directory.Service) {
	t.Helper()
	ctx := context.Background()
	svc = directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}), Now: now})
	op := directory.Actor{Source: directory.SourceCLI}
	a, err := svc.CreateAccount(ctx, op, directory.NewAccount{Slug: "alpha", Name: "Alpha", Domains: alphaDomains})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := svc.CreateAccount(ctx, op, directory.NewAccount{Slug: "beta", Name: "Beta"})
	ta, _, _ := svc.CreateSCIMToken(ctx, a.ID, op, "okta")
	tb, _, _ := svc.CreateSCIMToken(ctx, b.ID, op, "entra")
	h, err := scim.New(svc, "https://admit.example", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return client{t, srv.URL, ta}, client{t, srv.URL, tb}, svc
}

const oktaUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example",
 "name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"primary":true,"value":"ada@acme.example","type":"work"}],
 "displayName":"Ada Lovelace","locale":"en-GB","externalId":"00u1abc","groups":[],"password":"ignored-by-admit","active":true}`

func TestUsersEndToEnd(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, beta, _ := setup(t, s)
		if status, body, h := (client{t, alpha.url, ""}).do("GET", "/scim/v2/Users", ""); status != 401 || body["status"] != "401" || h.Get("WWW-Authenticate") == "" {
			t.Errorf("no token: %d %v", status, body)
		}
		if status, _, _ := (client{t, alpha.url, "admit_scim_wrong"}).do("GET", "/scim/v2/Users", ""); status != 401 {
			t.Errorf("wrong token: %d", status)
		}
		status, created, hdr := alpha.do("POST", "/scim/v2/Users", oktaUser)
		if status != 201 {
			t.Fatalf("create: %d %v", status, created)
		}
		id, _ := created["id"].(string)
		loc := "https://admit.example/scim/v2/Users/" + id
		if hdr.Get("Location") != loc || created["meta"].(map[string]any)["location"] != loc || !strings.HasPrefix(hdr.Get("Content-Type"), "application/scim+json") {
			t.Errorf("Location %q, meta %v", hdr.Get("Location"), created["meta"])
		}
		if status, body, _ := alpha.do("POST", "/scim/v2/Users", strings.Replace(oktaUser, "ada@acme.example", "ADA@acme.example", 1)); status != 409 || body["scimType"] != "uniqueness" {
			t.Errorf("duplicate userName: %d %v", status, body)
		}
		for _, f := range []string{`userName eq "Ada@ACME.example"`, `externalId eq "00u1abc"`, `emails[type eq "work" and value eq "ada@acme.example"]`} {
			status, list, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(f), "")
			if status != 200 || list["totalResults"] != float64(1) {
				t.Errorf("filter %s: %d %v", f, status, list)
			}
		}
		if status, body, _ := alpha.do("GET", "/scim/v2/Users?filter="+url.QueryEscape(`title pr`), ""); status != 400 || body["scimType"] != "invalidFilter" {
			t.Errorf("unsupported filter: %d %v", status, body)
		}
		_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id+"?excludedAttributes=emails,name.familyName", "")
		if _, has := got["emails"]; has || got["locale"] != "en-GB" || got["name"].(map[string]any)["givenName"] != "Ada" || got["name"].(map[string]any)["familyName"] != nil {
			t.Errorf("get with excludedAttributes: %v", got)
		}
		// Entra: capitalised op, boolean as a string.
		status, patched, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
		if status != 200 || patched["active"] != false {
			t.Errorf("Entra deactivation: %d %v", status, patched)
		}
		status, patched, _ = alpha.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","value":{"name.givenName":"Augusta","active":true}},
			{"op":"replace","path":"emails[type eq \"work\"].value","value":"augusta@acme.example"},
			{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Analytics"}]}`)
		if status != 200 || patched["name"].(map[string]any)["givenName"] != "Augusta" || patched["name"].(map[string]any)["familyName"] != "Lovelace" || patched["active"] != true {
			t.Errorf("no-path and value-path patch: %d %v", status, patched)
		}
		if ext, _ := patched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any); ext["department"] != "Analytics" {
			t.Errorf("enterprise extension: %v", patched)
		}
		// Another account's token sees nothing of alpha's.
		if status, body, _ := beta.do("GET", "/scim/v2/Users/"+id, ""); status != 404 || body["status"] != "404" {
			t.Errorf("beta reads alpha's user: %d", status)
		}
		if status, _, _ := beta.do("DELETE", "/scim/v2/Users/"+id, ""); status != 404 {
			t.Errorf("beta deletes alpha's user: %d", status)
		}
		if _, list, _ := beta.do("GET", "/scim/v2/Users", ""); list["totalResults"] != float64(0) {
			t.Errorf("beta lists %v", list["totalResults"])
		}
		if status, _, _ := alpha.do("DELETE", "/scim/v2/Users/"+id, ""); status != 204 {
			t.Errorf("delete: %d", status)
		}
		if status, _, _ := alpha.do("GET", "/scim/v2/Users/"+id, ""); status != 404 {
			t.Errorf("after delete: %d", status)
		}
		if status, body, _ := alpha.do("GET", "/scim/v2/ServiceProviderConfig", ""); status != 200 || body["patch"].(map[string]any)["supported"] != true {
			t.Errorf("ServiceProviderConfig: %d %v", status, body)
		}
		if status, body, _ := alpha.do("POST", "/scim/v2/Users", `{"userName": "`+strings.Repeat("x", 2<<20)+`"}`); status != 413 || body["status"] != "413" {
			t.Errorf("oversized body: %d", status)
		}
		if status, body, _ := alpha.do("POST", "/scim/v2/Users", `{not json`); status != 400 || body["scimType"] != "invalidSyntax" {
			t.Errorf("bad JSON: %d %v", status, body)
		}
	})
}

func TestConcurrentCreatesOfOneUserName(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		const n = 50
		statuses := make(chan int, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				body := strings.Replace(oktaUser, `"externalId":"00u1abc"`, fmt.Sprintf(`"externalId":"00u%d"`, i), 1)
				status, _, _ := alpha.do("POST", "/scim/v2/Users", body)
				statuses <- status
			})
		}
		close(start)
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for st := range statuses {
			counts[st]++
		}
		if counts[201] != 1 || counts[409] != n-1 {
			t.Errorf("statuses %v; want one 201 and %d 409", counts, n-1)
		}
	})
}

// FuzzUserBody: whatever a client posts, the answer is a SCIM response
// (2xx or 4xx), never a 5xx.
func FuzzUserBody(f *testing.F) {
	for _, s := range []string{oktaUser, `{}`, `{"userName": 1}`, `{"active":"maybe","userName":"x@y.example"}`, `{"name.givenName":"a","userName":"z@y.example"}`, `[]`, `null`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"m@y.example","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"123"}}`,
		// The enterprise extension under OneLogin's name, under both, and
		// as an object beside a path into it; emails as one object.
		`{"userName":"o@y.example","urn:scim:schemas:extension:enterprise:2.0:department":"B"}`,
		`{"userName":"o@y.example","urn:scim:schemas:extension:enterprise:2.0":{"department":"B"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"A"}}`,
		`{"userName":"o@y.example","urn:scim:schemas:extension:enterprise:2.0":{"department":"B"},"URN:SCIM:schemas:extension:enterprise:2.0":{}}`,
		`{"userName":"o@y.example","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"A"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"B"}`,
		`{"userName":"o@y.example","name":{"givenName":"A"},"name.givenName":"B","emails":"x","emails.value":"y"}`,
		`{"userName":"o@y.example","emails":{"value":"o@y.example","primary":"True","type":"work","display.x":1}}`} {
		f.Add(s)
	}
	s := storetest.SQLite(f)
	alpha, _, _ := setup(f, s)
	f.Fuzz(func(t *testing.T, body string) {
		c := client{t, alpha.url, alpha.token}
		status, _, _ := c.do("POST", "/scim/v2/Users", body)
		if status >= 500 {
			t.Fatalf("body %q: %d", body, status)
		}
	})
}

// TestErrorsByKind: the answer to a refusal follows its kind, never its
// text, on every method the library serves.
func TestErrorsByKind(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "version.control@acme.example")
		if status, body, _ := alpha.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"version.control@acme.example"}`); status != 409 || body["scimType"] != "uniqueness" {
			t.Errorf("taken userName with 'version' in it: %d %v; want 409 uniqueness", status, body)
		}
		_, cur, hdr := alpha.do("GET", "/scim/v2/Users/"+id, "")
		stale := `W/"999"`
		for _, m := range []struct{ method, body string }{
			{"PATCH", fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"X"}`)},
			{"PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"version.control@acme.example"}`},
		} {
			if status, body, _ := alpha.do(m.method, "/scim/v2/Users/"+id, m.body, "If-Match", stale); status != 412 || body["status"] != "412" {
				t.Errorf("%s with a stale If-Match: %d %v; want 412", m.method, status, body)
			}
		}
		if status, body, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"X"}`), "If-Match", hdr.Get("ETag")); status != 200 {
			t.Errorf("PATCH with the current If-Match %s: %d %v (was %v)", hdr.Get("ETag"), status, body, cur["meta"])
		}
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"version 2"}`)
		if status != 201 {
			t.Fatalf("create group: %d %v", status, g)
		}
		if status, body, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"version 2"}`); status != 409 || body["scimType"] != "uniqueness" {
			t.Errorf("taken group name with 'version' in it: %d %v; want 409 uniqueness", status, body)
		}
		if status, body, _ := alpha.do("PATCH", "/scim/v2/Groups/"+g["id"].(string), fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"Y"}`), "If-Match", stale); status != 412 {
			t.Errorf("group PATCH with a stale If-Match: %d %v; want 412", status, body)
		}
	})
}

// TestProtocolRefusals: what the SCIM protocol itself refuses is answered
// in the SCIM error schema with its status, before anything changes.
func TestProtocolRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "ada@acme.example")
		big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@acme.example","title":"` + strings.Repeat("x", 1<<20) + `"}`
		for _, tc := range []struct {
			name, method, path, body string
			status                   int
			scimType                 string
		}{
			{"not JSON", "POST", "/scim/v2/Users", `{"userName":`, 400, "invalidSyntax"},
			{"two JSON values", "POST", "/scim/v2/Users", `{"userName":"a@acme.example"} {}`, 400, "invalidSyntax"},
			{"an array", "POST", "/scim/v2/Users", `[]`, 400, "invalidSyntax"},
			{"too large", "POST", "/scim/v2/Users", big, 413, ""},
			{"wrong type", "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b@acme.example","active":"maybe"}`, 400, "invalidValue"},
			{"PATCH without its schema", "PATCH", "/scim/v2/Users/" + id, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`, 400, "invalidValue"},
			{"PATCH without operations", "PATCH", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`, 400, "invalidValue"},
			{"PATCH of no attribute", "PATCH", "/scim/v2/Users/" + id, fmt.Sprintf(patchOp, `{"op":"replace","path":"shoeSize","value":"x"}`), 400, "invalidPath"},
			{"PATCH of a bad value", "PATCH", "/scim/v2/Users/" + id, fmt.Sprintf(patchOp, `{"op":"replace","path":"name.givenName","value":7}`), 400, "invalidValue"},
			{"PATCH remove without path", "PATCH", "/scim/v2/Users/" + id, fmt.Sprintf(patchOp, `{"op":"remove"}`), 400, "noTarget"},
			{"PATCH unknown op", "PATCH", "/scim/v2/Users/" + id, fmt.Sprintf(patchOp, `{"op":"merge","path":"title","value":"x"}`), 400, "invalidValue"},
			{"no such endpoint", "GET", "/scim/v2/Widgets", "", 404, ""},
			{"no such method", "POST", "/scim/v2/Users/" + id, "{}", 404, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body, _ := alpha.do(tc.method, tc.path, tc.body)
				if scimType, _ := body["scimType"].(string); status != tc.status || body["status"] != fmt.Sprint(tc.status) || scimType != tc.scimType {
					t.Errorf("%d %v; want %d %q", status, body, tc.status, tc.scimType)
				}
			})
		}
		if _, u, _ := alpha.do("GET", "/scim/v2/Users/"+id, ""); u["title"] != nil || u["userName"] != "ada@acme.example" {
			t.Errorf("a refused request changed the user: %v", u)
		}
		if _, list, _ := alpha.do("GET", "/scim/v2/Users", ""); list["totalResults"] != 1.0 {
			t.Errorf("a refused request made a user: %v", list)
		}
	})
}
