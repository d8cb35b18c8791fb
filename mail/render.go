package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/admit-dev/admit/directory"
)

//go:embed templates
var templateFiles embed.FS

// installationName signs installation mail (to operators, of no account):
// admit's own neutral branding, since no account's would be right.
const installationName = "admit"

// Renderer turns a mail message into an email in the account's branding:
// an HTML part and a plain-text part that reads well on its own.
type Renderer struct {
	baseURL string
	from    string
	html    map[string]*htmltemplate.Template // by template name: the layout with that email's body
	text    *texttemplate.Template
}

// NewRenderer parses the templates. baseURL is admit's public URL (links
// point there); from is the sender address.
func NewRenderer(baseURL, from string) (*Renderer, error) {
	html := map[string]*htmltemplate.Template{}
	for _, name := range []string{"invitation", "undeliverable", "password_reset", "sso_sign_in", "webhook_disabled"} {
		t, err := htmltemplate.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse mail templates: %w", err)
		}
		html[name] = t
	}
	text, err := texttemplate.ParseFS(templateFiles, "templates/*.txt")
	if err != nil {
		return nil, fmt.Errorf("parse mail templates: %w", err)
	}
	return &Renderer{baseURL: strings.TrimSuffix(baseURL, "/"), from: from, html: html, text: text}, nil
}

// view is what the templates see. Every field is plain text: the HTML
// template escapes it, and the colours come from a palette.
type view struct {
	Subject     string
	AccountName string
	LogoURL     string
	// Fill, OnFill and LinkColor are the account's palette
	// (directory.Palette): the button, its text, and links on white.
	Fill, OnFill, LinkColor htmltemplate.CSS
	Intro                   string
	Link                    string
	HasPassword             bool
	Expires                 string
	Email                   string
	InviterName             string
	Reason                  string
	WebhookID               string
	// PlatformWide: the webhook receives every account's events;
	// otherwise WebhookAccount's.
	PlatformWide   bool
	WebhookAccount string
	// WebhookPage is the console page where the account's owners enable
	// the webhook they added; empty for the operators' own, which only
	// they enable, with the CLI.
	WebhookPage string
	// OperatorsOwn: the mail goes to an account's people about an
	// endpoint the operators added, whose URL they are not shown.
	OperatorsOwn bool
	// OperatorsTold: they were mailed too.
	OperatorsTold bool
}

// Render returns the email for b.
func (r *Renderer) Render(b directory.MailBody) (Message, error) {
	a := b.Account
	installation := b.Installation
	// A palette holds only #rrggbb colours, safe as CSS, and readable
	// whatever colour the account chose.
	palette := a.Branding.Palette()
	v := view{AccountName: a.Title(), Email: b.Invitation.Email,
		Fill: htmltemplate.CSS(palette.Fill), OnFill: htmltemplate.CSS(palette.OnFill), LinkColor: htmltemplate.CSS(palette.Text)}
	if installation {
		v.AccountName = installationName
	}
	// An uploaded logo wins over the logo URL (as on pages); mail clients
	// need its absolute address.
	if src := a.LogoSource(); src != "" && directory.ValidLogoSource(src) {
		v.LogoURL = src
		if strings.HasPrefix(src, "/") {
			v.LogoURL = r.baseURL + src
		}
	}
	if b.Inviter != nil {
		v.InviterName = strings.TrimSpace(b.Inviter.FirstName + " " + b.Inviter.LastName)
	}
	var name string
	switch b.Message.Kind {
	case directory.MailInvitation:
		name = "invitation"
		v.Link = r.baseURL + "/invite/" + b.Token
		v.HasPassword = b.InviteeHasPassword
		v.Expires = b.Invitation.ExpiresAt.UTC().Format("Monday 2 January 2006 at 15:04 UTC")
		v.Subject = "You are invited to join " + v.AccountName
		if v.InviterName != "" {
			v.Subject = v.InviterName + " invited you to join " + v.AccountName
		}
		v.Intro = "You have been invited to join " + v.AccountName + "."
		if v.InviterName != "" {
			v.Intro = v.InviterName + " has invited you to join " + v.AccountName + "."
		}
		if a.Branding.InviteSubject != "" {
			v.Subject = a.Branding.InviteSubject
		}
		if a.Branding.InviteIntro != "" {
			v.Intro = a.Branding.InviteIntro
		}
	case directory.MailPasswordReset:
		name = "password_reset"
		v.Email = b.Message.Recipient
		v.Link = r.baseURL + "/password/reset/" + b.Token
		v.Expires = b.ExpiresAt.UTC().Format("15:04 UTC on Monday 2 January 2006")
		v.Subject = "Reset your password for " + v.AccountName
	case directory.MailSSOSignIn:
		name = "sso_sign_in"
		v.Email = b.Message.Recipient
		if b.Message.Data.SSOLogin {
			v.Link = r.baseURL + "/sso/" + url.PathEscape(a.Slug) + "/login?email=" + url.QueryEscape(b.Message.Recipient)
		}
		v.Subject = "How to sign in to " + v.AccountName
	case directory.MailInvitationUndeliverable:
		name = "undeliverable"
		v.Subject = "Your invitation to " + b.Invitation.Email + " could not be delivered"
		v.Reason = b.Invitation.BounceReason
	case directory.MailWebhookDisabled:
		name = "webhook_disabled"
		// Link is shown, never linked: the endpoint's URL is the
		// platform's, not a page for the admin to open.
		v.Link, v.WebhookID = b.Webhook.URL, b.Webhook.ID
		switch {
		case installation:
		case b.Webhook.PublicOnly:
			v.WebhookPage = r.baseURL + "/admin/" + url.PathEscape(a.Slug) + "/webhooks/" + url.PathEscape(b.Webhook.ID)
		default:
			v.OperatorsOwn, v.OperatorsTold, v.Link = true, b.Message.Data.OperatorsTold, ""
		}
		v.WebhookAccount = b.WebhookAccount.Title()
		v.Subject = "A webhook of " + v.WebhookAccount + " was disabled"
		if b.Webhook.AccountID == "" {
			v.Subject = "A platform-wide webhook was disabled"
			v.PlatformWide = true
		}
		v.Reason = b.Webhook.DisabledReason
	default:
		return Message{}, fmt.Errorf("no template for mail of kind %q", b.Message.Kind)
	}
	var html, text bytes.Buffer
	if err := r.html[name].ExecuteTemplate(&html, "layout.html", v); err != nil {
		return Message{}, fmt.Errorf("render %s mail: %w", name, err)
	}
	if err := r.text.ExecuteTemplate(&text, name+".txt", v); err != nil {
		return Message{}, fmt.Errorf("render %s mail: %w", name, err)
	}
	sender := a.Branding.SenderName
	if sender == "" {
		sender = v.AccountName
	}
	return Message{
		ID:      b.Message.ID,
		From:    Address{Name: sender, Email: r.from},
		To:      b.Message.Recipient,
		ReplyTo: a.Branding.ReplyTo,
		Subject: v.Subject,
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// PreviewInvitation renders the invitation email a's people would get from
// inviterName now, for the console's Branding page. The link in it leads
// nowhere: its token is made up.
func (r *Renderer) PreviewInvitation(a directory.Account, inviterName string) (subject, html string, err error) {
	b := directory.MailBody{
		Message: directory.MailMessage{Kind: directory.MailInvitation, Recipient: "new.person@example.com"},
		Account: a,
		Invitation: directory.Invitation{
			Email: "new.person@example.com", ExpiresAt: time.Now().Add(7 * 24 * time.Hour),
		},
		Token: "preview",
	}
	if first, last, ok := strings.Cut(inviterName, " "); inviterName != "" {
		if !ok {
			first, last = inviterName, ""
		}
		b.Inviter = &directory.User{FirstName: first, LastName: last}
	}
	// The preview is shown by admit itself: addresses relative to it load
	// the uploaded logo whatever ADMIT_BASE_URL says.
	local := *r
	local.baseURL = ""
	m, err := local.Render(b)
	if err != nil {
		return "", "", err
	}
	return m.Subject, m.HTML, nil
}
