package directory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClockService(t testing.TB, s *store.Store) (*directory.Service, *clock) {
	t.Helper()
	c := &clock{now: time.Now().UTC()}
	return directory.NewService(directory.Config{Store: s, Hasher: fastHasher(), Now: c.Now}), c
}

// linkOf delivers the queued invitation mail for email the way the mail
// worker does, and returns the token its link carries.
func linkOf(t *testing.T, svc *directory.Service, email string) string {
	t.Helper()
	ctx := context.Background()
	msgs, err := svc.ClaimMail(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	token := ""
	for _, m := range msgs {
		body, err := svc.MailBodyOf(ctx, m)
		if err != nil && directory.KindOf(err) != directory.Gone {
			t.Fatal(err)
		}
		if m.Kind == directory.MailInvitation && m.Recipient == email && err == nil {
			token = body.Token
		}
		if err := svc.MailDelivered(ctx, m.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	if token == "" {
		t.Fatalf("no invitation mail queued for %s", email)
	}
	return token
}

func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		inv, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "New.Person@Example.com", Role: directory.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if inv.Status != directory.InvitationPending || !inv.ExpiresAt.Equal(clk.Now().Truncate(time.Microsecond).Add(7*24*time.Hour)) {
			t.Errorf("invitation = %+v; want pending for 7 days", inv)
		}
		m, err := svc.Member(ctx, a.ID, "new.person@example.com")
		if err != nil || m.Membership.Status != directory.StatusInvited || m.Membership.Role != directory.RoleAdmin {
			t.Errorf("membership = %+v, %v; want an invited admin", m.Membership, err)
		}
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "new.person@example.com"}); directory.KindOf(err) != directory.Conflict || !strings.Contains(directory.Message(err), "resend") {
			t.Errorf("second invite: %v; want a Conflict suggesting resend", err)
		}
		token := linkOf(t, svc, "New.Person@example.com")
		if strings.Contains(storedText(t, s), token) {
			t.Fatal("the link token is stored in the database (rule 5: only its hash)")
		}
		link, err := svc.OpenInvitationLink(ctx, token)
		if err != nil || link.HasPassword || link.Account.ID != a.ID {
			t.Fatalf("open link: %+v, %v", link, err)
		}
		if _, err := svc.OpenInvitationLink(ctx, token+"x"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("wrong token: %v; want NotFound", err)
		}
		_, err = svc.AcceptInvitation(ctx, token, directory.Acceptance{FirstName: "New", LastName: "", Password: "Zq9#short"})
		if directory.KindOf(err) != directory.Invalid || len(directory.ProblemsOf(err)) != 2 {
			t.Errorf("bad acceptance: %v; want last name and password problems", err)
		}
		member, err := svc.AcceptInvitation(ctx, token, directory.Acceptance{FirstName: "New", LastName: "Person", Password: "violet staple orbit lantern"})
		if err != nil {
			t.Fatal(err)
		}
		if member.Membership.Status != directory.StatusActive || member.User.FirstName != "New" {
			t.Errorf("accepted member = %+v", member)
		}
		u, _ := s.FindUser(ctx, member.User.ID)
		if ok, _, _ := fastHasher().Verify(ctx, u.PasswordHash, "violet staple orbit lantern"); !ok || u.PasswordMustChange {
			t.Error("the chosen password was not stored, or is marked for change")
		}
		if _, err := svc.OpenInvitationLink(ctx, token); directory.KindOf(err) != directory.Gone || !strings.Contains(directory.Message(err), "already been used") {
			t.Errorf("used link: %v; want Gone, already used", err)
		}
		if _, err := svc.AcceptInvitation(ctx, token, directory.Acceptance{FirstName: "X", LastName: "Y", Password: "another fine passphrase"}); directory.KindOf(err) != directory.Gone {
			t.Errorf("second acceptance: %v; want Gone", err)
		}
		if _, err := svc.Resend(ctx, a.ID, operator, "new.person@example.com", 0); directory.KindOf(err) != directory.Conflict {
			t.Errorf("resend after acceptance: %v; want Conflict", err)
		}
		if got := auditActions(t, svc, a.ID); !slices.Contains(got, "invitation.created") || !slices.Contains(got, "invitation.accepted") {
			t.Errorf("audit = %v", got)
		}
	})
}

// storedText is every invitation and mail row as text, to search for secrets.
func storedText(t *testing.T, s *store.Store) string {
	t.Helper()
	var rows []string
	if err := s.DB().Select(&rows, `SELECT id || token_hash || token_nonce FROM invitations UNION ALL SELECT id || CAST(data AS TEXT) FROM mail_messages UNION ALL SELECT CAST(payload AS TEXT) FROM outbox_messages`); err != nil {
		t.Fatal(err)
	}
	return strings.Join(rows, "\n")
}

func TestInvitationExpiresRevokesAndRotates(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "x@example.com", TTL: 2 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		first := linkOf(t, svc, "x@example.com")
		clk.Add(2 * time.Hour)
		if _, err := svc.OpenInvitationLink(ctx, first); directory.KindOf(err) != directory.Gone || !strings.Contains(directory.Message(err), "expired") {
			t.Errorf("expired link: %v; want Gone, expired", err)
		}
		inv, err := svc.Resend(ctx, a.ID, operator, "X@example.com", 0)
		if err != nil || inv.Sends != 2 {
			t.Fatalf("resend: %+v, %v; want 2 sends", inv, err)
		}
		second := linkOf(t, svc, "x@example.com")
		if second == first {
			t.Fatal("resend did not rotate the token")
		}
		if _, err := svc.OpenInvitationLink(ctx, first); directory.KindOf(err) != directory.NotFound {
			t.Errorf("old link after resend: %v; want NotFound", err)
		}
		if _, err := svc.OpenInvitationLink(ctx, second); err != nil {
			t.Errorf("new link: %v", err)
		}
		if _, err := svc.Revoke(ctx, a.ID, operator, "x@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.OpenInvitationLink(ctx, second); directory.KindOf(err) != directory.Gone || !strings.Contains(directory.Message(err), "withdrawn") {
			t.Errorf("revoked link: %v; want Gone, withdrawn", err)
		}
		if _, err := svc.Member(ctx, a.ID, "x@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("membership after revoke: %v; want it gone", err)
		}
		if _, err := svc.Revoke(ctx, a.ID, operator, "x@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("second revoke: %v; want NotFound", err)
		}
		// After a revoke the person can be invited afresh.
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "x@example.com"}); err != nil {
			t.Errorf("invite after revoke: %v", err)
		}
		for _, ttl := range []time.Duration{time.Minute, 31 * 24 * time.Hour} {
			if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "y@example.com", TTL: ttl}); directory.KindOf(err) != directory.Invalid {
				t.Errorf("TTL %v: %v; want Invalid", ttl, err)
			}
		}
	})
}

func TestAcceptingAsExistingUserKeepsTheirPassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		home := mustAccount(t, svc, "home")
		other := mustAccount(t, svc, "other")
		if _, err := svc.AddUser(ctx, home.ID, operator, directory.NewUser{Email: "p@example.com", FirstName: "Pat", LastName: "Q", Password: "the password pat has"}); err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "p@example.com", "the password pat has")
		added, err := svc.Member(ctx, home.ID, "p@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, other.ID, operator, directory.NewInvitation{Email: "p@example.com"}); err != nil {
			t.Fatal(err)
		}
		token := linkOf(t, svc, "p@example.com")
		link, err := svc.OpenInvitationLink(ctx, token)
		if err != nil || !link.HasPassword {
			t.Fatalf("link = %+v, %v; want HasPassword", link, err)
		}
		_, err = svc.AcceptInvitation(ctx, token, directory.Acceptance{Password: "not the password"})
		if directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("wrong password: %v; want Unauthenticated", err)
		}
		m, err := svc.AcceptInvitation(ctx, token, directory.Acceptance{FirstName: "Evil", LastName: "Rename", Password: "the password pat has"})
		if err != nil || m.Membership.Status != directory.StatusActive {
			t.Fatalf("accept: %+v, %v", m, err)
		}
		u, _ := s.FindUser(ctx, added.User.ID)
		if u.PasswordHash != added.User.PasswordHash || u.FirstName != "Pat" {
			t.Error("accepting an invitation changed an existing person's password or name")
		}
	})
}

func TestBounceMarksUndeliverableAndTellsInviterOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "boss@acme.example", FirstName: "B", LastName: "Oss", Role: directory.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "typo@acme.example", InviterEmail: "nobody@acme.example"}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("unknown inviter: %v; want Invalid", err)
		}
		if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "typo@acme.example", InviterEmail: "boss@acme.example"}); err != nil {
			t.Fatal(err)
		}
		msgs, err := svc.ClaimMail(ctx, 10)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("claimed %d, %v; want the invitation", len(msgs), err)
		}
		for range 2 { // a late bounce report after the 550 changes nothing
			if err := svc.MailRefused(ctx, msgs[0].ID, "550 5.1.1 no such user"); err != nil {
				t.Fatal(err)
			}
		}
		invs, _ := svc.Invitations(ctx, a.ID)
		if invs[0].Status != directory.InvitationUndeliverable || !strings.Contains(invs[0].BounceReason, "550") {
			t.Errorf("invitation = %+v; want undeliverable with the reason", invs[0])
		}
		notices, err := svc.ClaimMail(ctx, 10)
		if err != nil || len(notices) != 1 || notices[0].Kind != directory.MailInvitationUndeliverable || notices[0].Recipient != "boss@acme.example" {
			t.Fatalf("notices = %+v, %v; want one notice to the inviter", notices, err)
		}
		// Fixing the mailbox and resending makes it pending again.
		if inv, err := svc.Resend(ctx, a.ID, operator, "typo@acme.example", 0); err != nil || inv.Status != directory.InvitationPending {
			t.Errorf("resend of undeliverable: %+v, %v", inv, err)
		}
	})
}

func TestMailClaimsLeasesAndRetries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		const n = 20
		for i := range n {
			if _, err := svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: "p" + string(rune('a'+i)) + "@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		// Five workers claim at once: every message goes to exactly one.
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				for {
					msgs, err := svc.ClaimMail(ctx, 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(msgs) == 0 {
						return
					}
					mu.Lock()
					for _, m := range msgs {
						seen[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d distinct messages; want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("message %s claimed %d times", id, c)
			}
		}
		// A worker that died leaves its claims; after the lease they return.
		if msgs, _ := svc.ClaimMail(ctx, 100); len(msgs) != 0 {
			t.Errorf("claimed %d leased messages; want none", len(msgs))
		}
		clk.Add(directory.MailLease + time.Second)
		again, err := svc.ClaimMail(ctx, 100)
		if err != nil || len(again) != n || again[0].Attempts != 2 {
			t.Fatalf("after the lease: %d messages, %v; want all %d on their second attempt", len(again), err, n)
		}
		if err := svc.MailRetry(ctx, again[0], errors.New("421 try later")); err != nil {
			t.Fatal(err)
		}
		for _, m := range again[1:] {
			if err := svc.MailDelivered(ctx, m.ID, false); err != nil {
				t.Fatal(err)
			}
		}
		if msgs, _ := svc.ClaimMail(ctx, 100); len(msgs) != 0 {
			t.Errorf("a message to retry later was claimed at once")
		}
		clk.Add(time.Hour)
		retried, err := svc.ClaimMail(ctx, 100)
		if err != nil || len(retried) != 1 || retried[0].ID != again[0].ID || retried[0].LastError != "421 try later" {
			t.Errorf("after the backoff: %+v, %v; want the retried message", retried, err)
		}
	})
}

func TestInvitationPasswordGuessesAreThrottled(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		home, other := mustAccount(t, svc, "home"), mustAccount(t, svc, "other")
		if _, err := svc.AddUser(ctx, home.ID, operator, directory.NewUser{Email: "p@example.com", FirstName: "P", LastName: "Q", Password: "the password pat has"}); err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "p@example.com", "the password pat has")
		if _, err := svc.Invite(ctx, other.ID, operator, directory.NewInvitation{Email: "p@example.com"}); err != nil {
			t.Fatal(err)
		}
		token := linkOf(t, svc, "p@example.com")
		for range 5 {
			_, _ = svc.AcceptInvitation(ctx, token, directory.Acceptance{Password: "guess"})
		}
		if _, err := svc.AcceptInvitation(ctx, token, directory.Acceptance{Password: "the password pat has"}); directory.KindOf(err) != directory.Throttled {
			t.Errorf("after 5 wrong guesses: %v; want Throttled", err)
		}
	})
}
