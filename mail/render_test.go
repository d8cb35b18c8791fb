package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/mail"
)

func TestRenderEscapesAccountText(t *testing.T) {
	r, err := mail.NewRenderer("https://admit.example/", "noreply@admit.example")
	if err != nil {
		t.Fatal(err)
	}
	body := directory.MailBody{
		Message: directory.MailMessage{ID: "m1", Kind: directory.MailInvitation, Recipient: "x@example.com"},
		Account: directory.Account{Name: `Tom & Jerry's <Shop>`, Branding: directory.Branding{
			InviteIntro: `Join us <script>alert(1)</script> & "friends"`, PrimaryColor: "red;background:url(x)", LogoURL: "javascript:alert(1)",
		}},
		Invitation: directory.Invitation{Email: "x@example.com", ExpiresAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
		Token:      "tok",
	}
	m, err := r.Render(body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<Shop>") || strings.Contains(m.HTML, "javascript:") || strings.Contains(m.HTML, "url(x)") {
		t.Errorf("account text reached the HTML unescaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "#1f6feb") {
		t.Error("an invalid brand colour did not fall back to admit's own")
	}
	// The plain-text part is not HTML: it says what the account wrote.
	if !strings.Contains(m.Text, `Join us <script>alert(1)</script> & "friends"`) || !strings.Contains(m.Text, "https://admit.example/invite/tok") {
		t.Errorf("text part:\n%s", m.Text)
	}
	if m.Subject != "You are invited to join Tom & Jerry's <Shop>" || m.From.Name != `Tom & Jerry's <Shop>` {
		t.Errorf("subject %q, from %q", m.Subject, m.From.Name)
	}
	if !strings.Contains(m.Text, "Tuesday 1 December 2026 at 09:00 UTC") {
		t.Errorf("expiry not in the text:\n%s", m.Text)
	}
}

// TestRenderInstallationMail: mail to operators is of no account, so it
// is signed and coloured as admit, whatever an account's branding says.
func TestRenderInstallationMail(t *testing.T) {
	r, err := mail.NewRenderer("https://admit.example/", "noreply@admit.example")
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Render(directory.MailBody{
		Message:      directory.MailMessage{ID: "m1", Kind: directory.MailWebhookDisabled, Recipient: "ops@example.com"},
		Installation: true,
		Webhook:      directory.Webhook{ID: "wh1", URL: "https://platform.example/hooks", DisabledReason: "the endpoint answered 410 Gone"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "A platform-wide webhook was disabled" || m.From.Name != "admit" || m.ReplyTo != "" {
		t.Errorf("subject %q, from %q, reply-to %q", m.Subject, m.From.Name, m.ReplyTo)
	}
	for _, part := range []string{m.Text, m.HTML} {
		if !strings.Contains(part, "every account") || !strings.Contains(part, "https://platform.example/hooks") || !strings.Contains(part, "admit webhook enable --id wh1") {
			t.Errorf("the notice does not say which endpoint, or how to enable it:\n%s", part)
		}
	}
	if !strings.Contains(m.HTML, "#1f6feb") {
		t.Error("installation mail is not in admit's own colour")
	}
}

// TestRenderWebhookDisabledSaysWhoEnablesIt: the notice tells its
// readers whose events the endpoint received and who can enable it: an
// account's owners for one they added (with its console page), the
// operators for their own, platform-wide or for one account (with the
// command); an account's people are not shown the URL of the operators'
// endpoint for it.
func TestRenderWebhookDisabledSaysWhoEnablesIt(t *testing.T) {
	r, err := mail.NewRenderer("https://admit.example/", "noreply@admit.example")
	if err != nil {
		t.Fatal(err)
	}
	acme := directory.Account{ID: "a1", Slug: "acme", Name: "Acme"}
	for _, tc := range []struct {
		name      string
		body      directory.MailBody // the account's mail, or installation mail
		hook      directory.Webhook
		told      bool // the operators were mailed too
		want, not []string
	}{
		{"an owner's, to the account's people", directory.MailBody{Account: acme, WebhookAccount: acme},
			directory.Webhook{AccountID: acme.ID, PublicOnly: true}, false,
			[]string{"events of Acme", "an owner of Acme enables it", "https://admit.example/admin/acme/webhooks/wh1"}, []string{"admit webhook enable", "operator"}},
		{"the operators' for an account, to its people", directory.MailBody{Account: acme, WebhookAccount: acme},
			directory.Webhook{AccountID: acme.ID}, true,
			[]string{"events of Acme", "the platform's webhook that receives them", "the platform's operators, who added it and have been told too, enable it"},
			[]string{"https://platform.example/hooks", "admit webhook enable", "/admin/"}},
		{"the operators' for an account, to its people, with no operator to tell", directory.MailBody{Account: acme, WebhookAccount: acme},
			directory.Webhook{AccountID: acme.ID}, false,
			[]string{"the platform's operators, who added it, enable it"}, []string{"told too"}},
		{"the operators' for an account, to them", directory.MailBody{Installation: true, WebhookAccount: acme},
			directory.Webhook{AccountID: acme.ID}, false,
			[]string{"events of Acme", "an operator enables it", "admit webhook enable --id wh1"}, []string{"/admin/", "every account"}},
		{"platform-wide, to the operators", directory.MailBody{Installation: true},
			directory.Webhook{}, false,
			[]string{"the events of every account", "an operator enables it", "admit webhook enable --id wh1"}, []string{"/admin/", "Acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.body
			b.Message = directory.MailMessage{ID: "m1", Kind: directory.MailWebhookDisabled, Recipient: "someone@acme.example", Data: directory.MailData{OperatorsTold: tc.told}}
			b.Webhook = tc.hook
			b.Webhook.ID, b.Webhook.URL, b.Webhook.DisabledReason = "wh1", "https://platform.example/hooks", "the endpoint answered 410 Gone"
			m, err := r.Render(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []string{m.Text, m.HTML} {
				for _, w := range tc.want {
					if !strings.Contains(part, w) {
						t.Errorf("the notice does not say %q:\n%s", w, part)
					}
				}
				for _, n := range tc.not {
					if strings.Contains(part, n) {
						t.Errorf("the notice says %q:\n%s", n, part)
					}
				}
			}
		})
	}
}

// TestRenderUploadedLogo: an uploaded logo wins over the logo URL, at
// admit's absolute address in a real email and at its own path in the
// console's preview (which admit itself shows).
func TestRenderUploadedLogo(t *testing.T) {
	r, err := mail.NewRenderer("https://admit.example/", "noreply@admit.example")
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("ab", 32)
	a := directory.Account{Slug: "acme", Name: "Acme", Branding: directory.Branding{LogoURL: "https://cdn.acme.example/logo.png", Logo: hash}}
	m, err := r.Render(directory.MailBody{
		Message: directory.MailMessage{ID: "m1", Kind: directory.MailInvitation, Recipient: "x@example.com"},
		Account: a, Invitation: directory.Invitation{Email: "x@example.com", ExpiresAt: time.Now()}, Token: "tok",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<img src="https://admit.example/branding/acme/logo/` + hash + `"`; !strings.Contains(m.HTML, want) || strings.Contains(m.HTML, "cdn.acme.example") {
		t.Errorf("the email's logo is not %s:\n%s", want, m.HTML)
	}
	subject, html, err := r.PreviewInvitation(a, "Ada Lovelace")
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Ada Lovelace invited you to join Acme" || !strings.Contains(html, `<img src="/branding/acme/logo/`+hash+`"`) {
		t.Errorf("preview: %q\n%s", subject, html)
	}
}
