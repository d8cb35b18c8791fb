package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestSecurityPage: an owner reads the policy in plain words and changes
// it (audited, with them as actor); mistakes come back with what was
// typed and change nothing, nor does requiring SSO without a connection;
// an admin sees the settings but cannot change them; another account's
// admin reaches nothing.
func TestSecurityPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		adminB := s.add(t, b, "bo@beta.example", directory.RoleAdmin)
		p := s.signIn(t, owner, a)
		if code, _ := p.get("/admin/acme/security"); code != 200 {
			t.Fatalf("security page: %d", code)
		}
		p.sees("People choose passwords of at least 12 characters. A commonly used password", "8 hours without use", "7 days after signing in", `id="save-security"`)

		form := url.Values{"min_length": {"14"}, "require_upper": {"1"}, "require_digit": {"1"}, "initial_days": {"3"}}
		code, path := p.post("/admin/acme/security", form)
		if code != 200 || path != "/admin/acme/security?done=saved" {
			t.Fatalf("save: %d at %s\n%s", code, path, p.last)
		}
		p.sees("at least 14 characters, with an uppercase letter and a digit", "have been saved")
		got, _ := s.svc.Account(ctx, "acme")
		want := directory.PasswordPolicy{MinLength: 14, RequireUpper: true, RequireDigit: true, InitialPasswordDays: 3}
		if got.PasswordPolicy != want {
			t.Errorf("policy = %+v; want %+v", got.PasswordPolicy, want)
		}
		ev := s.events(t, a, "account.password_policy_changed")
		if len(ev) != 1 || ev[0].Actor.ID != owner.User.ID || ev[0].Actor.Source != directory.SourceAdmin {
			t.Errorf("audit: %+v", ev)
		}
		if len(s.events(t, a, "account.sign_in_policy_changed")) != 0 {
			t.Error("an unchanged sign-in policy was audited")
		}

		for _, tc := range []struct {
			name string
			form url.Values
			says string
		}{
			{"too short", url.Values{"min_length": {"4"}, "initial_days": {"3"}}, "minimum password length must be between 8 and 128"},
			{"not a number", url.Values{"min_length": {"twelve"}, "initial_days": {"3"}}, "whole number"},
			{"no days", url.Values{"min_length": {"12"}, "initial_days": {"0"}}, "from 1 to 90 days"},
			{"sso without a connection", url.Values{"min_length": {"20"}, "initial_days": {"3"}, "sso_required": {"1"}}, "no single sign-on connection"},
		} {
			p.get("/admin/acme/security")
			if code, _ := p.post("/admin/acme/security", tc.form); code != http.StatusBadRequest {
				t.Errorf("%s: %d; want 400", tc.name, code)
			}
			p.sees(tc.says, `value="`+tc.form.Get("min_length")+`"`)
		}
		if got, _ := s.svc.Account(ctx, "acme"); got.PasswordPolicy != want || got.SignIn.SSORequired {
			t.Errorf("after refusals: %+v %+v", got.PasswordPolicy, got.SignIn)
		}

		// An admin reads but cannot change; the directory refuses them too.
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		pa := s.signIn(t, ada, a)
		pa.get("/admin/acme/security")
		pa.sees("Only the owners of this account change these settings.", "<fieldset disabled>")
		if code, _ := pa.post("/admin/acme/security", url.Values{"min_length": {"8"}, "initial_days": {"3"}}); code != http.StatusForbidden {
			t.Errorf("an admin saving: %d; want 403", code)
		}
		// Isolation: beta's admin reaches nothing of acme.
		pb := s.signIn(t, adminB, b)
		if code, _ := pb.get("/admin/acme/security"); code != http.StatusNotFound {
			t.Errorf("another account's admin: %d; want 404", code)
		}
		pb.get("/admin/beta/security")
		if code, _ := pb.post("/admin/acme/security", url.Values{"min_length": {"8"}, "initial_days": {"3"}}); code != http.StatusNotFound {
			t.Errorf("another account's admin saving: %d; want 404", code)
		}
		// A member gets 403.
		m := s.add(t, a, "mo@acme.example", directory.RoleMember)
		if code, _ := s.signIn(t, m, a).get("/admin/acme/security"); code != http.StatusForbidden {
			t.Errorf("a member: %d; want 403", code)
		}
	})
}
