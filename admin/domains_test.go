package admin_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/admit-dev/admit/admin"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/directory/dnstest"
	"github.com/admit-dev/admit/login"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// TestDomainsPage: an owner claims a domain, is shown the TXT record to
// publish, fails to verify before it is published (told why), verifies
// after, against a real DNS server on loopback; another account cannot
// take it; the owner withdraws a claim. An admin sees the page but changes
// nothing; another account's owner reaches nothing.
func TestDomainsPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		dns := dnstest.Start(t)
		svc := directory.NewService(directory.Config{Store: st, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}), Resolver: dns.Resolver()})
		pages, err := web.NewRenderer(web.Config{Key: bytes.Repeat([]byte("k"), 32)})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		signIn, err := login.New(login.Config{Directory: svc, Pages: pages, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		signIn.Register(mux)
		console, err := admin.New(admin.Config{Directory: svc, Pages: pages})
		if err != nil {
			t.Fatal(err)
		}
		console.Register(mux)
		srv := httptest.NewServer(web.RequestID(mux))
		t.Cleanup(srv.Close)
		s := &site{svc: svc, server: srv}

		a, b := s.account(t, "acme"), s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		p := s.signIn(t, owner, a)
		p.get("/admin/acme/domains")
		p.sees("No domain yet.")
		if code, _ := p.post("/admin/acme/domains", url.Values{"action": {"add"}, "domain": {"not a domain"}}); code != http.StatusBadRequest {
			t.Errorf("a bad name: %d; want 400", code)
		}
		p.sees("is not a domain name", `value="not a domain"`)
		code, path := p.post("/admin/acme/domains", url.Values{"action": {"add"}, "domain": {"Acme.Example"}})
		if code != 200 || path != "/admin/acme/domains?done=added" {
			t.Fatalf("add: %d at %s\n%s", code, path, p.last)
		}
		ds, _ := svc.Domains(ctx, a.ID)
		if len(ds) != 1 || ds[0].Verified() {
			t.Fatalf("domains: %+v", ds)
		}
		p.sees("Pending", "<code>_admit-challenge.acme.example</code> TXT", ds[0].ChallengeValue())
		// Withdrawing asks first: its button shows only once opened.
		p.sees(`<details class="confirm"><summary>Withdraw…</summary>`, "Withdraw acme.example</button>")

		if code, _ := p.post("/admin/acme/domains", url.Values{"action": {"verify"}, "domain": {"acme.example"}}); code != http.StatusBadRequest {
			t.Errorf("verify before publishing: %d; want 400", code)
		}
		p.sees("no TXT record at _admit-challenge.acme.example yet")
		dns.SetTXT(ds[0].ChallengeName(), ds[0].ChallengeValue())
		if code, path := p.post("/admin/acme/domains", url.Values{"action": {"verify"}, "domain": {"acme.example"}}); code != 200 || path != "/admin/acme/domains?done=verified" {
			t.Fatalf("verify: %d at %s\n%s", code, path, p.last)
		}
		p.sees("The domain is verified.", "<td>Verified</td>")
		if ev := s.events(t, a, "domain.verified"); len(ev) != 1 || ev[0].Actor.ID != owner.User.ID {
			t.Errorf("audit: %+v", ev)
		}

		// beta's owner: nothing of acme's, and acme's domain cannot be taken.
		bo := s.add(t, b, "bo@beta.example", directory.RoleOwner)
		pb := s.signIn(t, bo, b)
		if code, _ := pb.get("/admin/acme/domains"); code != http.StatusNotFound {
			t.Errorf("beta's owner at acme's domains: %d; want 404", code)
		}
		pb.get("/admin/beta/domains")
		if code, _ := pb.post("/admin/acme/domains", url.Values{"action": {"remove"}, "domain": {"acme.example"}}); code != http.StatusNotFound {
			t.Errorf("beta's owner withdrawing acme's domain: %d; want 404", code)
		}
		pb.post("/admin/beta/domains", url.Values{"action": {"add"}, "domain": {"acme.example"}})
		bd, _ := svc.Domains(ctx, b.ID)
		if len(bd) == 1 {
			dns.SetTXT(bd[0].ChallengeName(), ds[0].ChallengeValue(), bd[0].ChallengeValue())
			if code, _ := pb.post("/admin/beta/domains", url.Values{"action": {"verify"}, "domain": {"acme.example"}}); code == 200 {
				t.Error("beta verified acme's domain")
			}
		}
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		pa := s.signIn(t, ada, a)
		pa.get("/admin/acme/domains")
		pa.sees("Only the owners of this account claim and verify domains.")
		if code, _ := pa.post("/admin/acme/domains", url.Values{"action": {"remove"}, "domain": {"acme.example"}}); code != http.StatusForbidden {
			t.Errorf("an admin withdrawing: %d; want 403", code)
		}

		if code, path := p.post("/admin/acme/domains", url.Values{"action": {"remove"}, "domain": {"acme.example"}}); code != 200 || path != "/admin/acme/domains?done=removed" {
			t.Errorf("withdraw: %d at %s", code, path)
		}
		if ds, _ := svc.Domains(ctx, a.ID); len(ds) != 0 {
			t.Errorf("after withdrawing: %+v", ds)
		}
	})
}
