package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestApps(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "alpha")
		app, secret, err := svc.AddApp(ctx, operator, directory.NewApp{Name: " Wiki ", RedirectURIs: []string{"https://wiki.example.com/cb", "https://wiki.example.com/cb"},
			PostLogoutRedirectURIs: []string{"https://wiki.example.com/"}, AccountID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(app.ClientID, "admit_app_") || !strings.HasPrefix(secret, "admit_secret_") || len(secret) < 50 || app.Name != "Wiki" {
			t.Fatalf("app %+v, secret %q", app, secret)
		}
		if diff := cmp.Diff([]string{"https://wiki.example.com/cb"}, app.RedirectURIs); diff != "" {
			t.Errorf("redirect URIs (-want +got):\n%s", diff)
		}
		var stored int
		if err := s.DB().Get(&stored, s.DB().Rebind(`SELECT COUNT(*) FROM apps WHERE secret_hash = ?`), secret); err != nil || stored != 0 {
			t.Fatalf("the secret itself is stored (%d rows, %v)", stored, err)
		}
		got, err := svc.App(ctx, app.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(app, got); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}
		if _, err := svc.AuthenticateApp(ctx, app.ClientID, secret); err != nil {
			t.Errorf("right secret: %v", err)
		}
		for _, bad := range []struct{ id, secret string }{{app.ClientID, ""}, {app.ClientID, secret + "x"}, {app.ClientID, strings.ToUpper(secret)}, {"admit_app_unknown", secret}} {
			if _, err := svc.AuthenticateApp(ctx, bad.id, bad.secret); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("AuthenticateApp(%q, %q) = %v; want Unauthenticated", bad.id, bad.secret, err)
			}
		}

		public, none, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "SPA", RedirectURIs: []string{"http://localhost:5173/cb"}, Public: true})
		if err != nil || none != "" || public.SecretHash != "" || public.AccountID != "" {
			t.Fatalf("public app %+v, secret %q, %v", public, none, err)
		}
		if _, err := svc.AuthenticateApp(ctx, public.ClientID, ""); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("a public app authenticated with a secret: %v", err)
		}
		if _, _, err := svc.RotateAppSecret(ctx, operator, public.ClientID); directory.KindOf(err) != directory.Conflict {
			t.Errorf("rotate a public app's secret: %v; want Conflict", err)
		}

		_, fresh, err := svc.RotateAppSecret(ctx, operator, app.ClientID)
		if err != nil || fresh == secret {
			t.Fatalf("rotate: %q, %v", fresh, err)
		}
		if _, err := svc.AuthenticateApp(ctx, app.ClientID, secret); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the old secret still works: %v", err)
		}
		if _, err := svc.AuthenticateApp(ctx, app.ClientID, fresh); err != nil {
			t.Errorf("the new secret: %v", err)
		}
		apps, err := svc.Apps(ctx)
		if err != nil || len(apps) != 2 || apps[0].ClientID != app.ClientID {
			t.Fatalf("apps %+v, %v", apps, err)
		}
		if _, err := svc.RemoveApp(ctx, operator, app.ClientID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RemoveApp(ctx, operator, app.ClientID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("remove twice: %v; want NotFound", err)
		}
		if _, err := svc.AuthenticateApp(ctx, app.ClientID, fresh); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("a removed app authenticated: %v", err)
		}
		if diff := cmp.Diff([]string{"account.created", "app.added", "app.secret_rotated", "app.removed"}, auditActions(t, svc, a.ID)); diff != "" {
			t.Errorf("audit of the account's app (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"app.added"}, auditActions(t, svc, "")); diff != "" {
			t.Errorf("audit of the app for every account (-want +got):\n%s", diff)
		}
	})
}

func TestAddAppRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		for _, tc := range []struct {
			name string
			in   directory.NewApp
			kind directory.Kind
			want string
		}{
			{"no name", directory.NewApp{RedirectURIs: []string{"https://a.example/cb"}}, directory.Invalid, "app name is required"},
			{"no redirect URI", directory.NewApp{Name: "A"}, directory.Invalid, "a redirect URI (OpenID Connect) or a forward-auth host"},
			{"plain http", directory.NewApp{Name: "A", RedirectURIs: []string{"http://a.example/cb"}}, directory.Invalid, "must use https"},
			{"wildcard", directory.NewApp{Name: "A", RedirectURIs: []string{"https://*.a.example/cb"}}, directory.Invalid, "wildcard"},
			{"bad post-logout URI", directory.NewApp{Name: "A", RedirectURIs: []string{"https://a.example/cb"}, PostLogoutRedirectURIs: []string{"https://a.example/#x"}}, directory.Invalid, "fragment"},
			{"unknown account", directory.NewApp{Name: "A", RedirectURIs: []string{"https://a.example/cb"}, AccountID: "nope"}, directory.NotFound, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := svc.AddApp(ctx, operator, tc.in)
				if directory.KindOf(err) != tc.kind || !strings.Contains(directory.Message(err), tc.want) {
					t.Errorf("AddApp: %v (%v); want %v mentioning %q", err, directory.KindOf(err), tc.kind, tc.want)
				}
			})
		}
		if n := countRows(t, s, "apps"); n != 0 {
			t.Errorf("%d apps stored after refusals", n)
		}
	})
}

// TestAppGroupFilter: an app with a group filter is told only the
// person's groups that match it, in its ID token claims and through
// forward-auth alike; the filter is stored, changed (audited), cleared
// back to every group, and a bad one is refused whole.
func TestAppGroupFilter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		okta := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		all := []string{"Admins", "Engineering", "Wiki-Editors", "wiki-readers", "wikipedia"}
		sso, err := svc.SignInWithSSO(ctx, okta, directory.Identity{Email: "sam@acme.example", FirstName: "Sam", LastName: "Sso", Groups: all})
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := svc.StartSession(ctx, sso.Member.User.ID, acme.ID, directory.BySSO(okta))
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example.com/cb"},
			ForwardAuthHost: "wiki.example.com", AccountID: acme.ID, GroupFilter: " wiki-* , admins "})
		if err != nil {
			t.Fatal(err)
		}
		if app.GroupFilter != "wiki-*,admins" {
			t.Errorf("GroupFilter = %q; want the stored form wiki-*,admins", app.GroupFilter)
		}
		if got, err := svc.App(ctx, app.ClientID); err != nil || got.GroupFilter != app.GroupFilter {
			t.Errorf("read back: %q, %v; want %q", got.GroupFilter, err, app.GroupFilter)
		}
		told := func(t *testing.T, want []string) {
			t.Helper()
			// Read as the gate does: the app as the host's registration says.
			gated, err := svc.ForwardAuthApp(ctx, "wiki.example.com", "/")
			if err != nil {
				t.Fatal(err)
			}
			fa, err := svc.ForwardAuth(ctx, token, gated)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, fa.Groups); diff != "" {
				t.Errorf("forward-auth groups (-want +got):\n%s", diff)
			}
			oidc, err := svc.AppClaimsFor(ctx, app.ClientID, sso.Member.User.ID, acme.ID, directory.BySSO(okta))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, oidc.Groups); diff != "" {
				t.Errorf("OpenID claims groups (-want +got):\n%s", diff)
			}
		}
		told(t, []string{"Admins", "Wiki-Editors", "wiki-readers"})

		if _, err := svc.SetAppGroups(ctx, operator, app.ClientID, "engineering"); err != nil {
			t.Fatal(err)
		}
		told(t, []string{"Engineering"})
		for _, bad := range []string{"wiki-*,*", "a,,b", "wi*ki"} {
			if _, err := svc.SetAppGroups(ctx, operator, app.ClientID, bad); directory.KindOf(err) != directory.Invalid {
				t.Errorf("SetAppGroups(%q): %v; want Invalid", bad, err)
			}
		}
		if _, err := svc.SetAppGroups(ctx, operator, "admit_app_nope", "a"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("SetAppGroups of an unknown app: %v; want NotFound", err)
		}
		told(t, []string{"Engineering"})
		cleared, err := svc.SetAppGroups(ctx, operator, app.ClientID, "")
		if err != nil || cleared.GroupFilter != "" {
			t.Fatalf("clear: %q, %v", cleared.GroupFilter, err)
		}
		told(t, all)
		if _, err := svc.SetAppGroups(ctx, operator, app.ClientID, ""); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"app.added", "app.group_filter_changed", "app.group_filter_changed"}, appActions(t, svc, acme.ID)); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
		if _, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Bad", RedirectURIs: []string{"https://bad.example.com/cb"}, GroupFilter: "*,x**"}); directory.KindOf(err) != directory.Invalid ||
			!strings.Contains(directory.Message(err), "every group") || !strings.Contains(directory.Message(err), "may only end") {
			t.Errorf("AddApp with a bad filter: %v; want Invalid naming both problems", err)
		}
	})
}

func appActions(t *testing.T, svc *directory.Service, accountID string) []string {
	t.Helper()
	var out []string
	for _, a := range auditActions(t, svc, accountID) {
		if strings.HasPrefix(a, "app.") {
			out = append(out, a)
		}
	}
	return out
}
