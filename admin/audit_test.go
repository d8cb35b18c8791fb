package admin_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAuditLogPage: an admin reads the account's audit log newest first,
// a page at a time, narrows it by actor, action, person and days, and
// downloads it as CSV, where a value a spreadsheet would run is made
// text; another account's admin reaches none of it and a member gets 403.
func TestAuditLogPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		adminB := s.add(t, b, "bo@beta.example", directory.RoleAdmin)
		// A name that is a formula, as an attacker signing up would choose.
		if _, err := s.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "eve@acme.example", FirstName: "=HYPERLINK(\"http://x\")", LastName: "E"}); err != nil {
			t.Fatal(err)
		}
		for i := range 55 {
			s.add(t, a, "p"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@acme.example", directory.RoleMember)
		}
		p := s.signIn(t, owner, a)
		eve, _ := s.svc.Member(ctx, a.ID, "eve@acme.example")
		p.get("/admin/acme/users/" + eve.Membership.ID)
		if code, _ := p.post("/admin/acme/users/"+eve.Membership.ID+"/deactivate", url.Values{}); code != 200 {
			t.Fatalf("deactivate: %d", code)
		}

		if code, _ := p.get("/admin/acme/audit"); code != 200 {
			t.Fatalf("audit log: %d", code)
		}
		if n := strings.Count(p.last, "<tr>"); n != 51 { // the heading and 50 events
			t.Errorf("first page: %d rows; want 51", n-1)
		}
		p.sees("membership.deactivated", "olive@acme.example", `id="next"`)
		next := between(p.last, `<nav class="pager" aria-label="Pages"><a href="`, `" rel="next"`)
		if code, _ := p.get(strings.ReplaceAll(next, "&amp;", "&")); code != 200 {
			t.Fatalf("next page: %d", code)
		}
		p.sees("Newest events", `id="next"`)
		if strings.Contains(p.last, "<td>membership.deactivated</td>") {
			t.Error("the second page repeats the first")
		}

		for _, tc := range []struct {
			query string
			want  []string // actions on the page
			not   string
		}{
			{"actor=olive@acme.example", []string{"membership.deactivated"}, "<td>membership.created"},
			{"action=membership.deactivated", []string{"membership.deactivated"}, "<td>membership.created"},
			{"person=eve@acme.example", []string{"membership.deactivated", "membership.created"}, "pab@acme"},
			{"since=2000-01-01&until=2000-12-31", nil, "<td>membership"},
			{"since=" + time.Now().UTC().Format("2006-01-02") + "&action=account.created", []string{"account.created"}, "<td>membership"},
		} {
			if code, _ := p.get("/admin/acme/audit?" + tc.query); code != 200 {
				t.Errorf("%s: %d", tc.query, code)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(p.last, "<td>"+w+"</td>") {
					t.Errorf("%s: no %s", tc.query, w)
				}
			}
			if strings.Contains(p.last, tc.not) {
				t.Errorf("%s: shows %s", tc.query, tc.not)
			}
		}
		if code, _ := p.get("/admin/acme/audit?since=yesterday"); code != http.StatusBadRequest {
			t.Errorf("a bad date: %d; want 400", code)
		}
		p.sees("must be a date like")
		// An action acme's trail never recorded: a readable refusal
		// naming the nearest recorded, not "no events".
		if code, _ := p.get("/admin/acme/audit?action=membership.deactivatd"); code != http.StatusBadRequest {
			t.Errorf("an unknown action: %d; want 400", code)
		}
		p.sees("membership.deactivated", "no audit event here has the action")
		if code, _ := p.get("/admin/acme/audit?after=nonsense"); code != http.StatusBadRequest {
			t.Errorf("a bad cursor: %d; want 400", code)
		}

		// The export: every event, the formula made text.
		resp, err := p.client.Get(s.server.URL + "/admin/acme/audit.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Errorf("export headers: %q %q", ct, resp.Header.Get("Content-Disposition"))
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		all, _ := s.svc.AuditTrail(ctx, a.ID, "", "", time.Time{}, 1000)
		if len(rows) != len(all)+1 || rows[0][0] != "time" {
			t.Errorf("export: %d rows; want %d and a heading", len(rows), len(all)+1)
		}
		for _, row := range rows {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("a cell a spreadsheet would run: %q", cell)
				}
			}
		}

		// Isolation.
		pb := s.signIn(t, adminB, b)
		for _, path := range []string{"/admin/acme/audit", "/admin/acme/audit.csv"} {
			if code, _ := pb.get(path); code != http.StatusNotFound {
				t.Errorf("beta's admin at %s: %d; want 404", path, code)
			}
		}
		pb.get("/admin/beta/audit")
		if strings.Contains(pb.last, "acme.example") {
			t.Error("beta's audit log shows acme's events")
		}
		m := s.add(t, a, "mo@acme.example", directory.RoleMember)
		if code, _ := s.signIn(t, m, a).get("/admin/acme/audit.csv"); code != http.StatusForbidden {
			t.Errorf("a member exporting: %d; want 403", code)
		}
	})
}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return ""
}

// TestAuditDataReadable: the audit log and a person's trail show each
// event's data as key: value lines, escaped, times as the console writes
// them, with the JSON as written behind a "JSON" disclosure for support.
func TestAuditDataReadable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		p := s.signIn(t, s.add(t, a, "olive@acme.example", directory.RoleOwner), a)
		added, err := s.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Smith & Sons <UK>"})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := s.svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "ivy@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		expires := inv.ExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC")
		for _, path := range []string{"/admin/acme/audit", "/admin/acme/users/" + added.Member.Membership.ID} {
			if code, _ := p.get(path); code != 200 {
				t.Fatalf("%s: %d", path, code)
			}
			if strings.Contains(p.last, "Smith & Sons <UK>") || strings.Contains(p.last, "<UK>") {
				t.Errorf("%s shows the name unescaped", path)
			}
			p.sees(`<dl class="data"><dt>email</dt><dd>pat@acme.example</dd>`, `<dt>last_name</dt><dd>Smith &amp; Sons &lt;UK&gt;</dd>`,
				`<dt>password_set</dt><dd>no</dd>`,
				`<details class="raw"><summary>JSON</summary><code>{`)
			// The JSON as the store keeps it (PostgreSQL's spaces it).
			raw := regexp.MustCompile(`<details class="raw"><summary>JSON</summary><code>(\{[^<]*&#34;Smith &amp; Sons &lt;UK&gt;&#34;[^<]*\})</code></details>`)
			if !raw.MatchString(p.last) {
				t.Errorf("%s has no JSON of Pat's creation", path)
			}
		}
		p.get("/admin/acme/audit?action=invitation.created")
		p.sees(`<dt>expires_at</dt><dd>`+expires+`</dd>`, `<dt>role</dt><dd>member</dd>`)
	})
}
