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

// TestBrandingPage: an admin changes the name shown, logo, colour and
// sender name (audited; the invitation texts set by the CLI stay); the
// console wears them at once; values that could carry markup or CSS are
// refused with what was typed; another account's admin reaches nothing.
func TestBrandingPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		if _, err := s.svc.SetBranding(ctx, a.ID, operator, directory.Branding{InviteSubject: "Join us"}); err != nil {
			t.Fatal(err)
		}
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		p := s.signIn(t, ada, a)
		if code, _ := p.get("/admin/acme/branding"); code != 200 {
			t.Fatalf("branding page: %d", code)
		}
		code, path := p.post("/admin/acme/branding", url.Values{"display_name": {"Acme Cloud"}, "logo_url": {"https://cdn.acme.example/logo.png"}, "color": {"#0a66c2"}, "sender_name": {"Acme IT"}})
		if code != 200 || path != "/admin/acme/branding?done=saved" {
			t.Fatalf("save: %d at %s\n%s", code, path, p.last)
		}
		p.sees(`src="https://cdn.acme.example/logo.png"`, "--brand: #0a66c2", "<title>Branding · Acme Cloud</title>")
		got, _ := s.svc.Account(ctx, "acme")
		want := directory.Branding{DisplayName: "Acme Cloud", LogoURL: "https://cdn.acme.example/logo.png", PrimaryColor: "#0a66c2", SenderName: "Acme IT", InviteSubject: "Join us"}
		if got.Branding != want {
			t.Errorf("branding = %+v; want %+v", got.Branding, want)
		}
		if ev := s.events(t, a, "account.branding_changed"); len(ev) != 2 || ev[0].Actor.ID != ada.User.ID {
			t.Errorf("audit: %+v", ev)
		}
		for _, tc := range []struct{ name, field, value, says string }{
			{"script logo", "logo_url", "javascript:alert(1)", "logo URL must be an https:// address"},
			{"http logo", "logo_url", "http://cdn.acme.example/logo.png", "logo URL must be an https:// address"},
			{"css colour", "color", "red;background:url(x)", "hex colour"},
			{"header in sender", "sender_name", "Acme\r\nBcc: all@x.example", "must be one line"},
		} {
			form := url.Values{"display_name": {"Acme Cloud"}, "logo_url": {""}, "color": {""}, "sender_name": {""}}
			form.Set(tc.field, tc.value)
			if code, _ := p.post("/admin/acme/branding", form); code != http.StatusBadRequest {
				t.Errorf("%s: %d; want 400", tc.name, code)
			}
			p.sees(tc.says)
		}
		if got, _ := s.svc.Account(ctx, "acme"); got.Branding != want {
			t.Errorf("after refusals: %+v", got.Branding)
		}
		bo := s.add(t, b, "bo@beta.example", directory.RoleOwner)
		pb := s.signIn(t, bo, b)
		pb.get("/admin/beta/branding")
		if code, _ := pb.post("/admin/acme/branding", url.Values{"display_name": {"Pwned"}}); code != http.StatusNotFound {
			t.Errorf("beta's owner saving acme's branding: %d; want 404", code)
		}
		m := s.add(t, a, "mo@acme.example", directory.RoleMember)
		if code, _ := s.signIn(t, m, a).get("/admin/acme/branding"); code != http.StatusForbidden {
			t.Errorf("a member: %d; want 403", code)
		}
	})
}
