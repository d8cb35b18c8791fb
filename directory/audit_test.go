package directory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestAuditTrailFilters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a, other := mustAccount(t, svc, "acme"), mustAccount(t, svc, "other")
		addWithPassword(t, svc, a.ID, "pat@example.com", "a first passphrase")
		clk.Add(time.Hour)
		since := clk.Now()
		addWithPassword(t, svc, a.ID, "sam@example.com", "a first passphrase")
		addWithPassword(t, svc, other.ID, "pat@example.com", "unused: pat has one")
		// Ivy is invited: her invitation's events target the invitation.
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "ivy@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Revoke(ctx, a.ID, operator, "ivy@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, other.ID, operator, directory.NewInvitation{Email: "ivy@example.com"}); err != nil {
			t.Fatal(err)
		}
		actions := func(events []directory.AuditEvent) []string {
			var out []string
			for _, e := range events {
				out = append(out, e.Action)
			}
			return out
		}
		for _, tc := range []struct {
			name, person, action string
			since                time.Time
			limit                int
			want                 []string // newest first
		}{
			{"everything", "", "", time.Time{}, 0, []string{"invitation.revoked", "invitation.created", "membership.created", "user.created", "membership.created", "user.created", "account.created"}},
			{"an invited person", "ivy@example.com", "", time.Time{}, 0, []string{"invitation.revoked", "invitation.created"}},
			{"a person", "PAT@example.com", "", time.Time{}, 0, []string{"membership.created", "user.created"}},
			{"an action", "", "membership.created", time.Time{}, 0, []string{"membership.created", "membership.created"}},
			{"since", "", "", since, 0, []string{"invitation.revoked", "invitation.created", "membership.created", "user.created"}},
			{"a limit", "", "", time.Time{}, 1, []string{"invitation.revoked"}},
			{"a person and an action", "sam@example.com", "user.created", time.Time{}, 0, []string{"user.created"}},
			{"an address the account never dealt with", "nobody@example.com", "", time.Time{}, 0, nil},
			{"an unusable address", "a\x00b@example.com", "", time.Time{}, 0, nil},
		} {
			events, err := svc.AuditTrail(ctx, a.ID, tc.person, tc.action, tc.since, tc.limit)
			if got := actions(events); err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
			}
		}
	})
}
