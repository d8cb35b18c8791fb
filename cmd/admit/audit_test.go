package main

import (
	"strings"
	"testing"
)

func TestAuditListCommand(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		if r := admit(t, db, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		if r := admit(t, db, "a first passphrase\n", "user", "add", "--account", "acme", "--email", "pat@acme.example", "--first", "Pat", "--last", "Q", "--password-stdin"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := admit(t, db, "", "audit", "list", "--account", "acme", "--person", "pat@acme.example", "--json")
		events := decode[[]map[string]any](t, r)
		if r.code != 0 || len(events) != 2 || events[0]["action"] != "membership.created" || events[1]["action"] != "user.created" {
			t.Errorf("audit list --person: exit %d, %v", r.code, events)
		}
		r = admit(t, db, "", "audit", "list", "--account", "acme", "--action", "domain.verified", "--since", "1h")
		if r.code != 0 || !strings.Contains(r.stdout, "domain.verified") || strings.Contains(r.stdout, "user.created") {
			t.Errorf("audit list --action: exit %d\n%s", r.code, r.stdout)
		}
		// An action the trail never recorded is a mistake, not an empty
		// answer: one line naming what it does record.
		r = admit(t, db, "", "audit", "list", "--account", "acme", "--action", "user.craeted")
		if r.code != exitError || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, `"user.craeted"`) || !strings.Contains(r.stderr, "user.created") || r.stdout != "" {
			t.Errorf("audit list --action user.craeted: exit %d, %q, %q", r.code, r.stderr, r.stdout)
		}
		r = admit(t, db, "", "audit", "list", "--installation", "--action", "user.erased")
		if r.code != exitError || !strings.Contains(r.stderr, "records no events yet") {
			t.Errorf("audit list --installation --action user.erased: exit %d, %q", r.code, r.stderr)
		}
		// A recorded action with nothing in the time asked for is an empty
		// answer.
		r = admit(t, db, "", "audit", "list", "--account", "acme", "--action", "user.created", "--since", "2000-01-01T00:00:00Z", "--json")
		if r.code != 0 || len(decode[[]map[string]any](t, r)) != 1 {
			t.Errorf("audit list --action user.created: exit %d, %q, %q", r.code, r.stdout, r.stderr)
		}
		if r := admit(t, db, "", "audit", "list", "--account", "acme", "--since", "last tuesday"); r.code != exitUsage || !strings.Contains(r.stderr, "--since") {
			t.Errorf("bad --since: exit %d, %q", r.code, r.stderr)
		}
	})
}
