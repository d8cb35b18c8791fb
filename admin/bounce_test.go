package admin_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// bounce has the mail server refuse the account's queued invitation to
// email, as the mail worker records a 5xx reply.
func (s *site) bounce(t *testing.T, email, reason string) {
	t.Helper()
	ctx := context.Background()
	msgs, err := s.svc.ClaimMail(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range msgs {
		if m.Recipient == email && m.Kind == directory.MailInvitation {
			found = true
			err = s.svc.MailRefused(ctx, m.ID, reason)
		} else {
			err = s.svc.MailDelivered(ctx, m.ID, true)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("no invitation to %s was waiting", email)
	}
}

// TestBouncedInvitation: an invitation whose email bounced is marked in
// the Users table and on the person's page (when, to which address, what
// the mail server said) with the ways out: correct the address, resend,
// remove. Corrected and resent, the invitation goes to the new address.
// The Users page's "Invitation bounced" filter lists such people alone.
func TestBouncedInvitation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, err := s.svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme", Domains: []string{"acme.test"}})
		if err != nil {
			t.Fatal(err)
		}
		owner := s.add(t, a, "olive@acme.test", directory.RoleOwner)
		p := s.signIn(t, owner, a)
		p.get("/admin/acme/invite")
		for _, e := range []string{"jon@acme.test", "kim@acme.test"} {
			if code, _ := p.post("/admin/acme/invite", url.Values{"email": {e}, "role": {"member"}}); code != 200 {
				t.Fatalf("invite %s: %d", e, code)
			}
		}
		s.bounce(t, "jon@acme.test", "550 5.1.1 <jon@acme.test>: no such mailbox")
		jon, err := s.svc.Member(ctx, a.ID, "jon@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		today := jon.Membership.CreatedAt.Format("2006-01-02")

		// The Users table: Jon's row says so, Kim's (delivered) does not.
		p.get("/admin/acme/users")
		row := func(email string) string {
			t.Helper()
			m := regexp.MustCompile(`(?s)<tr>\s*<td><input[^>]*aria-label="Select ` + regexp.QuoteMeta(email) + `".*?</tr>`).FindString(p.last)
			if m == "" {
				t.Fatalf("no row for %s:\n%s", email, p.last)
			}
			return m
		}
		if r := row("jon@acme.test"); !strings.Contains(r, "Invitation bounced") || !strings.Contains(r, today) {
			t.Errorf("Jon's row does not say the invitation bounced, and when:\n%s", r)
		}
		if r := row("kim@acme.test"); strings.Contains(r, "bounced") {
			t.Errorf("Kim's row says bounced:\n%s", r)
		}
		// Kim's page says where her invitation went, and until when it works.
		kim, err := s.svc.Member(ctx, a.ID, "kim@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/users/" + kim.Membership.ID)
		p.sees(`<dd id="invitation">sent once to kim@acme.test; the link works until `)
		if strings.Contains(p.last, `id="bounced"`) {
			t.Error("Kim's page says her invitation bounced")
		}
		p.get("/admin/acme/users?status=invited")
		p.sees("Invitation bounced")

		// The filter lists the bounced alone, and counts them.
		for _, q := range []string{"?bounced=1", "?bounced=1&status=invited&sort=name", "?bounced=1&q=j"} {
			if code, _ := p.get("/admin/acme/users" + q); code != 200 {
				t.Fatalf("users%s: %d", q, code)
			}
			p.sees(`1 person match`, `aria-label="Select jon@acme.test"`, `id="bounced" name="bounced" value="1" checked`)
			for _, other := range []string{"kim@acme.test", "olive@acme.test"} {
				if strings.Contains(p.last, `aria-label="Select `+other+`"`) {
					t.Errorf("users%s lists %s, whose invitation did not bounce", q, other)
				}
			}
		}
		p.get("/admin/acme/users?bounced=1&status=active")
		p.sees("No one here matches.")

		// His page: when, to which address, the server's words, the ways out.
		page := "/admin/acme/users/" + jon.Membership.ID
		p.get(page)
		p.sees(`id="bounced"`, "Invitation bounced", today, "jon@acme.test", "no such mailbox",
			`href="#person-form"`, `id="resend"`, `id="revoke"`)

		// The address corrected: the invitation goes again, to the new
		// address (a new link), and the page no longer says it bounced.
		if code, path := p.post(page+"/person", url.Values{"first_name": {"Jon"}, "last_name": {"Doe"}, "email": {"jonathan@acme.test"}}); code != 200 || !strings.Contains(path, "done=") {
			t.Fatalf("correct the address: %d at %s\n%s", code, path, p.last)
		}
		p.get(page)
		if strings.Contains(p.last, `id="bounced"`) {
			t.Error("the page still says the invitation bounced after the address was corrected")
		}
		msgs, err := s.svc.ClaimMail(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, m := range msgs {
			if m.Kind == directory.MailInvitation {
				to = append(to, m.Recipient)
			}
		}
		if len(to) != 1 || to[0] != "jonathan@acme.test" {
			t.Errorf("the invitation went again to %v; want the corrected address jonathan@acme.test, once", to)
		}

		// Outside the verified domains, the page offers removal and a new
		// invitation instead of the correction.
		p.get("/admin/acme/invite")
		p.post("/admin/acme/invite", url.Values{"email": {"guest@elsewhere.test"}, "role": {"member"}})
		s.bounce(t, "guest@elsewhere.test", "550 no such user")
		guest, err := s.svc.Member(ctx, a.ID, "guest@elsewhere.test")
		if err != nil {
			t.Fatal(err)
		}
		p.get("/admin/acme/users/" + guest.Membership.ID)
		p.sees(`id="bounced"`, "no such user", "revoke the invitation and invite the right address")
	})
}
