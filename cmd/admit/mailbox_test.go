package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestInstallationMailbox: when a 410 disables a platform-wide webhook,
// the server's workers queue a notice to the operator, which is
// installation mail: `mail list --installation` shows it, an account's
// mailbox does not, and `mail show --installation` renders it as admit.
func TestInstallationMailbox(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
		defer rc.Close()
		for _, args := range [][]string{
			{"account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"},
			{"user", "add", "--account", "acme", "--email", "ops@acme.example", "--first", "O", "--last", "P", "--invite"},
			{"operator", "add", "--email", "ops@acme.example"},
			{"webhook", "add", "--url", rc.URL + "/hooks"},
		} {
			if r := admit(t, db, "", args...); r.code != 0 {
				t.Fatalf("%v: %s", args, r.stderr)
			}
		}
		for _, args := range [][]string{{"mail", "list"}, {"mail", "list", "--account", "acme", "--installation"}, {"mail", "show", "--id", "x"}} {
			if r := admit(t, db, "", args...); r.code != 2 || !strings.Contains(r.stderr, "give --account S or --installation") {
				t.Errorf("%v: exit %d, %q; want a usage error", args, r.code, r.stderr)
			}
		}
		srv := startServer(t, t.TempDir(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_OUTBOUND_ALLOW=127.0.0.1")
		defer srv.stop(t)
		// The invitation's events reach the endpoint, which answers 410.
		if r := admit(t, db, "", "user", "add", "--account", "acme", "--email", "ann@acme.example", "--first", "Ann", "--last", "Lee", "--invite"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		var mails []mailJSON
		deadline := time.Now().Add(30 * time.Second)
		for len(mails) == 0 || mails[0].Status != "kept" {
			if time.Now().After(deadline) {
				t.Fatalf("installation mail after 30s: %+v\n%s", mails, srv.logs)
			}
			time.Sleep(100 * time.Millisecond)
			mails = decode[[]mailJSON](t, admit(t, db, "", "mail", "list", "--installation", "--json"))
		}
		if len(mails) != 1 || mails[0].Kind != "webhook_disabled" || mails[0].To != "ops@acme.example" {
			t.Fatalf("installation mail %+v; want one webhook_disabled notice to the operator", mails)
		}
		for _, m := range decode[[]mailJSON](t, admit(t, db, "", "mail", "list", "--account", "acme", "--json")) {
			if m.Kind == "webhook_disabled" {
				t.Errorf("acme's mailbox holds the platform-wide notice %+v", m)
			}
		}
		if r := admit(t, db, "", "mail", "show", "--account", "acme", "--id", mails[0].ID); r.code == 0 || !strings.Contains(r.stderr, "no mail message") {
			t.Errorf("mail show of installation mail in an account: exit %d, %q", r.code, r.stderr)
		}
		r := admit(t, db, "", "mail", "show", "--installation", "--id", mails[0].ID)
		for _, want := range []string{"From: admit <", "Subject: A platform-wide webhook was disabled", rc.URL + "/hooks", "410 Gone", "admit webhook enable --id"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("mail show --installation: exit %d, want %q in\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
	})
}
