package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestMailPage: an admin sees the account's mail and each delivery's
// state (waiting, kept, failed with the reason), never a message's text
// (its link is the recipient's); another account's mail is not there.
func TestMailPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		for _, e := range []string{"nia@acme.example", "joe@acme.example"} {
			if _, err := s.svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: e}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.svc.Invite(ctx, b.ID, operator, directory.NewInvitation{Email: "secret@beta.example"}); err != nil {
			t.Fatal(err)
		}
		// A worker's outcomes: one kept in the dev mailbox, one refused.
		msgs, err := s.svc.ClaimMail(ctx, 10)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("claimed %d, %v", len(msgs), err)
		}
		for _, m := range msgs {
			switch m.Recipient {
			case "nia@acme.example":
				err = s.svc.MailDelivered(ctx, m.ID, true)
			case "joe@acme.example":
				err = s.svc.MailRefused(ctx, m.ID, "550 5.1.1 no such mailbox")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		p := s.signIn(t, owner, a)
		if code, _ := p.get("/admin/acme/mail"); code != 200 {
			t.Fatalf("mail page: %d", code)
		}
		p.sees("nia@acme.example", "Kept (dev mailbox)", "joe@acme.example", "Failed", "550 5.1.1 no such mailbox", "Invitation")
		if strings.Contains(p.last, "secret@beta.example") {
			t.Error("acme's Mail page shows beta's mail")
		}
		if strings.Contains(p.last, "/invite/") {
			t.Error("the Mail page shows an invitation link")
		}
		m := s.add(t, a, "mo@acme.example", directory.RoleMember)
		if code, _ := s.signIn(t, m, a).get("/admin/acme/mail"); code != http.StatusForbidden {
			t.Errorf("a member: %d; want 403", code)
		}
	})
}
