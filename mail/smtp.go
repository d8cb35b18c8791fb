package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the SMTP server.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port][?tls=required] (STARTTLS when
	// the server offers it, or insisted on) or smtps://[user:pass@]host[:port]
	// (implicit TLS).
	URL string
	// HelloName is sent in EHLO; default "localhost".
	HelloName string
	// TLSConfig replaces the default (system roots, server name from the
	// URL); tests pass their own root CA.
	TLSConfig *tls.Config
	// Timeout bounds connecting and each command; default 30s.
	Timeout time.Duration
}

// SMTP delivers messages to one SMTP server. It opens one connection per
// message: admit sends invitations and notices, not newsletters, and a
// fresh connection never inherits a broken one's state.
type SMTP struct {
	opts     []gomail.Option
	host     string
	redacted string
}

// NewSMTP checks cfg and returns a sender for it.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ADMIT_SMTP_URL: %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("ADMIT_SMTP_URL names no host")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	tlsConfig := cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	opts := []gomail.Option{gomail.WithTimeout(cfg.Timeout), gomail.WithHELO(cfg.HelloName), gomail.WithTLSConfig(tlsConfig)}
	port := 587
	switch u.Scheme {
	case "smtp":
		policy := gomail.TLSOpportunistic
		for k, v := range u.Query() {
			if k != "tls" || len(v) != 1 || v[0] != "required" {
				return nil, fmt.Errorf("ADMIT_SMTP_URL: unknown parameter %s=%s (the only one is tls=required)", k, strings.Join(v, ","))
			}
			policy = gomail.TLSMandatory
		}
		// A password never crosses the network in the clear: with
		// credentials, STARTTLS is required unless the server is on this
		// machine.
		if u.User != nil && !isLoopback(host) {
			policy = gomail.TLSMandatory
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	case "smtps":
		if len(u.Query()) > 0 {
			return nil, errors.New("ADMIT_SMTP_URL: smtps:// takes no parameters")
		}
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("ADMIT_SMTP_URL: scheme %q; want smtp:// or smtps://", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("ADMIT_SMTP_URL: bad port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &SMTP{opts: opts, host: host, redacted: u.Redacted()}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String is the server's URL without its password, for logs.
func (s *SMTP) String() string { return s.redacted }

// DeliveryError is a failed delivery. Permanent means the server refused
// the message or recipient for good (a 5xx reply): sending again will not
// help. Anything else (no connection, a timeout, a 4xx) may pass later.
type DeliveryError struct {
	Permanent bool
	Code      int // the SMTP reply code, 0 when the server gave none
	Err       error
}

func (e *DeliveryError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s delivery failure: %v", kind, e.Err)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := build(m)
	if err != nil {
		return &DeliveryError{Permanent: true, Err: err}
	}
	client, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return &DeliveryError{Err: fmt.Errorf("smtp client: %w", err)}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(err)
	}
	return nil
}

// classify sorts a go-mail error into permanent or not. Only a 5xx reply
// to the envelope or the data is permanent; a 5xx at the greeting or AUTH
// (535: bad credentials) is our configuration, and is retried once fixed.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch se.Reason {
		case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			return &DeliveryError{Permanent: code >= 500 && code < 600, Code: code, Err: err}
		}
		return &DeliveryError{Code: code, Err: err}
	}
	return &DeliveryError{Err: err}
}

func build(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(m.From.Name, m.From.Email); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("recipient: %w", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("reply-to: %w", err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// A Message-ID from the message's own id: the same on every attempt, so
	// a repeat after a crash mid-send is recognisable as the same email.
	_, domain, _ := strings.Cut(m.From.Email, "@")
	msg.SetMessageIDWithValue(m.ID + "@" + domain)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}
