package main

import (
	"os"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory/dnstest"
)

// TestDomainCommands claims, proves, lists and removes a domain through
// the binary, with admit asking a real DNS server on loopback.
func TestDomainCommands(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		dns := dnstest.Start(t)
		env := append(os.Environ(), "ADMIT_DATABASE_URL="+db, "ADMIT_DNS_RESOLVER="+dns.Addr, testKey)
		run := func(stdin string, args ...string) result { return admitWith(t, env, stdin, args...) }
		for _, slug := range []string{"acme", "evil"} {
			if r := run("", "account", "create", "--slug", slug, "--name", slug); r.code != 0 {
				t.Fatalf("account create: %s", r.stderr)
			}
		}
		r := run("", "domain", "add", "--account", "acme", "--domain", "Acme.Example", "--json")
		if r.code != 0 {
			t.Fatalf("domain add: exit %d: %s", r.code, r.stderr)
		}
		d := decode[map[string]string](t, r)
		if d["status"] != "pending" || d["record_name"] != "_admit-challenge.acme.example" || d["record_type"] != "TXT" || !strings.HasPrefix(d["record_value"], "admit-verify=") {
			t.Fatalf("domain add JSON = %v", d)
		}
		if r := run("", "domain", "add", "--account", "acme", "--domain", "acme.example"); r.code != exitError || !strings.Contains(r.stderr, "pending verification") {
			t.Errorf("adding twice: exit %d, %q", r.code, r.stderr)
		}
		r = run("", "domain", "verify", "--account", "acme", "--domain", "acme.example")
		if r.code != exitError || !strings.Contains(r.stderr, "no TXT record at _admit-challenge.acme.example") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("verify without a record: exit %d, %q; want one line naming the record", r.code, r.stderr)
		}
		dns.SetTXT(d["record_name"], d["record_value"])
		r = run("", "domain", "verify", "--account", "acme", "--domain", "acme.example", "--json")
		if v := decode[map[string]string](t, r); r.code != 0 || v["status"] != "verified" || v["verified_by"] != "dns" {
			t.Fatalf("verify: exit %d, %v, %s", r.code, v, r.stderr)
		}
		// Another account cannot take it, by DNS or by the operator's word.
		e := decode[map[string]string](t, run("", "domain", "add", "--account", "evil", "--domain", "acme.example", "--json"))
		dns.SetTXT(e["record_name"], d["record_value"], e["record_value"])
		if r := run("", "domain", "verify", "--account", "evil", "--domain", "acme.example"); r.code != exitError || !strings.Contains(r.stderr, "verified by another account") {
			t.Errorf("evil verify: exit %d, %q", r.code, r.stderr)
		}
		if r := run("", "domain", "add", "--account", "evil", "--domain", "other.example", "--verified"); r.code != 0 {
			t.Errorf("operator vouching: exit %d, %q", r.code, r.stderr)
		}
		list := decode[[]map[string]string](t, run("", "domain", "list", "--account", "evil", "--json"))
		if len(list) != 2 || list[0]["domain"] != "acme.example" || list[0]["status"] != "pending" || list[1]["verified_by"] != "operator" {
			t.Errorf("domain list = %v", list)
		}
		if r := run("", "domain", "remove", "--account", "acme", "--domain", "nothing.example"); r.code != exitError || !strings.Contains(r.stderr, "has no domain") {
			t.Errorf("remove unknown: exit %d, %q", r.code, r.stderr)
		}
		if r := run("", "domain", "add", "--account", "acme"); r.code != exitUsage || !strings.Contains(r.stderr, "--domain") {
			t.Errorf("missing --domain: exit %d, %q", r.code, r.stderr)
		}
		if r := run("", "domain", "list", "--account", "acme", "--dns-resolver", "not a resolver"); r.code != exitUsage || !strings.Contains(r.stderr, "ADMIT_DNS_RESOLVER") {
			t.Errorf("bad resolver: exit %d, %q", r.code, r.stderr)
		}
	})
}
