package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/mail/smtptest"
)

func testMessage() mail.Message {
	return mail.Message{
		ID: "0192-abc", From: mail.Address{Name: "Acme Portal", Email: "noreply@admit.example"}, To: "ada@acme.example",
		ReplyTo: "people@acme.example", Subject: "Willkommen bei Acme – Grüße", Text: "Hello, plain text.", HTML: "<p>Hello, <b>HTML</b>.</p>",
	}
}

func send(t *testing.T, url string, cfg mail.SMTPConfig) error {
	t.Helper()
	cfg.URL = url
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP(%q): %v", url, err)
	}
	return s.Send(context.Background(), testMessage())
}

func TestSMTPPlainRelayGetsBothPartsAndHeaders(t *testing.T) {
	srv := smtptest.Start(t)
	if err := send(t, srv.URL(), mail.SMTPConfig{}); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].TLS {
		t.Fatalf("got %d messages (TLS %v); want one over the plain connection the server offers", len(msgs), len(msgs) == 1 && msgs[0].TLS)
	}
	p := parse(t, msgs[0].Data)
	if p.subject != "Willkommen bei Acme – Grüße" {
		t.Errorf("subject = %q", p.subject)
	}
	if p.header.Get("Message-Id") != "<0192-abc@admit.example>" || p.header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Message-ID %q, Auto-Submitted %q", p.header.Get("Message-Id"), p.header.Get("Auto-Submitted"))
	}
	if !strings.Contains(p.text, "Hello, plain text.") || !strings.Contains(p.html, "<b>HTML</b>") {
		t.Errorf("parts: %q / %q", p.text, p.html)
	}
}

func TestSMTPTLS(t *testing.T) {
	serverTLS, clientTLS := smtptest.TLSPair(t)
	t.Run("opportunistic STARTTLS is used when offered", func(t *testing.T) {
		srv := smtptest.StartWith(t, "127.0.0.1:0", smtptest.Options{TLS: serverTLS})
		if err := send(t, srv.URL(), mail.SMTPConfig{TLSConfig: clientTLS}); err != nil {
			t.Fatal(err)
		}
		if m := srv.Messages(); len(m) != 1 || !m[0].TLS {
			t.Error("the connection was not upgraded with STARTTLS")
		}
	})
	t.Run("tls=required refuses a server without STARTTLS", func(t *testing.T) {
		srv := smtptest.Start(t)
		err := send(t, srv.URL()+"?tls=required", mail.SMTPConfig{TLSConfig: clientTLS})
		var de *mail.DeliveryError
		if !errors.As(err, &de) || de.Permanent || len(srv.Messages()) != 0 {
			t.Errorf("got %v with %d messages; want a temporary failure and nothing sent", err, len(srv.Messages()))
		}
	})
	t.Run("smtps is TLS from the first byte", func(t *testing.T) {
		srv := smtptest.StartWith(t, "127.0.0.1:0", smtptest.Options{TLS: serverTLS, Implicit: true})
		if err := send(t, "smtps://"+srv.Addr, mail.SMTPConfig{TLSConfig: clientTLS}); err != nil {
			t.Fatal(err)
		}
		if m := srv.Messages(); len(m) != 1 || !m[0].TLS {
			t.Error("not delivered over TLS")
		}
	})
	t.Run("an untrusted certificate is refused when TLS is required", func(t *testing.T) {
		srv := smtptest.StartWith(t, "127.0.0.1:0", smtptest.Options{TLS: serverTLS})
		if err := send(t, srv.URL()+"?tls=required", mail.SMTPConfig{}); err == nil {
			t.Error("sent to a server whose certificate no root vouches for")
		}
	})
}

func TestSMTPAuth(t *testing.T) {
	serverTLS, clientTLS := smtptest.TLSPair(t)
	srv := smtptest.StartWith(t, "127.0.0.1:0", smtptest.Options{TLS: serverTLS, Users: map[string]string{"relay": "s3cret"}})
	if err := send(t, "smtp://relay:s3cret@"+srv.Addr, mail.SMTPConfig{TLSConfig: clientTLS}); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	if m := srv.Messages(); len(m) != 1 || m[0].User != "relay" {
		t.Errorf("messages %+v; want one from user relay", m)
	}
	err := send(t, "smtp://relay:wrong@"+srv.Addr, mail.SMTPConfig{TLSConfig: clientTLS})
	var de *mail.DeliveryError
	// Wrong credentials are our configuration, not the recipient's fault:
	// the message waits for the operator to fix them.
	if !errors.As(err, &de) || de.Permanent {
		t.Errorf("wrong credentials: %v; want a temporary failure", err)
	}
}

func TestSMTPRefusalsAreClassified(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Refuse("ada@acme.example", 550, "no such user")
	err := send(t, srv.URL(), mail.SMTPConfig{})
	var de *mail.DeliveryError
	if !errors.As(err, &de) || !de.Permanent || de.Code != 550 {
		t.Errorf("550: %v; want permanent with code 550", err)
	}
	srv.Refuse("ada@acme.example", 451, "greylisted, try again later")
	err = send(t, srv.URL(), mail.SMTPConfig{})
	if !errors.As(err, &de) || de.Permanent || de.Code != 451 {
		t.Errorf("451: %v; want temporary with code 451", err)
	}
	err = send(t, "smtp://"+smtptest.FreeAddr(t), mail.SMTPConfig{})
	if !errors.As(err, &de) || de.Permanent {
		t.Errorf("nothing listening: %v; want temporary", err)
	}
	s, _ := mail.NewSMTP(mail.SMTPConfig{URL: srv.URL()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, testMessage()); err == nil {
		t.Error("sent with a cancelled context")
	}
}

func TestNewSMTP(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"smtp://127.0.0.1:2525", true},
		{"smtp://mail.example.com", true},
		{"smtp://mail.example.com?tls=required", true},
		{"smtps://user:pass@mail.example.com", true},
		{"smtp://user:pass@localhost:25", true},
		{"http://mail.example.com", false},
		{"smtp://", false},
		{"smtp://mail.example.com?tls=maybe", false},
		{"smtp://mail.example.com?foo=bar", false},
		{"smtps://mail.example.com?tls=required", false},
		{"smtp://mail.example.com:99999", false},
	} {
		_, err := mail.NewSMTP(mail.SMTPConfig{URL: tc.url})
		if (err == nil) != tc.ok {
			t.Errorf("NewSMTP(%q) = %v; want ok=%v", tc.url, err, tc.ok)
		}
	}
	s, _ := mail.NewSMTP(mail.SMTPConfig{URL: "smtp://relay:s3cret@mail.example.com"})
	if strings.Contains(s.String(), "s3cret") {
		t.Errorf("String() = %q shows the password", s.String())
	}
}
