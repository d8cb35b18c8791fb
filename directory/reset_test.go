package directory_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// resetLinkOf delivers queued mail and returns the token of the reset
// email to email ("" when there is none).
func resetLinkOf(t *testing.T, svc *directory.Service, email string) string {
	t.Helper()
	ctx := context.Background()
	msgs, err := svc.ClaimMail(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	token := ""
	for _, m := range msgs {
		body, err := svc.MailBodyOf(ctx, m)
		if err == nil && m.Kind == directory.MailPasswordReset && m.Recipient == email {
			token = body.Token
		}
		_ = svc.MailDelivered(ctx, m.ID, true)
	}
	return token
}

// proveAddress makes the person's password proven the one way there is:
// through an emailed reset link (here, to the same password).
func proveAddress(t *testing.T, svc *directory.Service, email, password string) {
	t.Helper()
	ctx := context.Background()
	if err := svc.RequestPasswordReset(ctx, email); err != nil {
		t.Fatal(err)
	}
	token := resetLinkOf(t, svc, email)
	if token == "" {
		t.Fatalf("no reset link was mailed to %s", email)
	}
	if _, err := svc.CompletePasswordReset(ctx, token, password); err != nil {
		t.Fatalf("complete reset: %v", err)
	}
}

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		session, _, _ := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		if err := svc.RequestPasswordReset(ctx, "nobody@example.com"); err != nil {
			t.Fatalf("unknown email: %v; want the same quiet success", err)
		}
		if err := svc.RequestPasswordReset(ctx, "P@example.com"); err != nil {
			t.Fatal(err)
		}
		token := resetLinkOf(t, svc, "p@example.com")
		if token == "" {
			t.Fatal("no reset email")
		}
		if strings.Contains(storedText(t, s), token) {
			t.Fatal("the reset token is stored")
		}
		if _, err := svc.CompletePasswordReset(ctx, token, "short"); directory.KindOf(err) != directory.Invalid {
			t.Errorf("weak password: %v", err)
		}
		if _, err := svc.CompletePasswordReset(ctx, token, "my brand new passphrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, session); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("session after reset: %v; want ended", err)
		}
		if _, err := svc.SignIn(ctx, "p@example.com", "my brand new passphrase", directory.Client{Addr: "127.0.0.1"}); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}
		if _, err := svc.OpenResetLink(ctx, token); directory.KindOf(err) != directory.Gone || !strings.Contains(directory.Message(err), "already been used") {
			t.Errorf("used link: %v", err)
		}
		// A link older than an hour no longer works.
		if err := svc.RequestPasswordReset(ctx, "p@example.com"); err != nil {
			t.Fatal(err)
		}
		late := resetLinkOf(t, svc, "p@example.com")
		clk.Add(directory.PasswordResetTTL)
		if _, err := svc.OpenResetLink(ctx, late); directory.KindOf(err) != directory.Gone || !strings.Contains(directory.Message(err), "expired") {
			t.Errorf("expired link: %v", err)
		}
		if _, err := svc.OpenResetLink(ctx, "forged"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("forged link: %v", err)
		}
	})
}

func TestPasswordResetRequestsAreThrottled(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		for range 5 {
			if err := svc.RequestPasswordReset(ctx, "p@example.com"); err != nil {
				t.Fatal(err)
			}
		}
		msgs, _ := svc.ClaimMail(ctx, 100)
		if len(msgs) != 3 {
			t.Errorf("%d reset emails for 5 requests; want 3 an hour", len(msgs))
		}
		for _, m := range msgs {
			_ = svc.MailDelivered(ctx, m.ID, true)
		}
		clk.Add(time.Hour + time.Second)
		_ = svc.RequestPasswordReset(ctx, "p@example.com")
		if msgs, _ := svc.ClaimMail(ctx, 100); len(msgs) != 1 {
			t.Errorf("an hour later: %d emails; want 1", len(msgs))
		}
	})
}

func TestResetLinkEndsWhenThePasswordChanges(t *testing.T) {
	t.Parallel()
	const email, first = "p@example.com", "first password of theirs"
	for _, tc := range []struct {
		name string
		// password is the person's before the link is sent ("" for none).
		password string
		// change sets a password by another way than the link.
		change func(t *testing.T, svc *directory.Service, u directory.User)
	}{
		{"ChangePassword", first, func(t *testing.T, svc *directory.Service, u directory.User) {
			ctx := context.Background()
			token, _, err := svc.StartSession(ctx, u.ID, u.LastAccountID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			v, err := svc.Authenticate(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.ChangePassword(ctx, v, first, "changed by the person"); err != nil {
				t.Fatal(err)
			}
		}},
		{"SetPassword", first, func(t *testing.T, svc *directory.Service, u directory.User) {
			if err := svc.SetPassword(context.Background(), u.ID, operator, "set on the person's behalf"); err != nil {
				t.Fatal(err)
			}
		}},
		{"another reset link", first, func(t *testing.T, svc *directory.Service, u directory.User) {
			ctx := context.Background()
			if err := svc.RequestPasswordReset(ctx, email); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.CompletePasswordReset(ctx, resetLinkOf(t, svc, email), "set from the second link"); err != nil {
				t.Fatal(err)
			}
		}},
		{"a first password from an invitation", "", func(t *testing.T, svc *directory.Service, u directory.User) {
			ctx := context.Background()
			beta := mustAccount(t, svc, "beta")
			if _, err := svc.Invite(ctx, beta.ID, operator, directory.NewInvitation{Email: email}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AcceptInvitation(ctx, linkOf(t, svc, email), directory.Acceptance{FirstName: "P", LastName: "Q", Password: "first set at the invitation"}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				// The clock stands still: the rule must not rest on
				// timestamps telling the link and the change apart.
				svc, _ := newClockService(t, s)
				a := mustAccount(t, svc, "acme")
				added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "P", LastName: "Q", Password: tc.password})
				if err != nil {
					t.Fatal(err)
				}
				u := added.Member.User
				u.LastAccountID = a.ID
				if err := svc.RequestPasswordReset(ctx, email); err != nil {
					t.Fatal(err)
				}
				link := resetLinkOf(t, svc, email)
				if _, err := svc.OpenResetLink(ctx, link); err != nil {
					t.Fatalf("the link before the change: %v", err)
				}
				tc.change(t, svc, u)
				const want = "This password reset link no longer works: your password was changed after it was sent."
				if _, err := svc.OpenResetLink(ctx, link); directory.KindOf(err) != directory.Gone || directory.Message(err) != want {
					t.Errorf("open after the change: %v; want Gone: %s", err, want)
				}
				if _, err := svc.CompletePasswordReset(ctx, link, "an attacker's choice"); directory.KindOf(err) != directory.Gone {
					t.Errorf("complete after the change: %v; want Gone", err)
				}
				if _, err := svc.SignIn(ctx, email, "an attacker's choice", directory.Client{Addr: "192.0.2.1"}); err == nil {
					t.Error("the outdated link set the password")
				}
			})
		})
	}
}

// Of several links completed at the same moment, one sets the password
// and the others find it changed.
func TestConcurrentResetLinks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		const n = 8
		var links []string
		for range n {
			if err := svc.RequestPasswordReset(ctx, "p@example.com"); err != nil {
				t.Fatal(err)
			}
			links = append(links, resetLinkOf(t, svc, "p@example.com"))
			clk.Add(resetWindowForTest / 3) // past the mail throttle
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, link := range links {
			wg.Go(func() {
				<-start
				_, errs[i] = svc.CompletePasswordReset(ctx, link, fmt.Sprintf("new password number %d", i))
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case directory.KindOf(err) != directory.Gone:
				t.Errorf("a losing link: %v; want Gone", err)
			}
		}
		if won != 1 {
			t.Errorf("%d links set the password; want exactly 1", won)
		}
	})
}

// resetWindowForTest is the reset mail throttle's window (unexported in directory).
const resetWindowForTest = time.Hour

// rowCounts counts the rows of every table.
func rowCounts(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	list := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if s.Dialect() == "postgres" {
		list = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	var tables []string
	if err := s.DB().Select(&tables, list); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, table := range tables {
		counts[table] = countRows(t, s, table)
	}
	return counts
}

func TestResetRequestsForUnknownEmailsWriteNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		before := rowCounts(t, s)
		const n = 1000
		start := time.Now()
		for i := range n {
			if err := svc.RequestPasswordReset(ctx, fmt.Sprintf("nobody%d@example.com", i)); err != nil {
				t.Fatal(err)
			}
		}
		unknown := time.Since(start) / n
		if diff := cmp.Diff(before, rowCounts(t, s)); diff != "" {
			t.Errorf("%d reset requests for unknown emails wrote rows (-before +after):\n%s", n, diff)
		}
		// The person's own requests are throttled still: 3 links an hour.
		var sent, throttled time.Duration
		for i := range 10 {
			start := time.Now()
			if err := svc.RequestPasswordReset(ctx, "p@example.com"); err != nil {
				t.Fatal(err)
			}
			if i < 3 {
				sent += time.Since(start) / 3
			} else {
				throttled += time.Since(start) / 7
			}
		}
		if got := countRows(t, s, "password_resets"); got != 3 {
			t.Errorf("%d reset links for 10 requests; want 3", got)
		}
		t.Logf("%s: per request, unknown email %v, known email sent %v, known email throttled %v", s.Dialect(), unknown, sent, throttled)
	})
}
