package main

import (
	"os"
	"strings"
	"testing"
)

func TestAppCommands(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db string) {
		// One server key for every run: the key pairs are sealed with it.
		env := append(os.Environ(), "ADMIT_DATABASE_URL="+db, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
		admit := func(t *testing.T, _, stdin string, args ...string) result {
			t.Helper()
			return admitWith(t, env, stdin, args...)
		}
		if r := admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
			t.Fatalf("account create: %s", r.stderr)
		}
		r := admit(t, db, "", "app", "add", "--name", "Wiki", "--redirect-uri", "https://wiki.example.com/cb", "--account", "acme", "--json")
		if r.code != 0 {
			t.Fatalf("app add: exit %d: %s", r.code, r.stderr)
		}
		app := decode[appJSON](t, r)
		if !strings.HasPrefix(app.ClientID, "admit_app_") || !strings.HasPrefix(app.ClientSecret, "admit_secret_") || app.Account != "acme" || app.Public {
			t.Errorf("app add JSON = %+v", app)
		}
		r = admit(t, db, "", "app", "add", "--name", "SPA", "--redirect-uri", "http://localhost:5173/cb", "--public")
		if r.code != 0 || !strings.Contains(r.stdout, "PKCE") || strings.Contains(r.stdout, "admit_secret_") {
			t.Errorf("app add --public: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		list := decode[[]appJSON](t, admit(t, db, "", "app", "list", "--json"))
		if len(list) != 2 || list[0].ClientSecret != "" || list[0].Account != "acme" || list[1].Account != "" || !list[1].Public {
			t.Errorf("app list = %+v", list)
		}
		rotated := decode[map[string]string](t, admit(t, db, "", "app", "rotate-secret", "--client-id", app.ClientID, "--json"))
		if s := rotated["client_secret"]; !strings.HasPrefix(s, "admit_secret_") || s == app.ClientSecret {
			t.Errorf("rotate-secret = %v", rotated)
		}
		if r := admit(t, db, "", "app", "remove", "--client-id", app.ClientID); r.code != 0 || !strings.Contains(r.stdout, "removed app Wiki") {
			t.Errorf("app remove: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}

		// The token keys rotate apart from the SAML certificate.
		for _, want := range []string{"Published es256 key", "now signs tokens"} {
			if r := admit(t, db, "", "certs", "rotate", "--kind", "es256"); r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("certs rotate --kind es256: exit %d: %s%s; want %q", r.code, r.stdout, r.stderr, want)
			}
		}
		tokenKeys := decode[[]certificateJSON](t, admit(t, db, "", "certs", "list", "--kind", "es256", "--json"))
		samlCerts := decode[[]certificateJSON](t, admit(t, db, "", "certs", "list", "--json"))
		if len(tokenKeys) != 2 || tokenKeys[0].State != "active" || tokenKeys[1].State != "previous" || tokenKeys[0].Kind != "es256" ||
			len(samlCerts) != 1 || samlCerts[0].Kind != "saml" {
			t.Errorf("after rotating es256 twice: es256 %+v, saml %+v", tokenKeys, samlCerts)
		}

		for _, tc := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"no redirect URI", []string{"app", "add", "--name", "X"}, exitUsage, "missing --redirect-uri"},
			{"plain http", []string{"app", "add", "--name", "X", "--redirect-uri", "http://x.example/cb"}, exitError, "must use https"},
			{"fragment", []string{"app", "add", "--name", "X", "--redirect-uri", "https://x.example/cb#a"}, exitError, "fragment"},
			{"unknown account", []string{"app", "add", "--name", "X", "--redirect-uri", "https://x.example/cb", "--account", "nope"}, exitError, `no account "nope"`},
			{"remove unknown", []string{"app", "remove", "--client-id", "admit_app_nope"}, exitError, "no app with client id"},
			{"unknown key kind", []string{"certs", "rotate", "--kind", "hs256"}, exitUsage, "--kind must be saml, es256 or rs256"},
			{"rotate a public app", []string{"app", "rotate-secret", "--client-id", list[1].ClientID}, exitError, "public"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := admit(t, db, "", tc.args...)
				if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("exit %d, stderr %q; want exit %d and one line mentioning %q", r.code, r.stderr, tc.code, tc.want)
				}
			})
		}
	})
}
