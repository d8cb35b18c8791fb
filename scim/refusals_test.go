package scim_test

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// joined joins n comparisons made by term with op.
func joined(n int, op string, term func(int) string) string {
	t := make([]string, n)
	for i := range t {
		t[i] = term(i)
	}
	return strings.Join(t, " "+op+" ")
}

// TestLargeFiltersAreRefused: a filter past directory's bounds is the
// client's mistake, answered 400 invalidFilter with the limit, on both
// databases alike, before any SQL: SQLite answered 1,000 or terms with
// "Expression tree is too large (maximum depth 1000)", PostgreSQL 20,000
// with "memory exhausted", both as a 500, and 100,000 parentheses
// overflowed the parser's stack, which ended the process.
func TestLargeFiltersAreRefused(t *testing.T) {
	t.Parallel()
	tooLarge := fmt.Sprintf("at most %d comparisons", directory.MaxFilterTerms)
	tooLong := fmt.Sprintf("strings of at most %d characters", directory.MaxFilterValue)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for _, resource := range []struct{ path, attr string }{{"/scim/v2/Users", "userName"}, {"/scim/v2/Groups", "displayName"}} {
			eq := func(i int) string { return fmt.Sprintf(`%s eq "a%d"`, resource.attr, i) }
			for _, tc := range []struct {
				name, filter, want string
			}{
				{"1,000 or", joined(1000, "or", eq), tooLarge},
				{"1,000 and", joined(1000, "and", eq), tooLarge},
				{"20,000 or", joined(20000, "or", func(i int) string { return fmt.Sprintf(`id eq "%d"`, i) }), tooLarge},
				{"101 or", joined(directory.MaxFilterTerms+1, "or", eq), tooLarge},
				{"parentheses 100,000 deep", strings.Repeat("(", 100000) + eq(0) + strings.Repeat(")", 100000), tooLarge},
				{"not 1,000 deep", strings.Repeat("not (", 1000) + eq(0) + strings.Repeat(")", 1000), tooLarge},
				{"a long value", fmt.Sprintf(`%s eq "%s"`, resource.attr, strings.Repeat("x", 100000)), tooLong},
			} {
				t.Run(strings.TrimPrefix(resource.path, "/scim/v2/")+" "+tc.name, func(t *testing.T) {
					status, body, _ := alpha.do("GET", resource.path+"?filter="+url.QueryEscape(tc.filter), "")
					detail, _ := body["detail"].(string)
					if status != 400 || body["status"] != "400" || body["scimType"] != "invalidFilter" || !strings.Contains(detail, tc.want) {
						t.Errorf("%d %v; want 400 invalidFilter saying %q", status, body, tc.want)
					}
				})
			}
			// At the limit, the filter is answered.
			status, body, _ := alpha.do("GET", resource.path+"?filter="+url.QueryEscape(joined(directory.MaxFilterTerms, "or", eq)), "")
			if status != 200 || body["totalResults"] != 0.0 {
				t.Errorf("%s with %d terms: %d %v", resource.path, directory.MaxFilterTerms, status, body)
			}
		}
	})
}

// TestUnreadableFilters: a filter that cannot be read is answered with
// where reading stopped and what was expected there, not with the parser's
// internals ("parse conflict [00:001]: expected op.Or or[func func func
// func] but got \"us\"").
func TestUnreadableFilters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for _, tc := range []struct{ path, filter, want string }{
			{"/scim/v2/Users", `userName eq`, `the filter cannot be read at character 12 (the end of the filter): expected a space and a value after eq: a string in quotes, a number, true, false or null`},
			{"/scim/v2/Groups", `displayName eq "Admins`, `the filter cannot be read at character 16 ("\"Admins"): expected a " to end the string that starts here`},
			{"/scim/v2/Users", `userName eq "a" und active eq true`, `the filter cannot be read at character 17 ("und"): expected and, or or the end of the filter`},
			// PostgreSQL refused these as parameters: a 500.
			{"/scim/v2/Users", `userName eq "a\u0000b"`, `userName compares with text: valid UTF-8 without NUL characters`},
			{"/scim/v2/Groups", "displayName sw \"\xff\"", `displayName compares with text: valid UTF-8 without NUL characters`},
		} {
			status, body, _ := alpha.do("GET", tc.path+"?filter="+url.QueryEscape(tc.filter), "")
			if status != 400 || body["scimType"] != "invalidFilter" || body["detail"] != tc.want {
				t.Errorf("%s: %d %v; want 400 invalidFilter %q", tc.filter, status, body, tc.want)
			}
		}
	})
}

// TestBodyRefusalsNameTheAttribute: a body the schema refuses is answered
// with the attribute at fault and what is wrong with it, where
// elimity-com/scim says only "A required value was missing, or the value
// specified was not compatible with the operation or attribute type, or
// resource schema".
func TestBodyRefusalsNameTheAttribute(t *testing.T) {
	t.Parallel()
	const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		id := createUser(t, alpha, "ada@acme.example")
		for _, tc := range []struct {
			name, method, path, body string
			scimType, detail         string
		}{
			{"POST without userName", "POST", "/scim/v2/Users", user + `,"emails":[{"value":"x@acme.example"}]}`, "invalidValue", "userName is required"},
			{"PUT without userName", "PUT", "/scim/v2/Users/" + id, user + `,"active":false}`, "invalidValue", "userName is required"},
			{"active as yes", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","active":"yes"}`, "invalidValue", "active must be true or false"},
			{"userName as a number", "POST", "/scim/v2/Users", user + `,"userName":7}`, "invalidValue", "userName must be a string"},
			{"name as a string", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","name":"Ada"}`, "invalidValue", "name must be an object"},
			{"a sub-attribute", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","name":{"givenName":["Ada"]}}`, "invalidValue", "name.givenName must be a string"},
			{"an email's primary", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","emails":[{"value":"b@acme.example","primary":"first"}]}`, "invalidValue", "emails.primary must be true or false"},
			{"an email that is no object", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","emails":["b@acme.example"]}`, "invalidValue", "each value of emails must be an object"},
			{"twice", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","USERNAME":"c@acme.example"}`, "invalidSyntax", "userName is given more than once (attribute names are compared without case)"},
			{"an extension attribute", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","` + enterprise + `":{"employeeNumber":42}}`, "invalidValue", enterprise + ":employeeNumber must be a string"},
			{"an extension that is no object", "POST", "/scim/v2/Users", user + `,"userName":"b@acme.example","` + enterprise + `":"R&D"}`, "invalidValue", enterprise + " must be an object of its attributes"},
			{"group POST without displayName", "POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"members":[]}`, "invalidValue", "displayName is required"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body, _ := alpha.do(tc.method, tc.path, tc.body)
				if status != 400 || body["status"] != "400" || body["scimType"] != tc.scimType || body["detail"] != tc.detail {
					t.Errorf("%d %v; want 400 %s %q", status, body, tc.scimType, tc.detail)
				}
			})
		}
		if _, u, _ := alpha.do("GET", "/scim/v2/Users/"+id, ""); u["active"] != true {
			t.Errorf("a refused PUT changed the user: %v", u)
		}
	})
}

// TestIfMatch: a change with an If-Match that names no current version,
// stale or not an entity tag at all, fails with 412 and changes nothing
// (RFC 7644 §3.14, RFC 7232 §3.1), on PATCH, PUT and DELETE of users and
// groups; "*", the current ETag, or a list holding it goes ahead.
func TestIfMatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for _, kind := range []struct {
			path, create, put, patch string
		}{
			{"/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"if-match@acme.example","title":"A"}`,
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"if-match@acme.example","title":"B"}`,
				fmt.Sprintf(patchOp, `{"op":"replace","path":"title","value":"C"}`)},
			{"/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"If-Match"}`,
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"If-Match B"}`,
				fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"If-Match C"}`)},
		} {
			status, created, _ := alpha.do("POST", kind.path, kind.create)
			if status != 201 {
				t.Fatalf("create: %d %v", status, created)
			}
			at := kind.path + "/" + created["id"].(string)
			current := func(t testing.TB) (string, map[string]any) {
				t.Helper()
				status, body, h := (client{t, alpha.url, alpha.token}).do("GET", at, "")
				if status != 200 {
					t.Fatalf("GET %s: %d %v", at, status, body)
				}
				return h.Get("ETag"), body
			}
			etag, before := current(t)
			strong := strings.TrimPrefix(etag, "W/")
			refused := []string{"garbage", `W/"999"`, `"999"`, `W/"abc"`, `W/` + strong[:len(strong)-1], `W/"1" garbage`, strong + `x`, `*, ` + etag, `W/"0` + etag[3:], ``}
			for _, m := range []struct{ method, body string }{{"PATCH", kind.patch}, {"PUT", kind.put}, {"DELETE", ""}} {
				for _, ifMatch := range refused {
					t.Run(fmt.Sprintf("%s %s If-Match %s", m.method, strings.TrimPrefix(kind.path, "/scim/v2/"), strings.ReplaceAll(ifMatch, "/", "")), func(t *testing.T) {
						status, body, _ := (client{t, alpha.url, alpha.token}).do(m.method, at, m.body, "If-Match", ifMatch)
						if status != 412 || body["status"] != "412" {
							t.Errorf("%d %v; want 412", status, body)
						}
						if after, body := current(t); after != etag || fmt.Sprint(body) != fmt.Sprint(before) {
							t.Errorf("a refused %s changed the resource: %s %v; was %s %v", m.method, after, body, etag, before)
						}
					})
				}
			}
			// What matches goes ahead.
			for i, ifMatch := range []func(etag string) string{
				func(etag string) string { return etag },
				func(etag string) string { return strings.TrimPrefix(etag, "W/") },
				func(string) string { return "*" },
				func(etag string) string { return `W/"999", ` + etag },
			} {
				etag, _ := current(t)
				m := []string{kind.patch, kind.put}[i%2]
				method := []string{"PATCH", "PUT"}[i%2]
				if status, body, _ := alpha.do(method, at+"?attributes=id", m, "If-Match", ifMatch(etag)); status != 200 {
					t.Errorf("%s %s with If-Match %s: %d %v", method, at, ifMatch(etag), status, body)
				}
			}
			etag, _ = current(t)
			if status, body, _ := alpha.do("DELETE", at, "", "If-Match", etag); status != 204 {
				t.Errorf("DELETE %s with the current ETag: %d %v", at, status, body)
			}
			if status, _, _ := alpha.do("DELETE", at, "", "If-Match", "*"); status != 404 {
				t.Errorf("DELETE of what is gone with If-Match *: %d; want 404", status)
			}
		}
	})
}

// TestRemovedEmailsAreOmitted: a user whose identity provider removed
// their emails is answered without emails (RFC 7643 §2.5: unassigned, null
// and [] are the same), never "emails": null, and not with the address
// they sign in with, which admit shows only for a user it was never sent
// emails for.
func TestRemovedEmailsAreOmitted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		alpha, _, _ := setup(t, s)
		for i, tc := range []struct{ name, method, body string }{
			{"PATCH remove by filter", "PATCH", fmt.Sprintf(patchOp, `{"op":"remove","path":"emails[type eq \"work\"]"}`)},
			{"PATCH clear the value", "PATCH", fmt.Sprintf(patchOp, `{"op":"replace","path":"emails[type eq \"work\"].value","value":""}`)},
			{"PATCH remove all", "PATCH", fmt.Sprintf(patchOp, `{"op":"remove","path":"emails"}`)},
			{"PATCH replace with none", "PATCH", fmt.Sprintf(patchOp, `{"op":"replace","path":"emails","value":[]}`)},
			{"PUT with none", "PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{mail}","emails":[]}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mail := fmt.Sprintf("emails%d@acme.example", i)
				id := createFrom(t, alpha, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,
					"emails":[{"value":%[1]q,"type":"work","primary":true}],"phoneNumbers":[]}`, mail))
				status, changed, _ := alpha.do(tc.method, "/scim/v2/Users/"+id, strings.ReplaceAll(tc.body, "{mail}", mail))
				_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
				_, list, _ := alpha.do("GET", "/scim/v2/Users?filter="+q(fmt.Sprintf("userName eq %q", mail)), "")
				listed, _ := list["Resources"].([]any)
				if status != 200 || len(listed) != 1 {
					t.Fatalf("%s: %d %v; listed %v", tc.method, status, changed, list)
				}
				// A later change of something else keeps them removed.
				_, later, _ := alpha.do("PATCH", "/scim/v2/Users/"+id, fmt.Sprintf(patchOp, `{"op":"replace","path":"title","value":"Later"}`))
				for what, res := range map[string]map[string]any{"answer": changed, "GET": got, "listing": listed[0].(map[string]any), "later change": later} {
					for _, attr := range []string{"emails", "phoneNumbers"} {
						if v, has := res[attr]; has {
							t.Errorf("the %s has %s: %v; want none", what, attr, v)
						}
					}
				}
			})
		}
		// Never sent emails: the address the person signs in with.
		id := createFrom(t, alpha, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"no-emails@acme.example"}`)
		_, got, _ := alpha.do("GET", "/scim/v2/Users/"+id, "")
		emailOf("work", "no-emails@acme.example")(t, got)
	})
}

// clock is a settable clock for the directory.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestChangeAnswersWithCurrentMeta: the answer to a change carries the
// meta a GET shows right after, lastModified included, also when the
// change touches only the profile (it answered with the lastModified of
// the change before).
func TestChangeAnswersWithCurrentMeta(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		clk := &clock{now: time.Date(2026, 12, 1, 8, 25, 59, 0, time.UTC)}
		alpha, _, _ := setupAt(t, s, clk.Now)
		uid := createUser(t, alpha, "meta@acme.example")
		status, g, _ := alpha.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Meta"}`)
		if status != 201 {
			t.Fatalf("create group: %d %v", status, g)
		}
		for _, tc := range []struct{ name, method, path, body string }{
			{"user PATCH of the profile", "PATCH", "/scim/v2/Users/" + uid, fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"Meta Data"}`)},
			{"user PATCH of active", "PATCH", "/scim/v2/Users/" + uid, fmt.Sprintf(patchOp, `{"op":"replace","path":"active","value":false}`)},
			{"user PUT", "PUT", "/scim/v2/Users/" + uid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"meta@acme.example","active":false,"title":"T"}`},
			{"group PATCH", "PATCH", "/scim/v2/Groups/" + g["id"].(string) + "?attributes=displayName", fmt.Sprintf(patchOp, `{"op":"replace","path":"displayName","value":"Meta 2"}`)},
			{"group PUT", "PUT", "/scim/v2/Groups/" + g["id"].(string), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Meta 3"}`},
		} {
			clk.add(10 * time.Second)
			status, changed, h := alpha.do(tc.method, tc.path, tc.body)
			_, got, gh := alpha.do("GET", strings.Split(tc.path, "?")[0], "")
			if status != 200 || fmt.Sprint(changed["meta"]) != fmt.Sprint(got["meta"]) || h.Get("ETag") != gh.Get("ETag") {
				t.Errorf("%s: %d meta %v, ETag %s; a GET then: meta %v, ETag %s", tc.name, status, changed["meta"], h.Get("ETag"), got["meta"], gh.Get("ETag"))
			}
			if lm := got["meta"].(map[string]any)["lastModified"]; lm != clk.Now().Format(time.RFC3339) {
				t.Errorf("%s: lastModified %v; want %s", tc.name, lm, clk.Now().Format(time.RFC3339))
			}
		}
	})
}

// TestDocumentationURI: /ServiceProviderConfig points at a page of the
// manual that is there.
func TestDocumentationURI(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	alpha, _, _ := setup(t, s)
	_, body, _ := alpha.do("GET", "/scim/v2/ServiceProviderConfig", "")
	uri, _ := body["documentationUri"].(string)
	const repo = "https://github.com/admit-dev/admit/blob/main/"
	page, anchor, _ := strings.Cut(strings.TrimPrefix(uri, repo), "#")
	if !strings.HasPrefix(uri, repo) || page == "" {
		t.Fatalf("documentationUri %q is no page of the repository", uri)
	}
	doc, err := os.ReadFile("../" + page)
	if err != nil {
		t.Fatalf("documentationUri %q: %v", uri, err)
	}
	if anchor == "" {
		return
	}
	for line := range strings.SplitSeq(string(doc), "\n") {
		if heading, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok && strings.HasPrefix(line, "#") &&
			strings.ReplaceAll(strings.ToLower(heading), " ", "-") == anchor {
			return
		}
	}
	t.Errorf("documentationUri %q: %s has no heading #%s", uri, page, anchor)
}
