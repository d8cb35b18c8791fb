package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// TestOperatorConsole: an operator (signed in through an account where they
// are a plain member) lists every account at /admin, creates one, enters
// another account's console without a membership there, and every change
// they make is audited with them as the operator; once no longer an
// operator, the consoles are closed to them again.
func TestOperatorConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		ops, acme := s.account(t, "ops"), s.account(t, "acme")
		oscar := s.add(t, ops, "oscar@ops.example", directory.RoleMember)
		ann := s.add(t, acme, "ann@acme.example", directory.RoleOwner)
		p := s.signIn(t, oscar, ops)

		// Not an operator yet: a member sees no console, creates nothing.
		if code, _ := p.get("/admin/acme/users"); code != http.StatusNotFound {
			t.Fatalf("before: /admin/acme/users = %d; want 404", code)
		}
		if code, _ := p.get("/admin/"); code != 200 || strings.Contains(p.last, "Create an account") {
			t.Fatalf("before: /admin/ = %d, offering to create an account:\n%s", code, p.last)
		}
		p.sees("There is no account whose console you may open.")
		if code, _ := p.post("/admin/", url.Values{"slug": {"sneaky"}, "name": {"Sneaky"}}); code != http.StatusForbidden {
			t.Errorf("a member creating an account: %d; want 403", code)
		}

		if _, err := s.svc.AddOperator(ctx, operator, "Oscar@ops.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.AddOperator(ctx, operator, "oscar@ops.example"); directory.KindOf(err) != directory.Conflict {
			t.Errorf("adding an operator twice: %v; want a conflict", err)
		}
		if _, err := s.svc.AddOperator(ctx, operator, "nobody@ops.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("an operator who is no user: %v; want not found", err)
		}

		if code, _ := p.get("/admin"); code != 200 {
			t.Fatalf("/admin: %d", code)
		}
		p.sees(`href="/admin/acme/users"`, `href="/admin/ops/users"`, "Create an account", "operator",
			// Each account's active owners: ops has none.
			`acme</span> <span class="muted">1 active owner</span>`, `ops</span> <strong class="no-owner">no active owner</strong>`)
		code, path := p.post("/admin/", url.Values{"slug": {"Bad Slug"}, "name": {"New Co"}})
		if code != http.StatusBadRequest {
			t.Errorf("a bad slug: %d at %s; want 400", code, path)
		}
		p.sees("must be 2 to 63 lowercase letters", `value="New Co"`)
		code, path = p.post("/admin/", url.Values{"slug": {"newco"}, "name": {"New Co"}, "domains": {"newco.example"}})
		if code != 200 || path != "/admin/newco/users" {
			t.Fatalf("create account: %d at %s\n%s", code, path, p.last)
		}
		// A new account: no one yet, so the ways people arrive.
		p.sees("operator-badge", "oscar@ops.example", `id="getting-started"`, "No one here yet")
		if code, _ = p.post("/admin/", url.Values{"slug": {"newco"}, "name": {"Again"}}); code != http.StatusConflict {
			t.Errorf("a taken slug: %d; want 409", code)
		}
		newco, err := s.svc.Account(ctx, "newco")
		if err != nil {
			t.Fatal(err)
		}
		wantActor := directory.Actor{Source: directory.SourceOperator, ID: oscar.User.ID, Name: "oscar@ops.example"}
		if ev := s.events(t, newco, "account.created"); len(ev) != 1 || ev[0].Actor != wantActor {
			t.Errorf("account.created: %+v; want one by %+v", ev, wantActor)
		}

		// Another account's console, straight in (no switch), and a change.
		if code, _ := p.get("/admin/acme/users"); code != 200 {
			t.Fatalf("operator at /admin/acme/users: %d", code)
		}
		p.sees("ann@acme.example", "operator-badge", `href="/admin/"`)
		code, path = p.post("/admin/acme/users/new", url.Values{"email": {"bo@acme.example"}, "first_name": {"Bo"}, "last_name": {"Li"}, "role": {"owner"}, "how": {"sso"}})
		if code != 200 || !strings.Contains(path, "done=added") {
			t.Fatalf("operator adds an owner: %d at %s\n%s", code, path, p.last)
		}
		p.get("/admin/acme/users/" + ann.Membership.ID)
		if code, _ := p.post("/admin/acme/users/"+ann.Membership.ID+"/deactivate", url.Values{}); code != 200 {
			t.Fatalf("operator deactivates an owner: %d\n%s", code, p.last)
		}
		for _, action := range []string{"membership.created", "membership.deactivated"} {
			ev := s.events(t, acme, action)
			if len(ev) == 0 || ev[0].Actor != wantActor {
				t.Errorf("%s: %+v; want by %+v", action, ev, wantActor)
			}
		}

		// A console page loaded while an operator acts no more after.
		adm, err := s.svc.Console(ctx, mustVisit(t, s, p), "acme")
		if err != nil || !adm.Operator {
			t.Fatalf("Console: %+v, %v; want an operator", adm, err)
		}
		if err := s.svc.RemoveOperator(ctx, operator, "oscar@ops.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.ReactivateMember(ctx, adm, ann.Membership.ID); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("reactivating after losing operator rights: %v; want forbidden", err)
		}
		if err := s.svc.RemoveOperator(ctx, operator, "oscar@ops.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("removing a removed operator: %v; want not found", err)
		}
		if code, _ := p.get("/admin/acme/users"); code != http.StatusNotFound {
			t.Errorf("after: /admin/acme/users = %d; want 404", code)
		}
		// Both changes are on the installation's audit trail.
		for _, action := range []string{"operator.added", "operator.removed"} {
			ev, err := s.svc.AuditTrail(ctx, "", "", action, timeZero, 10)
			if err != nil || len(ev) != 1 || ev[0].Actor != operator || ev[0].TargetID != oscar.User.ID {
				t.Errorf("%s: %+v, %v", action, ev, err)
			}
		}
	})
}

var timeZero time.Time

// mustVisit is the browser's session as the directory sees it.
func mustVisit(t *testing.T, s *site, p *person) directory.Visit {
	t.Helper()
	u, _ := url.Parse(s.server.URL)
	for _, c := range p.client.Jar.Cookies(u) {
		if c.Name == (web.SessionCookie{}).Name() {
			v, err := s.svc.Authenticate(context.Background(), c.Value)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no session cookie")
	return directory.Visit{}
}
