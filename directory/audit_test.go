package directory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// TestAuditTrailRefusesUnknownAction: an action filter that finds nothing
// is refused when the trail never recorded the action (a typo must not
// read as "nothing happened"), naming the nearest actions it did record;
// an action the trail recorded, another trail's action, and the bound on
// how much of a trail is read to tell.
func TestAuditTrailRefusesUnknownAction(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "pat@example.com", "a first passphrase")
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "ivy@example.com"}); err != nil {
			t.Fatal(err)
		}
		// quiet records only its creation; user.created is acme's.
		quiet := mustAccount(t, svc, "quiet")
		// big has more events than a lookup reads: legacy.action (an older
		// version's) only before them.
		big := mustAccount(t, svc, "big")
		old := clk.Now().Add(-time.Hour)
		events := []directory.AuditEvent{{ID: "legacy", AccountID: big.ID, Actor: directory.Actor{Source: "cli"}, Action: "legacy.action", TargetType: "account", TargetID: big.ID, Data: []byte(`{}`), CreatedAt: old}}
		for i := range 10_000 {
			events = append(events, directory.AuditEvent{ID: fmt.Sprintf("bulk-%05d", i), AccountID: big.ID, Actor: directory.Actor{Source: "cli"}, Action: fmt.Sprintf("bulk.action%d", i%12),
				TargetType: "account", TargetID: big.ID, Data: []byte(`{}`), CreatedAt: old.Add(time.Duration(i+1) * time.Millisecond)})
		}
		if err := s.AddAuditEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Minute)
		later := clk.Now()
		for _, tc := range []struct {
			name, account, action string
			since                 time.Time
			want                  int    // events
			refused               string // in the refusal; "" when none
		}{
			{"a typo names the nearest", a.ID, "membership.craeted", time.Time{}, 0, `no audit event here has the action "membership.craeted"; the actions recorded are account.created, invitation.created, membership.created, user.created`},
			{"an event type is no action", a.ID, "invitation.sent", time.Time{}, 0, "invitation.created"},
			{"a recorded action, not since", a.ID, "user.created", later, 0, ""},
			{"a typo since", a.ID, "user.craeted", later, 0, "user.created"},
			{"another account's action", quiet.ID, "user.created", time.Time{}, 0, "the actions recorded are account.created"},
			{"the installation's trail, empty", "", "user.erased", time.Time{}, 0, "records no events yet"},
			{"an action older than the lookup reads", big.ID, "legacy.action", time.Time{}, 1, ""},
			{"since, older than the lookup reads", big.ID, "legacy.action", later, 0, ""},
			{"since, unknown in a trail longer than the lookup reads", big.ID, "bogus", later, 0, ""},
			{"unknown in a long trail", big.ID, "bulk.actoin1", time.Time{}, 0, "the nearest recorded are bulk.action1, "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for api, list := range map[string]func() (int, error){
					"AuditTrail": func() (int, error) {
						events, err := svc.AuditTrail(ctx, tc.account, "", tc.action, tc.since, 0)
						return len(events), err
					},
					"AuditTrailPage": func() (int, error) {
						p, err := svc.AuditTrailPage(ctx, tc.account, directory.AuditQuery{Action: tc.action, Since: tc.since}, "")
						return len(p.Events), err
					},
				} {
					n, err := list()
					switch {
					case tc.refused == "" && (err != nil || n != tc.want):
						t.Errorf("%s: %d events, %v; want %d", api, n, err, tc.want)
					case tc.refused != "" && (directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), tc.refused)):
						t.Errorf("%s: %d events, %v; want Invalid with %q", api, n, err, tc.refused)
					}
				}
			})
		}
	})
}

// TestAuditFilterIsText: a filter is text a person typed. A NUL or bytes
// that are not UTF-8 reached PostgreSQL, which refuses them in a text
// parameter: a 500 for a caller's mistake. They are refused as invalid,
// on both stores alike, as is a filter longer than anything recorded.
func TestAuditFilterIsText(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		adm := operatorKeyAdmin(t, svc, a)
		for _, tc := range []struct{ name, action, actor string }{
			{"a NUL in the action", "user.created\x00", ""},
			{"an action not UTF-8", "user.\xff", ""},
			{"a NUL in the actor", "", "pat\x00@example.com"},
			{"an actor not UTF-8", "", "\xc3("},
			{"a very long action", strings.Repeat("a", 321), ""},
			{"a very long actor", "", strings.Repeat("a", 321)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := svc.AuditTrailPage(ctx, a.ID, directory.AuditQuery{Action: tc.action, Actor: tc.actor}, "")
				if directory.KindOf(err) != directory.Invalid {
					t.Errorf("AuditTrailPage: %v; want Invalid", err)
				}
				_, err = svc.AuditLog(ctx, adm, directory.AuditFilter{Action: tc.action, Actor: tc.actor}, "", 10)
				if directory.KindOf(err) != directory.Invalid {
					t.Errorf("AuditLog: %v; want Invalid", err)
				}
				if tc.actor == "" {
					if _, err := svc.AuditTrail(ctx, a.ID, "", tc.action, time.Time{}, 0); directory.KindOf(err) != directory.Invalid {
						t.Errorf("AuditTrail: %v; want Invalid", err)
					}
				}
			})
		}
	})
}

// TestAuditDataReadsAsWritten: an event's data is kept as people read it
// in the console and the CLI: a name "Smith & Sons <UK>" was shown as
// "Smith \u0026 Sons \u003cUK\u003e", json.Marshal's escaping for HTML.
func TestAuditDataReadsAsWritten(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "pat@example.com", FirstName: "Pat", LastName: "Smith & Sons <UK>", Password: "a first passphrase"}); err != nil {
			t.Fatal(err)
		}
		events, err := svc.AuditTrail(ctx, a.ID, "", "", time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			if strings.Contains(string(e.Data), `\u00`) {
				t.Errorf("%s: %s; want the text as written", e.Action, e.Data)
			}
			found = found || strings.Contains(string(e.Data), "Smith & Sons <UK>")
		}
		if !found {
			t.Errorf("no event names Smith & Sons <UK>: %+v", events)
		}
	})
}
