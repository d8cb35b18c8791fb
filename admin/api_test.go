package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/directory/dnstest"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// apiSite serves the JSON API on a real listener over a fresh store, with
// two accounts (alpha, beta), a key of each and an operator key.
type apiSite struct {
	svc         *directory.Service
	server      *httptest.Server
	alpha, beta directory.Account
	keyA, keyB  string
	keyAID      string
	opKey       string
	dns         *dnstest.Server
	sealer      *certs.Sealer
}

func newAPISite(t *testing.T, s *store.Store) *apiSite {
	t.Helper()
	return newAPISiteWith(t, s, bulk.Spreadsheets{})
}

// newAPISiteWith is newAPISite with the spreadsheet reader of uploads.
func newAPISiteWith(t *testing.T, s *store.Store, sheets admin.SpreadsheetReader) *apiSite {
	t.Helper()
	ctx := context.Background()
	dns := dnstest.Start(t)
	svc := directory.NewService(directory.Config{Store: s, Resolver: dns.Resolver(), Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
	mux := http.NewServeMux()
	sealer, err := certs.NewSealer(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	// Test events go out through a worker whose clients look names up in
	// the test's DNS server, where the test's webhook hosts have no
	// address: each test event gets no answer, at once.
	clients := fetch.New(fetch.Config{Resolver: dns.Resolver()})
	sender := events.NewWorker(events.Config{Directory: svc, Client: clients, PublicClient: clients, Secrets: sealer, TestTimeout: 50 * time.Millisecond})
	admin.NewAPI(admin.APIConfig{Directory: svc, Imports: sheets, Secrets: events.Secrets{Sealer: sealer}, Sender: sender}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	site := &apiSite{svc: svc, server: srv, dns: dns, sealer: sealer}
	if site.alpha, err = svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "alpha", Name: "Alpha", Domains: []string{"alpha.test"}}); err != nil {
		t.Fatal(err)
	}
	if site.beta, err = svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "beta", Name: "Beta", Domains: []string{"beta.test"}}); err != nil {
		t.Fatal(err)
	}
	var k directory.APIKey
	if site.keyA, k, err = svc.CreateAPIKey(ctx, site.alpha.ID, operator, "alpha sync"); err != nil {
		t.Fatal(err)
	}
	site.keyAID = k.ID
	if site.keyB, _, err = svc.CreateAPIKey(ctx, site.beta.ID, operator, "beta sync"); err != nil {
		t.Fatal(err)
	}
	if site.opKey, _, err = svc.CreateAPIKey(ctx, "", operator, "provisioning"); err != nil {
		t.Fatal(err)
	}
	return site
}

// reply is an answer of the API.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// data returns the data of a listing.
func (r reply) data(t *testing.T) []map[string]any {
	t.Helper()
	var l struct {
		Data []map[string]any `json:"data"`
		Next *string          `json:"next"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return l.Data
}

func (r reply) next(t *testing.T) string {
	t.Helper()
	var l struct {
		Next *string `json:"next"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Next == nil {
		return ""
	}
	return *l.Next
}

// do sends a request with key (none when empty) and body (a string sent as
// it is, anything else as JSON).
func (s *apiSite) do(t *testing.T, method, path, key string, body any, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// wantProblem checks that r is an RFC 9457 problem with status and code.
func wantProblem(t *testing.T, what string, r reply, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status %d; want %d (%s)", what, r.status, status, r.body)
		return nil
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q; want application/problem+json", what, ct)
	}
	p := r.json(t)
	if p["status"] != float64(status) || p["type"] != "about:blank" || p["title"] == "" || p["detail"] == "" || (code != "" && p["code"] != code) {
		t.Errorf("%s: problem %v; want status %d, code %s", what, p, status, code)
	}
	return p
}

func TestAPIAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		for _, tc := range []struct{ name, header string }{
			{"no key", ""},
			{"not bearer", "Basic " + site.keyA},
			{"unknown key", "Bearer admit_ak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			{"a SCIM token", "Bearer admit_scim_" + strings.TrimPrefix(site.keyA, "admit_ak_")},
			{"a session cookie only", ""},
		} {
			req, _ := http.NewRequest("GET", site.server.URL+"/api/v1/accounts/alpha/members", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			if tc.name == "a session cookie only" {
				req.AddCookie(&http.Cookie{Name: "admit_session", Value: "x"})
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := reply{resp.StatusCode, resp.Header, b}
			wantProblem(t, tc.name, r, 401, "unauthenticated")
			if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
				t.Errorf("%s: WWW-Authenticate %q", tc.name, h)
			}
		}
		if r := site.do(t, "GET", "/api/v1/accounts/alpha", site.keyA, nil); r.status != 200 {
			t.Fatalf("good key: %d %s", r.status, r.body)
		}
		if _, err := site.svc.RevokeAPIKey(ctx, site.alpha.ID, operator, site.keyAID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "revoked key", site.do(t, "GET", "/api/v1/accounts/alpha", site.keyA, nil), 401, "unauthenticated")
		// The document needs no key.
		if r := site.do(t, "GET", "/api/v1/openapi.json", "", nil); r.status != 200 || r.json(t)["openapi"] != "3.1.0" {
			t.Errorf("openapi.json: %d", r.status)
		}
	})
}

func TestAPIAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		r := site.do(t, "POST", "/api/v1/accounts", site.opKey, map[string]any{"slug": "gamma", "name": "Gamma", "domains": []string{"gamma.test"}})
		if r.status != 201 || r.json(t)["slug"] != "gamma" || r.header.Get("Location") != "/api/v1/accounts/gamma" {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		wantProblem(t, "duplicate slug", site.do(t, "POST", "/api/v1/accounts", site.opKey, map[string]any{"slug": "gamma", "name": "G"}), 409, "conflict")
		p := wantProblem(t, "bad slug", site.do(t, "POST", "/api/v1/accounts", site.opKey, map[string]any{"slug": "Not A Slug", "name": ""}), 400, "invalid")
		if errs, _ := p["errors"].([]any); len(errs) < 2 {
			t.Errorf("every reason listed: %v", p["errors"])
		}
		wantProblem(t, "an account's key creates", site.do(t, "POST", "/api/v1/accounts", site.keyA, map[string]any{"slug": "delta", "name": "D"}), 403, "forbidden")
		// Each listed with its active owners: alpha has one (a deactivated
		// owner is none), the others none.
		for email, status := range map[string]directory.Status{"olive@alpha.test": directory.StatusActive, "dora@alpha.test": directory.StatusDeactivated} {
			added, err := site.svc.AddUser(context.Background(), site.alpha.ID, operator, directory.NewUser{Email: email, FirstName: "O", LastName: "L", Role: directory.RoleOwner})
			if err != nil {
				t.Fatal(err)
			}
			if status != directory.StatusActive {
				if _, err := s.SetMembershipStatus(context.Background(), site.alpha.ID, added.Member.User.ID, status, time.Now().UTC()); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := site.do(t, "GET", "/api/v1/accounts", site.opKey, nil).data(t)
		owners := map[string]any{}
		for _, a := range got {
			owners[a["slug"].(string)] = a["owners"]
		}
		if want := map[string]any{"alpha": float64(1), "beta": float64(0), "gamma": float64(0)}; !maps.Equal(owners, want) {
			t.Errorf("operator lists owners %v; want %v", owners, want)
		}
		if got := site.do(t, "GET", "/api/v1/accounts", site.keyA, nil).data(t); len(got) != 1 || got[0]["slug"] != "alpha" || got[0]["owners"] != float64(1) {
			t.Errorf("alpha's key lists %v; want alpha only, with 1 owner", got)
		}
		if r := site.do(t, "GET", "/api/v1/accounts/gamma", site.opKey, nil); r.status != 200 || r.json(t)["name"] != "Gamma" {
			t.Errorf("operator gets gamma: %d %s", r.status, r.body)
		}
	})
}

func TestAPIMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		base := "/api/v1/accounts/alpha/members"
		r := site.do(t, "POST", base, site.keyA, map[string]any{"email": "ann@alpha.test", "first_name": "Ann", "last_name": "Lee", "password": "Correct-Horse-7-battery"})
		if r.status != 201 {
			t.Fatalf("add with password: %d %s", r.status, r.body)
		}
		ann := r.json(t)
		if ann["status"] != "active" || ann["role"] != "member" || ann["source"] != "admin" || r.header.Get("Location") != base+"/"+ann["id"].(string) {
			t.Errorf("added: %v, Location %s", ann, r.header.Get("Location"))
		}
		r = site.do(t, "POST", base, site.keyA, map[string]any{"email": "bob@alpha.test", "first_name": "Bob", "last_name": "Ng", "invite": true, "role": "admin"})
		if r.status != 201 || r.json(t)["status"] != "invited" || r.json(t)["role"] != "admin" {
			t.Fatalf("add with invitation: %d %s", r.status, r.body)
		}
		bob := r.json(t)
		wantProblem(t, "already a member", site.do(t, "POST", base, site.keyA, map[string]any{"email": "ann@alpha.test", "first_name": "A", "last_name": "L"}), 409, "conflict")
		wantProblem(t, "bad email", site.do(t, "POST", base, site.keyA, map[string]any{"email": "not an email", "first_name": "A", "last_name": "L"}), 400, "invalid")
		wantProblem(t, "password and invite", site.do(t, "POST", base, site.keyA, map[string]any{"email": "c@alpha.test", "password": "x", "invite": true}), 400, "invalid")
		// An account's key is an admin: it cannot make an owner.
		wantProblem(t, "add an owner", site.do(t, "POST", base, site.keyA, map[string]any{"email": "own@alpha.test", "first_name": "O", "last_name": "W", "role": "owner"}), 403, "forbidden")
		for i := range 5 {
			if _, err := site.svc.AddUser(ctx, site.alpha.ID, operator, directory.NewUser{Email: fmt.Sprintf("p%d@alpha.test", i), FirstName: "P", LastName: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		// Keyset pages: every member once, in email order.
		var emails []string
		after := ""
		for range 10 {
			r := site.do(t, "GET", base+"?limit=3&after="+after, site.keyA, nil)
			if r.status != 200 {
				t.Fatalf("page: %d %s", r.status, r.body)
			}
			for _, m := range r.data(t) {
				emails = append(emails, m["email"].(string))
			}
			if after = r.next(t); after == "" {
				break
			}
		}
		want := "ann@alpha.test bob@alpha.test p0@alpha.test p1@alpha.test p2@alpha.test p3@alpha.test p4@alpha.test"
		if got := strings.Join(emails, " "); got != want {
			t.Errorf("pages:\n got %s\nwant %s", got, want)
		}
		if got := site.do(t, "GET", base+"?search=BO", site.keyA, nil).data(t); len(got) != 1 || got[0]["email"] != "bob@alpha.test" {
			t.Errorf("search bo: %v", got)
		}
		if got := site.do(t, "GET", base+"?status=invited", site.keyA, nil).data(t); len(got) != 1 {
			t.Errorf("invited: %v", got)
		}
		if got := site.do(t, "GET", base+"?source=admin&status=active", site.keyA, nil).data(t); len(got) != 6 {
			t.Errorf("active, added by an admin: %d; want 6", len(got))
		}
		wantProblem(t, "bad status", site.do(t, "GET", base+"?status=gone", site.keyA, nil), 400, "invalid")
		wantProblem(t, "bad limit", site.do(t, "GET", base+"?limit=0", site.keyA, nil), 400, "invalid")
		wantProblem(t, "bad cursor", site.do(t, "GET", base+"?after=bm9wZQ", site.keyA, nil), 400, "invalid")
		wantProblem(t, "bad never_signed_in", site.do(t, "GET", base+"?never_signed_in=maybe", site.keyA, nil), 400, "invalid")

		annURL := base + "/" + ann["id"].(string)
		if r := site.do(t, "GET", annURL, site.keyA, nil); r.status != 200 || r.json(t)["email"] != "ann@alpha.test" {
			t.Errorf("get: %d %s", r.status, r.body)
		}
		wantProblem(t, "no such member", site.do(t, "GET", base+"/nope", site.keyA, nil), 404, "not_found")
		if r := site.do(t, "PATCH", annURL, site.keyA, map[string]any{"role": "admin"}); r.status != 200 || r.json(t)["role"] != "admin" {
			t.Errorf("change role: %d %s", r.status, r.body)
		}
		wantProblem(t, "no such role", site.do(t, "PATCH", annURL, site.keyA, map[string]any{"role": "king"}), 400, "invalid")
		wantProblem(t, "make an owner", site.do(t, "PATCH", annURL, site.keyA, map[string]any{"role": "owner"}), 403, "forbidden")
		wantProblem(t, "no role", site.do(t, "PATCH", annURL, site.keyA, map[string]any{}), 400, "invalid")
		if r := site.do(t, "POST", annURL+"/deactivate", site.keyA, nil); r.status != 200 || r.json(t)["status"] != "deactivated" {
			t.Errorf("deactivate: %d %s", r.status, r.body)
		}
		wantProblem(t, "reset link of a deactivated member", site.do(t, "POST", annURL+"/send-reset-link", site.keyA, nil), 409, "conflict")
		if r := site.do(t, "POST", annURL+"/reactivate", site.keyA, nil); r.status != 200 || r.json(t)["status"] != "active" {
			t.Errorf("reactivate: %d %s", r.status, r.body)
		}
		if r := site.do(t, "POST", annURL+"/send-reset-link", site.keyA, nil); r.status != 202 {
			t.Errorf("reset link: %d %s", r.status, r.body)
		}
		bobURL := base + "/" + bob["id"].(string)
		if r := site.do(t, "POST", bobURL+"/resend-invitation", site.keyA, nil); r.status != 200 || r.json(t)["sends"] != float64(2) {
			t.Errorf("resend: %d %s", r.status, r.body)
		}
		wantProblem(t, "resend to an active member", site.do(t, "POST", annURL+"/resend-invitation", site.keyA, nil), 409, "conflict")
		if r := site.do(t, "DELETE", annURL, site.keyA, nil); r.status != 204 {
			t.Errorf("remove: %d %s", r.status, r.body)
		}
		wantProblem(t, "removed", site.do(t, "GET", annURL, site.keyA, nil), 404, "not_found")

		// The audit log names the key.
		evs, err := site.svc.AuditTrail(ctx, site.alpha.ID, "", "membership.deleted", time.Time{}, 10)
		if err != nil || len(evs) != 1 || evs[0].Actor.Source != directory.SourceAPIKey || evs[0].Actor.Name != "alpha sync" || evs[0].Actor.ID != site.keyAID {
			t.Errorf("audit of the removal: %+v, %v", evs, err)
		}
	})
}

// A key of one account reaches nothing of another: the account, its
// members, invitations and tokens are 404 whatever the path says.
func TestAPIIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		added, err := site.svc.AddUser(ctx, site.beta.ID, operator, directory.NewUser{Email: "bea@beta.test", FirstName: "Bea", LastName: "B"})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := site.svc.Invite(ctx, site.beta.ID, operator, directory.NewInvitation{Email: "ben@beta.test"})
		if err != nil {
			t.Fatal(err)
		}
		_, tok, err := site.svc.CreateSCIMToken(ctx, site.beta.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		bea, beaUser := added.Member.Membership.ID, added.Member.User.ID
		for _, tc := range []struct{ method, path string }{
			{"GET", "/api/v1/accounts/beta"},
			{"GET", "/api/v1/accounts/" + site.beta.ID},
			{"GET", "/api/v1/accounts/" + site.beta.ID + "/members/" + beaUser},
			{"GET", "/api/v1/accounts/alpha/members/" + beaUser},
			{"DELETE", "/api/v1/accounts/" + site.alpha.ID + "/members/" + beaUser},
			{"GET", "/api/v1/accounts/beta/members"},
			{"POST", "/api/v1/accounts/beta/members"},
			{"GET", "/api/v1/accounts/beta/members/" + bea},
			{"GET", "/api/v1/accounts/alpha/members/" + bea},
			{"PATCH", "/api/v1/accounts/alpha/members/" + bea},
			{"DELETE", "/api/v1/accounts/alpha/members/" + bea},
			{"POST", "/api/v1/accounts/alpha/members/" + bea + "/deactivate"},
			{"POST", "/api/v1/accounts/alpha/members/" + bea + "/sign-out"},
			{"POST", "/api/v1/accounts/alpha/members/" + bea + "/send-reset-link"},
			{"POST", "/api/v1/accounts/alpha/invitations/" + inv.ID + "/resend"},
			{"DELETE", "/api/v1/accounts/alpha/invitations/" + inv.ID},
			{"GET", "/api/v1/accounts/beta/audit-events"},
			{"GET", "/api/v1/accounts/beta/scim-tokens"},
			{"GET", "/api/v1/accounts/beta/domains"},
			{"GET", "/api/v1/events?account=beta"},
		} {
			var body any
			if tc.method == "PATCH" {
				body = map[string]any{"role": "admin"}
			}
			wantProblem(t, tc.method+" "+tc.path, site.do(t, tc.method, tc.path, site.keyA, body), 404, "not_found")
		}
		// Revoking beta's SCIM token through alpha is refused before the id
		// is even looked up: an account's key may not revoke tokens at all.
		wantProblem(t, "revoke beta's token", site.do(t, "DELETE", "/api/v1/accounts/alpha/scim-tokens/"+tok.ID, site.keyA, nil), 403, "forbidden")
		wantProblem(t, "beta's token through alpha, by the operator key", site.do(t, "DELETE", "/api/v1/accounts/alpha/scim-tokens/"+tok.ID, site.opKey, nil), 404, "not_found")
		if toks, err := site.svc.SCIMTokens(ctx, site.beta.ID); err != nil || len(toks) != 1 || toks[0].RevokedAt != nil {
			t.Errorf("beta's SCIM token after alpha's attempt: %+v, %v", toks, err)
		}
		// Nothing of beta changed.
		m, err := site.svc.Member(ctx, site.beta.ID, "bea@beta.test")
		if err != nil || m.Membership.Status != directory.StatusActive || m.Membership.Role != directory.RoleMember {
			t.Errorf("bea: %+v, %v", m.Membership, err)
		}
		// beta's own key and the operator key do reach it, by the ids
		// events name the account and the person by too.
		for _, key := range []string{site.keyB, site.opKey} {
			for _, path := range []string{"/api/v1/accounts/beta/members/" + bea, "/api/v1/accounts/" + site.beta.ID + "/members/" + beaUser} {
				if r := site.do(t, "GET", path, key, nil); r.status != 200 || r.json(t)["id"] != bea {
					t.Errorf("beta's member at %s with a key that may: %d %s", path, r.status, r.body)
				}
			}
		}
	})
}

func TestAPIInvitationsTokensDomainsRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		acct := "/api/v1/accounts/alpha"
		r := site.do(t, "POST", acct+"/invitations", site.keyA, map[string]any{"email": "cy@alpha.test", "role": "admin"})
		if r.status != 201 {
			t.Fatalf("invite: %d %s", r.status, r.body)
		}
		id := r.json(t)["id"].(string)
		wantProblem(t, "invite again", site.do(t, "POST", acct+"/invitations", site.keyA, map[string]any{"email": "cy@alpha.test"}), 409, "conflict")
		if got := site.do(t, "GET", acct+"/invitations", site.keyA, nil).data(t); len(got) != 1 || got[0]["id"] != id {
			t.Errorf("invitations: %v", got)
		}
		if r := site.do(t, "POST", acct+"/invitations/"+id+"/resend", site.keyA, nil); r.status != 200 || r.json(t)["sends"] != float64(2) {
			t.Errorf("resend: %d %s", r.status, r.body)
		}
		if r := site.do(t, "DELETE", acct+"/invitations/"+id, site.keyA, nil); r.status != 200 || r.json(t)["status"] != "revoked" {
			t.Errorf("revoke: %d %s", r.status, r.body)
		}
		wantProblem(t, "resend a revoked invitation", site.do(t, "POST", acct+"/invitations/"+id+"/resend", site.keyA, nil), 404, "not_found")
		wantProblem(t, "no such invitation", site.do(t, "DELETE", acct+"/invitations/nope", site.keyA, nil), 404, "not_found")

		// SCIM tokens and domains are the owners' in the console, and so
		// here: an account's key (an admin) reads them but cannot change
		// them; the operator key, an owner anywhere, can.
		wantProblem(t, "an admin's key makes a SCIM token", site.do(t, "POST", acct+"/scim-tokens", site.keyA, map[string]any{"name": "Okta"}), 403, "forbidden")
		wantProblem(t, "an admin's key claims a domain", site.do(t, "POST", acct+"/domains", site.keyA, map[string]any{"name": "example.net"}), 403, "forbidden")
		wantProblem(t, "an admin's key withdraws a domain", site.do(t, "DELETE", acct+"/domains/alpha.test", site.keyA, nil), 403, "forbidden")
		r = site.do(t, "POST", acct+"/scim-tokens", site.opKey, map[string]any{"name": "Okta"})
		if r.status != 201 || !strings.HasPrefix(fmt.Sprint(r.json(t)["token"]), "admit_scim_") {
			t.Fatalf("SCIM token: %d %s", r.status, r.body)
		}
		tokID := r.json(t)["id"].(string)
		list := site.do(t, "GET", acct+"/scim-tokens", site.opKey, nil)
		if got := list.data(t); len(got) != 1 || got[0]["token"] != nil {
			t.Errorf("tokens list shows the token: %s", list.body)
		}
		if r := site.do(t, "DELETE", acct+"/scim-tokens/"+tokID, site.opKey, nil); r.status != 200 || r.json(t)["revoked_at"] == nil {
			t.Errorf("revoke token: %d %s", r.status, r.body)
		}

		r = site.do(t, "POST", acct+"/domains", site.opKey, map[string]any{"name": "Example.ORG"})
		if r.status != 201 || r.json(t)["name"] != "example.org" || r.json(t)["verified"] != false || r.json(t)["record_name"] != "_admit-challenge.example.org" {
			t.Fatalf("add domain: %d %s", r.status, r.body)
		}
		wantProblem(t, "bad domain", site.do(t, "POST", acct+"/domains", site.opKey, map[string]any{"name": "not a domain"}), 400, "invalid")
		wantProblem(t, "verify before the record is published", site.do(t, "POST", acct+"/domains/example.org/verify", site.opKey, nil), 400, "invalid")
		site.dns.SetTXT("_admit-challenge.example.org", r.json(t)["record_value"].(string))
		if v := site.do(t, "POST", acct+"/domains/example.org/verify", site.opKey, nil); v.status != 200 || v.json(t)["verified"] != true {
			t.Errorf("verify: %d %s", v.status, v.body)
		}
		wantProblem(t, "verify an unclaimed domain", site.do(t, "POST", acct+"/domains/unclaimed.org/verify", site.opKey, nil), 404, "not_found")
		if got := site.do(t, "GET", acct+"/domains", site.opKey, nil).data(t); len(got) != 2 {
			t.Errorf("domains: %v", got)
		}
		if r := site.do(t, "DELETE", acct+"/domains/example.org", site.opKey, nil); r.status != 204 {
			t.Errorf("remove domain: %d %s", r.status, r.body)
		}

		if got := site.do(t, "GET", acct+"/roles", site.keyA, nil).data(t); len(got) != 3 || got[0]["name"] != "owner" || got[0]["builtin"] != true {
			t.Errorf("roles: %v", got)
		}
	})
}

func TestAPIAuditEventsPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		for i := range 5 {
			if _, err := site.svc.AddUser(ctx, site.alpha.ID, operator, directory.NewUser{Email: fmt.Sprintf("p%d@alpha.test", i), FirstName: "P", LastName: "Q"}); err != nil {
				t.Fatal(err)
			}
		}
		path := "/api/v1/accounts/alpha/audit-events?action=membership.created&limit=2"
		seen := map[string]bool{}
		after := ""
		for range 10 {
			r := site.do(t, "GET", path+"&after="+after, site.keyA, nil)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, e := range r.data(t) {
				if e["action"] != "membership.created" || seen[e["id"].(string)] {
					t.Errorf("event %v", e)
				}
				seen[e["id"].(string)] = true
			}
			if after = r.next(t); after == "" {
				break
			}
		}
		if len(seen) != 5 {
			t.Errorf("%d events over the pages; want 5", len(seen))
		}
		if got := site.do(t, "GET", "/api/v1/accounts/alpha/audit-events?person=p3@alpha.test", site.keyA, nil).data(t); len(got) == 0 {
			t.Error("no events about p3")
		}
		if got := site.do(t, "GET", "/api/v1/accounts/alpha/audit-events?person=nobody@x.test", site.keyA, nil).data(t); len(got) != 0 {
			t.Errorf("events of nobody: %v", got)
		}
		wantProblem(t, "bad since", site.do(t, "GET", "/api/v1/accounts/alpha/audit-events?since=yesterday", site.keyA, nil), 400, "invalid")
		wantProblem(t, "bad cursor", site.do(t, "GET", "/api/v1/accounts/alpha/audit-events?after=xyz", site.keyA, nil), 400, "invalid")
		// An action the account's trail never recorded is refused, with
		// the nearest it did; one it did is an empty page when nothing
		// matches.
		if p := wantProblem(t, "unknown action", site.do(t, "GET", "/api/v1/accounts/alpha/audit-events?action=membership.craeted", site.keyA, nil), 400, "invalid"); p != nil && !strings.Contains(p["detail"].(string), "membership.created") {
			t.Errorf("unknown action: detail %q names no recorded action", p["detail"])
		}
		if r := site.do(t, "GET", "/api/v1/accounts/alpha/audit-events?action=membership.created&since=2999-01-01T00:00:00Z", site.keyA, nil); r.status != 200 || len(r.data(t)) != 0 {
			t.Errorf("recorded action, none since: %d %s", r.status, r.body)
		}
	})
}

// The events feed is ordered and resumable, and scoped to the key.
func TestAPIEventsFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		ctx := context.Background()
		for i := range 3 {
			for _, a := range []directory.Account{site.alpha, site.beta} {
				if _, err := site.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: fmt.Sprintf("p%d@%s.test", i, a.Slug), FirstName: "P", LastName: "Q"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		read := func(key, query string) ([]map[string]any, string) {
			r := site.do(t, "GET", "/api/v1/events"+query, key, nil)
			if r.status != 200 {
				t.Fatalf("events%s: %d %s", query, r.status, r.body)
			}
			return r.data(t), r.next(t)
		}
		all, _ := read(site.keyA, "")
		for _, e := range all {
			if e["account"] != site.alpha.ID {
				t.Errorf("alpha's key reads another account's event: %v", e)
			}
		}
		if len(all) != 6 { // user.created and membership.created, three times
			t.Fatalf("alpha's events: %d; want 6", len(all))
		}
		// Resuming after each page gives the same events, in order.
		var paged []any
		after := "0"
		for range 10 {
			evs, next := read(site.keyA, "?limit=4&after="+after)
			for _, e := range evs {
				paged = append(paged, e["id"])
			}
			if len(evs) == 0 {
				if next != after {
					t.Errorf("next %q at the end; want the after given, %q", next, after)
				}
				break
			}
			after = next
		}
		if len(paged) != 6 || paged[0] != all[0]["id"] || paged[5] != all[5]["id"] {
			t.Errorf("paged %v", paged)
		}
		if ops, _ := read(site.opKey, ""); len(ops) != 12 {
			t.Errorf("operator's events: %d; want 12", len(ops))
		}
		if ops, _ := read(site.opKey, "?account=beta"); len(ops) != 6 || ops[0]["account"] != site.beta.ID {
			t.Errorf("operator's beta events: %d", len(ops))
		}
		// A change made with the key is an event whose actor is the key.
		if r := site.do(t, "POST", "/api/v1/accounts/alpha/members", site.keyA, map[string]any{"email": "new@alpha.test", "first_name": "N", "last_name": "W"}); r.status != 201 {
			t.Fatal(r.status)
		}
		evs, _ := read(site.keyA, "?after="+after)
		if len(evs) != 2 || evs[1]["actor"].(map[string]any)["type"] != "api_key" {
			t.Errorf("events of the key's change: %v", evs)
		}
		wantProblem(t, "bad cursor", site.do(t, "GET", "/api/v1/events?after=-1", site.keyA, nil), 400, "invalid")
		// A reader that cannot resume where it was is told so, rather than
		// handed what follows: a cursor past the end of the feed (a
		// database restored from an older backup), or before events swept.
		wantProblem(t, "a cursor past the end", site.do(t, "GET", "/api/v1/events?after=999999", site.keyA, nil), 409, "conflict")
		if _, err := site.svc.SweepEvents(ctx, time.Nanosecond); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "a cursor before events swept", site.do(t, "GET", "/api/v1/events?after=1", site.opKey, nil), 410, "gone")
		if evs, _ := read(site.keyA, "?after=0"); len(evs) != 0 {
			t.Errorf("everything swept, from 0: %d events; want none", len(evs))
		}
	})
}

func TestAPIBadRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		path := "/api/v1/accounts/alpha/members"
		for _, tc := range []struct {
			name, body string
			headers    []string
			status     int
			code       string
		}{
			{"malformed", `{"email": `, nil, 400, "invalid"},
			{"unknown field", `{"email": "a@alpha.test", "admin": true}`, nil, 400, "invalid"},
			{"wrong type", `{"email": 5}`, nil, 400, "invalid"},
			{"an array", `[]`, nil, 400, "invalid"},
			{"two objects", `{"email": "a@alpha.test"} {}`, nil, 400, "invalid"},
			{"not JSON", `email=a@alpha.test`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
			{"too large", `{"email": "` + strings.Repeat("a", admin.MaxAPIBody) + `"}`, nil, 413, "too_large"},
		} {
			wantProblem(t, tc.name, site.do(t, "POST", path, site.keyA, tc.body, tc.headers...), tc.status, tc.code)
		}
		wantProblem(t, "unknown operation", site.do(t, "GET", "/api/v1/nothing", site.keyA, nil), 404, "not_found")
		wantProblem(t, "unknown operation without a key", site.do(t, "GET", "/api/v1/nothing", "", nil), 401, "unauthenticated")
		if n, err := site.svc.CountMembers(context.Background(), site.alpha.ID, ""); err != nil || n != 0 {
			t.Errorf("a refused request added %d members (%v)", n, err)
		}
	})
}

func TestAPIIdempotencyKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		site := newAPISite(t, s)
		path := "/api/v1/accounts/alpha/members"
		body := `{"email": "ann@alpha.test", "first_name": "Ann", "last_name": "Lee"}`
		first := site.do(t, "POST", path, site.keyA, body, "Idempotency-Key", "k-1")
		if first.status != 201 || first.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		again := site.do(t, "POST", path, site.keyA, body, "Idempotency-Key", "k-1")
		if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("Location") != first.header.Get("Location") {
			t.Errorf("retry: %d %s %v", again.status, again.body, again.header)
		}
		if n, _ := site.svc.CountMembers(context.Background(), site.alpha.ID, ""); n != 1 {
			t.Errorf("%d members after a retry; want 1", n)
		}
		wantProblem(t, "same key, another body", site.do(t, "POST", path, site.keyA, `{"email": "bob@alpha.test", "first_name": "B", "last_name": "N"}`, "Idempotency-Key", "k-1"), 422, "idempotency_key_reused")
		// Without the key, the same body is a new request: a conflict.
		wantProblem(t, "no key", site.do(t, "POST", path, site.keyA, body), 409, "conflict")
		// A refusal is kept too: the retry gets the same refusal.
		bad := `{"email": "nope"}`
		r1 := site.do(t, "POST", path, site.keyA, bad, "Idempotency-Key", "k-2")
		r2 := site.do(t, "POST", path, site.keyA, bad, "Idempotency-Key", "k-2")
		if r1.status != 400 || r2.status != 400 || !bytes.Equal(r1.body, r2.body) || r2.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("refusal replay: %d %d %s", r1.status, r2.status, r2.body)
		}
		// Keys are the API key's own: beta's k-1 is another request.
		if r := site.do(t, "POST", "/api/v1/accounts/beta/members", site.keyB, `{"email": "bea@beta.test", "first_name": "B", "last_name": "B"}`, "Idempotency-Key", "k-1"); r.status != 201 {
			t.Errorf("beta's k-1: %d %s", r.status, r.body)
		}
		wantProblem(t, "an overlong key", site.do(t, "POST", path, site.keyA, body, "Idempotency-Key", strings.Repeat("k", 300)), 400, "invalid")
		// A SCIM token is shown once: the record keeps no copy of it, and
		// a retry is told so instead (rule 5: secrets are kept as hashes).
		tokens := "/api/v1/accounts/alpha/scim-tokens"
		made := site.do(t, "POST", tokens, site.opKey, `{"name": "Okta"}`, "Idempotency-Key", "k-3")
		if made.status != 201 || !strings.Contains(string(made.body), "admit_scim_") {
			t.Fatalf("SCIM token: %d %s", made.status, made.body)
		}
		retry := wantProblem(t, "a retry of a secret", site.do(t, "POST", tokens, site.opKey, `{"name": "Okta"}`, "Idempotency-Key", "k-3"), 409, "shown_once")
		tokenID := made.json(t)["id"].(string)
		if d, _ := retry["detail"].(string); !strings.Contains(d, tokenID) || !strings.Contains(d, `named "Okta"`) {
			t.Errorf("a retry of a SCIM token says %q; want the token's id and name", d)
		}
		// A webhook's secret too; a webhook has no name, so the retry's
		// answer names the webhook itself, and how to get a new secret.
		hooks := "/api/v1/accounts/alpha/webhooks"
		hook := site.do(t, "POST", hooks, site.opKey, `{"url": "https://hooks.alpha.test/once"}`, "Idempotency-Key", "k-4")
		if hook.status != 201 || !strings.Contains(string(hook.body), "whsec_") {
			t.Fatalf("webhook: %d %s", hook.status, hook.body)
		}
		hookID := hook.json(t)["id"].(string)
		for _, tc := range []struct{ what, path, body, key string }{
			{"a retry of a webhook add", hooks, `{"url": "https://hooks.alpha.test/once"}`, "k-4"},
			{"a retry of a rotation", hooks + "/" + hookID + "/rotate-secret", `{}`, "k-5"},
		} {
			if tc.key == "k-5" {
				if r := site.do(t, "POST", tc.path, site.opKey, tc.body, "Idempotency-Key", tc.key); r.status != 200 {
					t.Fatalf("rotate: %d %s", r.status, r.body)
				}
			}
			p := wantProblem(t, tc.what, site.do(t, "POST", tc.path, site.opKey, tc.body, "Idempotency-Key", tc.key), 409, "shown_once")
			if d, _ := p["detail"].(string); !strings.Contains(d, hookID) || !strings.Contains(d, "rotate") || strings.Contains(d, "by name") {
				t.Errorf("%s says %q; want the webhook's id and how to rotate its secret, not a name it has not", tc.what, d)
			}
		}
		var kept int
		if err := s.DB().Get(&kept, `SELECT COUNT(*) FROM idempotency_keys WHERE CAST(response AS TEXT) LIKE '%admit_scim_%' OR CAST(response AS TEXT) LIKE '%YWRtaXRfc2NpbV%'`); err != nil || kept != 0 {
			t.Errorf("%d idempotency records keep the SCIM token (%v)", kept, err)
		}
		// The query is part of the request a retry must repeat.
		wantProblem(t, "same key and body, another query", site.do(t, "POST", path+"?x=1", site.keyA, body, "Idempotency-Key", "k-1"), 422, "idempotency_key_reused")
	})
}
