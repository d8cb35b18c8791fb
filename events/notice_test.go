package events_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/mail/smtptest"
)

// TestPlatformWideEndpointDisabledTellsOperators: a platform-wide endpoint
// has no account admins, so when a 410 disables it every operator is told
// by installation mail, in admit's own branding, sent through a real SMTP
// server; once, though two replicas' attempts race to disable it.
func TestPlatformWideEndpointDisabledTellsOperators(t *testing.T) {
	eachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock()
		one, two := newRig(t, openStore(t, url), clk, 0), newRig(t, openStore(t, url), clk, 0)
		rc := newReceiver(t)
		rc.setAnswer(func(received) int { return 410 })
		a := mustAccount(t, one.svc, "acme", "acme.example")
		for _, email := range []string{"ops1@acme.example", "ops2@acme.example"} {
			must[directory.Added](t)(one.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "O", LastName: "P"}))
			must[directory.Operator](t)(one.svc.AddOperator(ctx, operator, email))
		}
		w, _ := one.webhook(t, rc.URL, "")
		// Deliveries wait before either replica runs, so that both have
		// attempts in flight when the first 410 comes back.
		scimCreates(t, one.svc, a, "p", 20)
		one.start(t)
		two.start(t)
		waitFor(t, "the endpoint disabled", 30*time.Second, func() bool {
			return must[directory.Webhook](t)(one.svc.Webhook(ctx, w.ID)).DisabledAt != nil
		})
		time.Sleep(200 * time.Millisecond) // attempts in flight end

		// Installation mail: no account's, listed without one.
		if n := len(must[[]directory.MailMessage](t)(one.svc.Mail(ctx, a.ID, 100))); n != 0 {
			t.Errorf("%d notices in acme's mail; want none (the endpoint is not acme's)", n)
		}
		queued := must[[]directory.MailMessage](t)(one.svc.Mail(ctx, "", 100))
		var to []string
		for _, m := range queued {
			if m.Kind != directory.MailWebhookDisabled || m.Data.WebhookID != w.ID {
				t.Errorf("unexpected installation mail %+v", m)
			}
			to = append(to, m.Recipient)
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"ops1@acme.example", "ops2@acme.example"}) {
			t.Fatalf("notices to %v; want one to each operator", to)
		}
		audit := must[[]directory.AuditEvent](t)(one.svc.AuditEvents(ctx, "", 100))
		i := slices.IndexFunc(audit, func(e directory.AuditEvent) bool { return e.Action == "webhook.disabled" })
		if i < 0 {
			t.Fatal("no webhook.disabled event in the installation's audit trail")
		}
		var data map[string]any
		check(t, json.Unmarshal(audit[i].Data, &data))
		if data["operators_told"] != float64(2) || audit[i].TargetID != w.ID {
			t.Errorf("audit event %+v, data %v; want webhook %s, operators_told 2", audit[i], data, w.ID)
		}

		// The mail worker renders and sends them through a real SMTP server.
		srv := smtptest.Start(t)
		sender, err := mail.NewSMTP(mail.SMTPConfig{URL: srv.URL(), Timeout: 5 * time.Second})
		check(t, err)
		renderer, err := mail.NewRenderer("https://admit.example", "noreply@admit.example")
		check(t, err)
		worker := mail.NewWorker(one.svc, sender, renderer, slog.New(slog.DiscardHandler))
		if _, err := worker.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		got := srv.Wait(t, 2, 10*time.Second)
		for _, m := range got {
			text := string(m.Data)
			for _, want := range []string{"Subject: A platform-wide webhook was disabled", `From: "admit" <noreply@admit.example>`, rc.URL, "410 Gone", "platform-wide webhook", "every account"} {
				if !strings.Contains(text, want) {
					t.Errorf("mail to %v does not say %q:\n%s", m.To, want, text)
				}
			}
			// An account's notice would say "events of acme" and sign as acme.
			if strings.Contains(text, "of acme") || strings.Contains(text, "\nacme") {
				t.Errorf("installation mail carries an account's name:\n%s", text)
			}
		}
		for _, m := range must[[]directory.MailMessage](t)(one.svc.Mail(ctx, "", 100)) {
			if m.Status != directory.MailSent {
				t.Errorf("mail to %s is %s; want sent", m.Recipient, m.Status)
			}
		}
	})
}

// TestPlatformWideEndpointDisabledWithoutOperators: with nobody to tell,
// the endpoint is still disabled and audited, and no mail is queued.
func TestPlatformWideEndpointDisabledWithoutOperators(t *testing.T) {
	eachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, openStore(t, url), clk, 0)
		rc := newReceiver(t)
		rc.setAnswer(func(received) int { return 410 })
		a := mustAccount(t, r.svc, "acme", "acme.example")
		must[directory.Added](t)(r.svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "admin@acme.example", FirstName: "A", LastName: "D", Role: directory.RoleAdmin}))
		w, _ := r.webhook(t, rc.URL, "")
		r.start(t)
		scimCreates(t, r.svc, a, "p", 2)
		waitFor(t, "the endpoint disabled", 30*time.Second, func() bool {
			return must[directory.Webhook](t)(r.svc.Webhook(ctx, w.ID)).DisabledAt != nil
		})
		time.Sleep(100 * time.Millisecond)
		for _, accountID := range []string{"", a.ID} {
			for _, m := range must[[]directory.MailMessage](t)(r.svc.Mail(ctx, accountID, 100)) {
				if m.Kind == directory.MailWebhookDisabled {
					t.Errorf("a notice to %s; want none (no operator; account admins do not own a platform-wide endpoint)", m.Recipient)
				}
			}
		}
		audit := must[[]directory.AuditEvent](t)(r.svc.AuditEvents(ctx, "", 100))
		if !slices.ContainsFunc(audit, func(e directory.AuditEvent) bool { return e.Action == "webhook.disabled" && e.TargetID == w.ID }) {
			t.Error("no webhook.disabled event in the installation's audit trail")
		}
	})
}
