package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/directory/dnstest"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

var accountAdmin = directory.Actor{Source: directory.SourceAdmin, ID: "someone", Name: "admin@acme.example"}

func dnsService(t testing.TB, s *store.Store, dns *dnstest.Server) *directory.Service {
	t.Helper()
	return directory.NewService(directory.Config{Store: s, Hasher: fastHasher(), Resolver: dns.Resolver()})
}

func TestDomainVerificationByDNS(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		dns := dnstest.Start(t)
		svc := dnsService(t, s, dns)
		acme := mustAccount(t, svc, "acme")

		d, err := svc.AddDomain(ctx, acme.ID, accountAdmin, " Acme.Example. ", false)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "acme.example" || d.Verified() || d.ChallengeName() != "_admit-challenge.acme.example" || !strings.HasPrefix(d.ChallengeValue(), "admit-verify=") || len(d.Challenge) < 26 {
			t.Fatalf("added domain = %+v; want a pending acme.example with a 128-bit-or-more challenge", d)
		}
		// Pending domains count for nothing.
		if _, err := svc.HomeAccount(ctx, "ada@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("home account of a pending domain: %v; want NotFound", err)
		}

		steps := []struct {
			name    string
			records []string
			silence bool
			want    string // part of the refusal; empty for success
		}{
			{"no record yet", nil, false, "no TXT record at _admit-challenge.acme.example yet"},
			{"another value", []string{"admit-verify=someone-else", "v=spf1 -all"}, false, "do not include " + d.ChallengeValue()},
			{"a prefix of the value", []string{d.ChallengeValue()[:len(d.ChallengeValue())-1]}, false, "do not include"},
			{"the value with more after it", []string{d.ChallengeValue() + "x"}, false, "do not include"},
			{"the resolver does not answer", nil, true, "did not answer"},
		}
		for _, st := range steps {
			if st.silence {
				dns.Silence(d.ChallengeName())
			} else if st.records != nil {
				dns.SetTXT(d.ChallengeName(), st.records...)
			}
			// A silent resolver is given up on when the caller's deadline
			// comes (or after admit's own 10 s): the test does not wait that long.
			vctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := svc.VerifyDomain(vctx, acme.ID, accountAdmin, "acme.example")
			cancel()
			if directory.KindOf(err) != directory.Invalid || !strings.Contains(directory.Message(err), st.want) {
				t.Errorf("%s: VerifyDomain = %v; want Invalid mentioning %q", st.name, err, st.want)
			}
			if st.silence {
				break
			}
		}
		// The record beside others, as a provider with long records sends it.
		dns2 := dnstest.Start(t)
		svc = dnsService(t, s, dns2)
		dns2.SetTXT(d.ChallengeName(), "google-site-verification="+strings.Repeat("x", 300), d.ChallengeValue())
		got, err := svc.VerifyDomain(ctx, acme.ID, accountAdmin, "acme.example")
		if err != nil || !got.Verified() || got.VerifiedBy != directory.ProofDNS {
			t.Fatalf("VerifyDomain with the record = %+v, %v; want verified by dns", got, err)
		}
		if home, err := svc.HomeAccount(ctx, "Ada@ACME.example"); err != nil || home.ID != acme.ID {
			t.Errorf("home account = %v, %v; want acme", home.Slug, err)
		}
		a, _ := svc.Account(ctx, "acme")
		if strings.Join(a.Domains, ",") != "acme.example" {
			t.Errorf("account domains = %v; want the verified one", a.Domains)
		}
		// Verifying again is a no-op, not a second event.
		if _, err := svc.VerifyDomain(ctx, acme.ID, accountAdmin, "acme.example"); err != nil {
			t.Errorf("second verify: %v", err)
		}
		if n := strings.Count(strings.Join(auditActions(t, svc, acme.ID), " "), "domain.verified"); n != 1 {
			t.Errorf("domain.verified events = %d; want 1", n)
		}
	})
}

func TestDomainIsVerifiedByOneAccountAtMost(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		dns := dnstest.Start(t)
		svc := dnsService(t, s, dns)
		acme := mustAccount(t, svc, "acme", "acme.example")
		evil := mustAccount(t, svc, "evil")

		// A pending claim of a domain someone verified is allowed, and
		// proving it is refused even with the record in place.
		d, err := svc.AddDomain(ctx, evil.ID, accountAdmin, "acme.example", false)
		if err != nil {
			t.Fatalf("pending claim: %v", err)
		}
		dns.SetTXT(d.ChallengeName(), d.ChallengeValue())
		if _, err := svc.VerifyDomain(ctx, evil.ID, accountAdmin, "acme.example"); directory.KindOf(err) != directory.Conflict || !strings.Contains(directory.Message(err), "verified by another account") {
			t.Errorf("second verification = %v; want Conflict", err)
		}
		if _, err := svc.AddDomain(ctx, evil.ID, operator, "acme.example", true); directory.KindOf(err) != directory.Conflict {
			t.Errorf("operator vouching for another's domain = %v; want Conflict", err)
		}
		if home, err := svc.HomeAccount(ctx, "ceo@acme.example"); err != nil || home.ID != acme.ID {
			t.Errorf("home = %v, %v; want acme still", home.Slug, err)
		}
		// Once acme lets go, evil's proof counts.
		if err := svc.RemoveDomain(ctx, acme.ID, operator, "acme.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.VerifyDomain(ctx, evil.ID, accountAdmin, "acme.example"); err != nil {
			t.Errorf("verification after removal: %v", err)
		}
		if home, err := svc.HomeAccount(ctx, "ceo@acme.example"); err != nil || home.ID != evil.ID {
			t.Errorf("home = %v, %v; want evil now", home.Slug, err)
		}
	})
}

func TestDomainVouching(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme")
		if _, err := svc.AddDomain(ctx, acme.ID, accountAdmin, "acme.example", true); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("an account admin vouching = %v; want Forbidden", err)
		}
		if _, err := svc.AddDomain(ctx, acme.ID, accountAdmin, "acme.example", false); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddDomain(ctx, acme.ID, accountAdmin, "acme.example", false); directory.KindOf(err) != directory.Conflict {
			t.Errorf("claiming twice = %v; want Conflict", err)
		}
		// The operator vouches for a pending claim.
		d, err := svc.AddDomain(ctx, acme.ID, operator, "acme.example", true)
		if err != nil || d.VerifiedBy != directory.ProofOperator {
			t.Fatalf("vouch = %+v, %v", d, err)
		}
		want := []string{"account.created", "domain.added", "domain.verified"}
		if got := auditActions(t, svc, acme.ID); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("audit = %v; want %v", got, want)
		}
		for _, bad := range []string{"", "localhost", "*.acme.example", "acme..example", "-acme.example"} {
			if _, err := svc.AddDomain(ctx, acme.ID, operator, bad, true); directory.KindOf(err) != directory.Invalid {
				t.Errorf("AddDomain(%q) = %v; want Invalid", bad, err)
			}
		}
		if err := svc.RemoveDomain(ctx, acme.ID, operator, "other.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("removing a domain the account lacks = %v; want NotFound", err)
		}
		// A connection may name only verified domains, unless the operator
		// adds it (and so vouches).
		if _, err := svc.AddDomain(ctx, acme.ID, accountAdmin, "pending.example", false); err != nil {
			t.Fatal(err)
		}
		in := directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "okta", Domains: []string{"pending.example"}, Metadata: "<x/>"}
		if _, err := svc.CreateConnection(ctx, acme.ID, accountAdmin, in); directory.KindOf(err) != directory.Invalid {
			t.Errorf("connection over a pending domain by an admin = %v; want Invalid", err)
		}
		if _, err := svc.CreateConnection(ctx, acme.ID, operator, in); err != nil {
			t.Errorf("connection by the operator: %v", err)
		}
		if a, _ := svc.Account(ctx, "acme"); strings.Join(a.Domains, ",") != "acme.example,pending.example" {
			t.Errorf("domains = %v", a.Domains)
		}
	})
}
