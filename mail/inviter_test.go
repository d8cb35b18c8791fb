package mail_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestInvitationsOutliveTheirInviter: an admin invites someone, then
// leaves: is erased (GDPR), or loses their membership of the account. A
// bounce reported for the invitation is still recorded (the invitation
// undeliverable, 200 to the mail service), and tells only someone who is
// still an active member of the account: an erased inviter is nobody to
// write to, and a former admin is no longer told who the account invites.
// The invitation, resent, is delivered, in the account's name rather
// than the former inviter's.
func TestInvitationsOutliveTheirInviter(t *testing.T) {
	for _, leave := range []string{"erased", "deactivated", "removed"} {
		t.Run(leave, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				f := newFixture(t, s)
				f.invite(t, "typo@acme.example")
				w := newWorker(t, f, "") // the dev mailbox: kept, as if sent
				if n := runOnce(t, w); n != 1 {
					t.Fatalf("delivered %d; want the invitation", n)
				}
				msgs, err := f.svc.Mail(ctx, f.account.ID, 10)
				if err != nil || len(msgs) != 1 {
					t.Fatalf("mail: %v, %v", msgs, err)
				}
				invitation := msgs[0]
				switch leave {
				case "erased":
					_, err = f.svc.ErasePerson(ctx, operator, "boss@acme.example", directory.EraseOptions{OrphanOK: true})
				case "deactivated":
					_, err = f.svc.Deactivate(ctx, f.account.ID, operator, "boss@acme.example")
				case "removed":
					var (
						key directory.APIKey
						adm directory.Admin
						m   directory.Member
					)
					if _, key, err = f.svc.CreateAPIKey(ctx, f.account.ID, operator, "sync"); err == nil {
						if adm, err = f.svc.KeyAdmin(ctx, key, f.account.Slug); err == nil {
							if m, err = f.svc.Member(ctx, f.account.ID, "boss@acme.example"); err == nil {
								_, err = f.svc.RemoveMember(ctx, adm, m.User.ID)
							}
						}
					}
				}
				if err != nil {
					t.Fatal(err)
				}

				secret := []byte("0123456789abcdef0123456789abcdef")
				hook := httptest.NewServer(mail.NewBounceHook(f.svc, secret, slog.New(slog.DiscardHandler)))
				t.Cleanup(hook.Close)
				body := `{"message_id":"<` + invitation.ID + `@admit.example>","recipient":"typo@acme.example","reason":"550 no such user"}`
				req, _ := http.NewRequest("POST", hook.URL+"/hooks/mail-bounce", strings.NewReader(body))
				ts := time.Now().Unix()
				req.Header.Set("X-Admit-Timestamp", strconv.FormatInt(ts, 10))
				req.Header.Set("X-Admit-Signature", mail.Sign(secret, ts, []byte(body)))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("bounce report: %d; want 200", res.StatusCode)
				}
				invs, err := f.svc.Invitations(ctx, f.account.ID)
				if err != nil || len(invs) != 1 || invs[0].Status != directory.InvitationUndeliverable {
					t.Fatalf("invitations %+v, %v; want it undeliverable", invs, err)
				}
				if msgs, _ := f.svc.Mail(ctx, f.account.ID, 10); len(msgs) != 1 {
					for _, m := range msgs {
						if m.Kind == directory.MailInvitationUndeliverable {
							t.Errorf("the %s inviter is told at %s", leave, m.Recipient)
						}
					}
				}

				// Resent, the invitation goes out.
				if _, err := f.svc.Resend(ctx, f.account.ID, operator, "typo@acme.example", 0); err != nil {
					t.Fatal(err)
				}
				runOnce(t, w)
				msgs, _ = f.svc.Mail(ctx, f.account.ID, 10)
				if len(msgs) == 0 || msgs[0].Kind != directory.MailInvitation || msgs[0].Status != directory.MailKept {
					t.Fatalf("the resent invitation: %+v; want it delivered", msgs)
				}
				if b, err := f.svc.MailBodyOf(ctx, msgs[0]); err != nil || b.Inviter != nil {
					t.Errorf("the resent invitation names inviter %+v (%v); want none", b.Inviter, err)
				}
			})
		})
	}
}

// TestBounceOfAnEarlierSend: a bounce reported for an invitation's
// earlier email, after it was resent (the admin asked the person, who
// had their mailbox fixed), is recorded on that email but leaves the
// resent invitation pending and tells nobody; a bounce of the resent one
// marks it undeliverable.
func TestBounceOfAnEarlierSend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s)
		f.invite(t, "full@acme.example")
		w := newWorker(t, f, "")
		runOnce(t, w)
		f.clock.Add(time.Hour)
		if _, err := f.svc.Resend(ctx, f.account.ID, operator, "full@acme.example", 0); err != nil {
			t.Fatal(err)
		}
		runOnce(t, w)
		msgs, err := f.svc.Mail(ctx, f.account.ID, 10)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("mail: %v, %v", msgs, err)
		}
		resent, first := msgs[0], msgs[1]
		secret := []byte("0123456789abcdef0123456789abcdef")
		hook := httptest.NewServer(mail.NewBounceHook(f.svc, secret, slog.New(slog.DiscardHandler)))
		t.Cleanup(hook.Close)
		report := func(m directory.MailMessage) {
			t.Helper()
			body := `{"message_id":"<` + m.ID + `@admit.example>","recipient":"full@acme.example","reason":"552 mailbox full"}`
			req, _ := http.NewRequest("POST", hook.URL+"/hooks/mail-bounce", strings.NewReader(body))
			ts := time.Now().Unix()
			req.Header.Set("X-Admit-Timestamp", strconv.FormatInt(ts, 10))
			req.Header.Set("X-Admit-Signature", mail.Sign(secret, ts, []byte(body)))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("bounce report: %d; want 200", res.StatusCode)
			}
		}
		status := func() directory.InvitationStatus {
			t.Helper()
			invs, err := f.svc.Invitations(ctx, f.account.ID)
			if err != nil || len(invs) != 1 {
				t.Fatalf("invitations %+v, %v", invs, err)
			}
			return invs[0].Status
		}
		report(first)
		if got := status(); got != directory.InvitationPending {
			t.Errorf("after a bounce of the first send: %s; want the resent invitation pending", got)
		}
		if msgs, _ := f.svc.Mail(ctx, f.account.ID, 10); len(msgs) != 2 || msgs[1].Status != directory.MailFailed {
			t.Errorf("mail after the bounce of the first send: %+v; want it failed, and no notice", msgs)
		}
		report(resent)
		if got := status(); got != directory.InvitationUndeliverable {
			t.Errorf("after a bounce of the resent one: %s; want undeliverable", got)
		}
	})
}
