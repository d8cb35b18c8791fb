package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

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

func TestPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		session, _, _ := svc.StartSession(ctx, u.ID, a.ID)
		if err := svc.RequestPasswordReset(ctx, "nobody@example.com", ""); err != nil {
			t.Fatalf("unknown email: %v; want the same quiet success", err)
		}
		if err := svc.RequestPasswordReset(ctx, "P@example.com", ""); err != nil {
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
		if err := svc.RequestPasswordReset(ctx, "p@example.com", ""); err != nil {
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
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		for range 5 {
			if err := svc.RequestPasswordReset(ctx, "p@example.com", ""); err != nil {
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
		_ = svc.RequestPasswordReset(ctx, "p@example.com", "")
		if msgs, _ := svc.ClaimMail(ctx, 100); len(msgs) != 1 {
			t.Errorf("an hour later: %d emails; want 1", len(msgs))
		}
	})
}
