package admin_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAPIInvitedPeople: the members listing's bounced=true keeps the
// invited people whose invitation email bounced, as the Users page's
// filter does; and an invited person is not deactivated (409, nothing
// changes): their invitation is revoked instead.
func TestAPIInvitedPeople(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		site := newAPISite(t, s)
		for _, e := range []string{"jon@alpha.test", "kim@alpha.test"} {
			if _, err := site.svc.Invite(ctx, site.alpha.ID, operator, directory.NewInvitation{Email: e}); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := site.svc.ClaimMail(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Recipient == "jon@alpha.test" {
				err = site.svc.MailRefused(ctx, m.ID, "550 5.1.1 no such mailbox")
			} else {
				err = site.svc.MailDelivered(ctx, m.ID, true)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		base := "/api/v1/accounts/alpha/members"
		emails := func(q string) []string {
			t.Helper()
			r := site.do(t, "GET", base+q, site.keyA, nil)
			if r.status != 200 {
				t.Fatalf("GET %s: %d %s", q, r.status, r.body)
			}
			var out []string
			for _, m := range r.data(t) {
				out = append(out, m["email"].(string))
			}
			return out
		}
		if got := emails("?bounced=true"); len(got) != 1 || got[0] != "jon@alpha.test" {
			t.Errorf("bounced=true: %v; want jon alone", got)
		}
		if got := emails("?bounced=true&status=active"); len(got) != 0 {
			t.Errorf("bounced=true&status=active: %v; want no one", got)
		}
		if got := emails("?bounced=false&status=invited"); len(got) != 2 {
			t.Errorf("bounced=false&status=invited: %v; want both", got)
		}
		wantProblem(t, "bad bounced", site.do(t, "GET", base+"?bounced=yes", site.keyA, nil), 400, "invalid")

		kim, err := site.svc.Member(ctx, site.alpha.ID, "kim@alpha.test")
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, "deactivate an invited person", site.do(t, "POST", base+"/"+kim.Membership.ID+"/deactivate", site.keyA, nil), 409, "conflict")
		if got := emails("?status=invited"); len(got) != 2 {
			t.Errorf("invited after the refusal: %v; want both still", got)
		}
	})
}
