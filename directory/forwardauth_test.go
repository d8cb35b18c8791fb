package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestAddForwardAuthAppRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		if _, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", ForwardAuthHost: "wiki.example.com", PathPrefix: "/w"}); err != nil {
			t.Fatalf("an app with only a forward-auth host: %v", err)
		}
		for _, tc := range []struct {
			name string
			in   directory.NewApp
			kind directory.Kind
			want string
		}{
			{"prefix without host", directory.NewApp{Name: "A", PathPrefix: "/a"}, directory.Invalid, "needs a forward-auth host"},
			{"host with scheme", directory.NewApp{Name: "A", ForwardAuthHost: "https://a.example"}, directory.Invalid, "without a scheme"},
			{"host with path", directory.NewApp{Name: "A", ForwardAuthHost: "a.example/x"}, directory.Invalid, "must be a host name"},
			{"host with bad port", directory.NewApp{Name: "A", ForwardAuthHost: "a.example:http"}, directory.Invalid, "must be a host name"},
			{"host with user", directory.NewApp{Name: "A", ForwardAuthHost: "u@a.example"}, directory.Invalid, "must be a host name"},
			{"prefix without slash", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "a"}, directory.Invalid, "clean path"},
			{"prefix with trailing slash", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "/a/"}, directory.Invalid, "clean path"},
			{"prefix with dot segment", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "/a/../b"}, directory.Invalid, "clean path"},
			{"prefix with query", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "/a?x"}, directory.Invalid, "clean path"},
			{"prefix with parameter", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "/a;v=1"}, directory.Invalid, "clean path"},
			{"prefix with a segment ending in a dot", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "/a./b"}, directory.Invalid, "ending in a dot"},
			{"prefix ending in a dot", directory.NewApp{Name: "A", ForwardAuthHost: "a.example", PathPrefix: "/v1."}, directory.Invalid, "ending in a dot"},
			{"host and prefix taken", directory.NewApp{Name: "B", ForwardAuthHost: "Wiki.Example.com", PathPrefix: "/w"}, directory.Conflict, "already serves"},
			{"prefix taken but for case", directory.NewApp{Name: "B", ForwardAuthHost: "wiki.example.com", PathPrefix: "/W"}, directory.Conflict, "already serves wiki.example.com/w"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := svc.AddApp(ctx, operator, tc.in)
				if directory.KindOf(err) != tc.kind || !strings.Contains(directory.Message(err), tc.want) {
					t.Errorf("AddApp: %v (%v); want %v mentioning %q", err, directory.KindOf(err), tc.kind, tc.want)
				}
			})
		}
		if n := countRows(t, s, "apps"); n != 1 {
			t.Errorf("%d apps stored; want the first alone", n)
		}
	})
}

func TestForwardAuthApp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		for _, in := range []directory.NewApp{
			{Name: "root", ForwardAuthHost: "apps.example.com"},
			{Name: "wiki", ForwardAuthHost: "apps.example.com", PathPrefix: "/wiki"},
			{Name: "wiki admin", ForwardAuthHost: "apps.example.com", PathPrefix: "/wiki/admin"},
			{Name: "secret", ForwardAuthHost: "apps.example.com", PathPrefix: "/secret"},
			{Name: "billing", ForwardAuthHost: "billing.example.com:8443", PathPrefix: "/b"},
			{Name: "a", ForwardAuthHost: "tomcat.example.com", PathPrefix: "/a"},
			{Name: "a/B", ForwardAuthHost: "tomcat.example.com", PathPrefix: "/a/B"},
			{Name: "oidc only", RedirectURIs: []string{"https://other.example.com/cb"}},
		} {
			if _, _, err := svc.AddApp(ctx, operator, in); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			host, path, want string // want "" is NotFound, "!" Forbidden
		}{
			{"apps.example.com", "/", "root"},
			{"APPS.example.com", "/x", "root"},
			{"apps.example.com", "/wiki", "wiki"},
			{"apps.example.com", "/wiki/page", "wiki"},
			{"apps.example.com", "/wikipedia", "root"},
			{"apps.example.com", "/wiki/admin/users", "wiki admin"},
			// A server that reads the path as written resolves no dot
			// segment and merges no slashes.
			{"apps.example.com", "/wiki/admin/../page", "!"},
			{"apps.example.com", "/wiki/../wiki/admin/x", "!"},
			{"apps.example.com", "//wiki/admin", "!"},
			{"apps.example.com", "/wiki//admin/x", "!"},
			// Decoded, under another prefix than as written.
			{"apps.example.com", "/wiki%2Fadmin/x", "!"},
			{"apps.example.com", "/wiki/%61dmin/x", "!"},
			{"apps.example.com", "/%77iki/x", "!"},
			{"apps.example.com", "/wiki/admin%5Cx", "!"},
			{"apps.example.com", "/wiki/x%5C..%5Cadmin", "!"},
			{"apps.example.com", "/wiki/%2e%2e/x", "!"},
			{"apps.example.com", "/wiki/admin/caf%C3%A9", "wiki admin"},
			{"apps.example.com", "/wiki/admin/a%2Fb", "wiki admin"},
			// IIS drops trailing dots and spaces.
			{"apps.example.com", "/wiki/admin./x", "!"},
			{"apps.example.com", "/wiki/admin%20/x", "!"},
			// Letters that servers fold to ASCII ones: the Kelvin sign,
			// dotless i, long s.
			{"apps.example.com", "/wiki/%E2%84%AAey", "wiki"},
			{"apps.example.com", "/w%C4%B1ki/x", "!"},
			{"apps.example.com", "/%C5%BFecret/x", "!"},
			{"apps.example.com", "/secret/x", "secret"},
			// Served from the root app where paths are read as written,
			// from the wiki's where case and ;parameters are ignored.
			{"apps.example.com", "/WIKI/Admin/x", "!"},
			{"apps.example.com", "/wiki/Admin/x", "!"},
			{"apps.example.com", "/wiki;v=1/admin;jsessionid=x/y", "!"},
			{"apps.example.com", "/wiki/admin/page;jsessionid=x", "wiki admin"},
			{"apps.example.com", "/Wikipedia", "root"},
			{"billing.example.com:8443", "/b/1", "billing"},
			// No app but billing's either way.
			{"billing.example.com:8443", "/B/1", "billing"},
			{"billing.example.com:8443", "/b;x/1", "billing"},
			{"billing.example.com:8443", "/%62/1", "billing"},
			// Tomcat drops ;parameters but heeds case: /a/b/x is under /a
			// to it, under /a/B to servers that ignore case too.
			{"tomcat.example.com", "/a;v=1/b/x", "!"},
			{"tomcat.example.com", "/a/B/x", "a/B"},
			{"tomcat.example.com", "/A/x", "a"},
			{"tomcat.example.com", "/a/b/x", "!"},
			{"billing.example.com:8443", "/", ""},
			{"billing.example.com", "/b/1", ""},
			{"other.example.com", "/cb", ""},
			{"", "/", ""},
			{"evil.example/apps.example.com", "/", ""},
		} {
			app, err := svc.ForwardAuthApp(ctx, tc.host, tc.path)
			if tc.want == "!" {
				if directory.KindOf(err) != directory.Forbidden {
					t.Errorf("%s %s: %q, %v; want Forbidden", tc.host, tc.path, app.Name, err)
				}
				continue
			}
			if tc.want == "" {
				if directory.KindOf(err) != directory.NotFound {
					t.Errorf("%s %s: %q, %v; want NotFound", tc.host, tc.path, app.Name, err)
				}
				continue
			}
			if err != nil || app.Name != tc.want {
				t.Errorf("%s %s: %q, %v; want %q", tc.host, tc.path, app.Name, err, tc.want)
			}
		}
		// A hand-off's return URL picks its app as a request does.
		for target, want := range map[string]string{
			"https://apps.example.com/wiki/admin/x":   "wiki admin",
			"https://apps.example.com/wiki%2Fadmin/x": "",
			"https://apps.example.com/WIKI/x":         "",
		} {
			_, app, err := svc.HandoffTarget(ctx, target, true)
			if want == "" && directory.KindOf(err) != directory.Invalid || want != "" && (err != nil || app.Name != want) {
				t.Errorf("HandoffTarget(%s): %q, %v; want %q", target, app.Name, err, want)
			}
		}
	})
}

// Two apps of one host whose prefixes differ only in case (registered
// before admit refused that) are one path to a server that ignores case:
// neither may be picked by the spelling, whichever the server serves.
func TestMatchForwardAuthAppAlikeButForCase(t *testing.T) {
	apps := []directory.App{{Name: "root"}, {Name: "Docs", PathPrefix: "/Docs"}, {Name: "docs", PathPrefix: "/docs"}}
	for _, p := range []string{"/docs/x", "/Docs/x", "/DOCS"} {
		if app, err := directory.MatchForwardAuthApp(apps, p); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("%s: %q, %v; want Forbidden", p, app.Name, err)
		}
	}
	if app, err := directory.MatchForwardAuthApp(apps, "/doc"); err != nil || app.Name != "root" {
		t.Errorf("/doc: %q, %v; want root", app.Name, err)
	}
}

// ForwardAuth gives the claims of the app's account, and refuses a
// person who is not an active member of it.
func TestForwardAuth(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, globex := mustAccount(t, svc, "acme"), mustAccount(t, svc, "globex")
		u := addWithPassword(t, svc, acme.ID, "ada@example.com", "correct horse battery")
		token, _, err := svc.StartSession(ctx, u.ID, acme.ID, directory.Credential{Method: directory.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		everyAccount, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "all", ForwardAuthHost: "all.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		globexOnly, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "globex", ForwardAuthHost: "g.example.com", AccountID: globex.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `UPDATE users SET password_must_change = false`); err != nil {
			t.Fatal(err)
		}
		c, err := svc.ForwardAuth(ctx, token, everyAccount)
		if err != nil || c.Subject != u.ID || c.Account.Slug != "acme" {
			t.Errorf("app of every account: %+v, %v; want ada in acme", c, err)
		}
		if _, err := svc.ForwardAuth(ctx, token, globexOnly); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("globex's app for acme's member: %v; want Forbidden", err)
		}
		if _, err := svc.ForwardAuth(ctx, "made-up", everyAccount); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("made-up token: %v; want Unauthenticated", err)
		}
		if _, err := svc.Deactivate(ctx, acme.ID, operator, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ForwardAuth(ctx, token, everyAccount); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("after deactivation: %v; want Unauthenticated", err)
		}
	})
}
