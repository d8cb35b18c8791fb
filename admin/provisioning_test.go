package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

var tokenValue = regexp.MustCompile(`<code id="token-value">([^<]+)</code>`)

// TestProvisioningPage: an owner creates a named SCIM token, sees it once
// (never again), and it works; what SCIM then does shows under recent
// activity with the token's name; revoking it stops it at once. An admin
// sees the page but may not create or revoke; another account's owner
// reaches nothing of it, and a member gets 403.
func TestProvisioningPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		p := s.signIn(t, owner, a)
		if code, _ := p.get("/admin/acme/scim"); code != 200 {
			t.Fatalf("SCIM page: %d", code)
		}
		p.sees("/scim/v2</code>", "No token yet.", "SCIM has changed nothing here yet.")
		if code, _ := p.post("/admin/acme/scim/tokens", url.Values{"name": {"Okta\nproduction"}}); code != http.StatusBadRequest {
			t.Errorf("a two-line name: %d; want 400", code)
		}
		if code, _ := p.post("/admin/acme/scim/tokens", url.Values{"name": {"Okta production"}}); code != 200 {
			t.Fatalf("create: %d\n%s", code, p.last)
		}
		m := tokenValue.FindStringSubmatch(p.last)
		if m == nil || !strings.HasPrefix(m[1], "admit_scim_") {
			t.Fatalf("no token on the page:\n%s", p.last)
		}
		token := m[1]
		p.get("/admin/acme/scim")
		if strings.Contains(p.last, token) {
			t.Error("the token is shown again")
		}
		p.sees("Okta production", "Works")
		acct, tok, err := s.svc.AuthenticateSCIM(ctx, token)
		if err != nil || acct.ID != a.ID {
			t.Fatalf("the token: %v, %v", acct.Slug, err)
		}
		if _, err := s.svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Profile: directory.SCIMProfile{UserName: "sam@acme.example"}, Email: "sam@acme.example", Active: true}); err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/scim")
		p.sees("<td>membership.created</td><td>Okta production</td>")

		// An admin reads only; beta's owner and acme's members reach nothing.
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		pa := s.signIn(t, ada, a)
		pa.get("/admin/acme/scim")
		pa.sees("Only the owners of this account create and revoke tokens.")
		if code, _ := pa.post("/admin/acme/scim/tokens/"+tok.ID+"/revoke", url.Values{}); code != http.StatusForbidden {
			t.Errorf("an admin revoking: %d; want 403", code)
		}
		bo := s.add(t, b, "bo@beta.example", directory.RoleOwner)
		pb := s.signIn(t, bo, b)
		pb.get("/admin/beta/scim")
		if code, _ := pb.post("/admin/beta/scim/tokens/"+tok.ID+"/revoke", url.Values{}); code != http.StatusNotFound {
			t.Errorf("beta's owner revoking acme's token through beta: %d; want 404", code)
		}
		if code, _ := pb.post("/admin/acme/scim/tokens", url.Values{"name": {"mine"}}); code != http.StatusNotFound {
			t.Errorf("beta's owner creating a token in acme: %d; want 404", code)
		}
		mo := s.add(t, a, "mo@acme.example", directory.RoleMember)
		if code, _ := s.signIn(t, mo, a).get("/admin/acme/scim"); code != http.StatusForbidden {
			t.Errorf("a member: %d; want 403", code)
		}
		if _, _, err := s.svc.AuthenticateSCIM(ctx, token); err != nil {
			t.Fatalf("the token after the refusals: %v", err)
		}

		p.get("/admin/acme/scim")
		// Revoking stops the identity provider at once: its button shows
		// only once "Revoke…" is opened, with what it does.
		p.sees(`<details class="confirm"><summary>Revoke…</summary>`, "refused at once")
		if code, path := p.post("/admin/acme/scim/tokens/"+tok.ID+"/revoke", url.Values{}); code != 200 || !strings.Contains(path, "done=revoked") {
			t.Fatalf("revoke: %d at %s", code, path)
		}
		p.sees("Revoked ")
		if _, _, err := s.svc.AuthenticateSCIM(ctx, token); err == nil {
			t.Error("a revoked token still works")
		}
		if ev := s.events(t, a, "scim_token.revoked"); len(ev) != 1 || ev[0].Actor.ID != owner.User.ID {
			t.Errorf("audit: %+v", ev)
		}
	})
}
