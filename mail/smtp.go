package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the SMTP server.
type SMTPConfig struct {
	// URL is smtp://[user:pass@]host[:port][?tls=required] or
	// smtps://[user:pass@]host[:port]. smtp:// upgrades with STARTTLS when
	// the server offers it (so a plain local relay still works), and with
	// tls=required refuses to send unless it can; smtps:// is TLS from the
	// first byte. The port defaults to 587 and 465.
	URL string
	// HelloName is the name sent in EHLO; default "localhost".
	HelloName string
	// TLSConfig replaces the default (system roots); tests pass their own
	// root CA. Without a ServerName, the URL's host is verified.
	TLSConfig *tls.Config
	// Timeout bounds a whole Send, connecting included; default 30s.
	Timeout time.Duration
}

// SMTP delivers messages to an SMTP server described by a URL.
//
// Every Send opens its own connection and closes it afterwards: admit sends
// invitations and notices, a handful at a time, so pooling would save next
// to nothing, and a fresh connection never inherits a session left
// half-broken by an earlier failure. It is safe for concurrent use.
type SMTP struct {
	host     string
	port     int
	implicit bool // smtps://
	policy   gomail.TLSPolicy
	user     *url.Userinfo
	hello    string
	tls      *tls.Config
	timeout  time.Duration
	loopback bool
	redacted string
}

// NewSMTP checks cfg and returns a sender for it. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	s := &SMTP{redacted: u.Redacted(), policy: gomail.TLSOpportunistic, user: u.User}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("SMTP URL %s: %s", s.redacted, fmt.Sprintf(format, args...))
	}

	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, bad("scheme %q; want smtp:// or smtps://", u.Scheme)
	}
	if s.host = u.Hostname(); s.host == "" {
		return nil, bad("no host")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, bad("port %q", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, bad("a path or fragment means nothing here")
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("query: %v", err)
	}
	for k, v := range query {
		if k != "tls" || s.implicit {
			return nil, bad("unknown parameter %q (the only one is tls=required, for smtp://)", k)
		}
		if len(v) != 1 || v[0] != "required" {
			return nil, bad("tls=%s; the only value is tls=required", strings.Join(v, ","))
		}
		s.policy = gomail.TLSMandatory
	}

	s.loopback = isLoopback(s.host)
	if u.User != nil {
		if _, ok := u.User.Password(); !ok || u.User.Username() == "" {
			return nil, bad("credentials need both a user name and a password")
		}
		// Opportunistic STARTTLS is no protection for a password: whoever
		// sits in the path can strip STARTTLS from the EHLO reply and read
		// what follows. So with credentials STARTTLS is required, as if the
		// URL said tls=required (the documented smtp://user:pass@host:port
		// keeps working, and never sends the password in the clear). Only a
		// server on this machine is exempt.
		if !s.implicit && !s.loopback {
			s.policy = gomail.TLSMandatory
		}
	}

	s.hello = cfg.HelloName
	if s.hello == "" {
		s.hello = "localhost"
	}
	s.timeout = cfg.Timeout
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// isLoopback reports whether host is this machine by name or address. A
// name is not resolved: what it resolves to can change under our feet.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String is the server's URL with the password redacted, for logs.
func (s *SMTP) String() string { return s.redacted }

// DeliveryError is a failed Send.
//
// Permanent means the server refused the message for good with a 5xx reply
// to MAIL FROM, RCPT TO or the data (550: no such user), or the recipient's
// address cannot be parsed at all: sending again will not help.
// Everything else may pass later and is worth retrying: no connection, DNS,
// timeouts, TLS failures, 4xx replies, and problems of our own
// configuration (a failed tls=required, 530 or 535 for missing or wrong
// credentials), which should not condemn the message before an operator
// has had a chance to fix them.
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

// Send delivers m, or returns a *DeliveryError.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := compose(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return &DeliveryError{Err: fmt.Errorf("not sent: %w", context.Cause(ctx))}
	}

	// go-mail heeds the context only while dialling, and leaves the
	// connection open when EHLO or STARTTLS fails. Closing it when ctx ends,
	// at the latest when Send returns, cuts a stalled exchange short and
	// leaks nothing.
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		return s.dial(ctx, dctx, network, addr)
	}

	client, err := gomail.NewClient(s.host, s.options(dial)...)
	if err != nil {
		return &DeliveryError{Err: fmt.Errorf("SMTP client for %s: %w", s, err)}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	// Once the server has taken the message, a failed RSET or QUIT must not
	// cause it to be sent again.
	if err == nil || msg.IsDelivered() {
		return nil
	}
	return s.classify(ctx, err)
}

// dial connects within dctx, and arranges for the connection to close when
// ctx ends. For smtps:// it does the TLS handshake too: go-mail does that
// only when it dials itself.
func (s *SMTP) dial(ctx, dctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(dctx, network, addr)
	if err != nil {
		return nil, err
	}
	// The raw connection, not the TLS one: tls.Conn.Close may wait to send
	// its close alert behind a stalled write.
	context.AfterFunc(ctx, func() { conn.Close() })
	if !s.implicit {
		return conn, nil
	}
	tc := tls.Client(conn, s.tls)
	if err := tc.HandshakeContext(dctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

func (s *SMTP) options(dial gomail.DialContextFunc) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithHELO(s.hello),
		gomail.WithTLSConfig(s.tls),
		gomail.WithDialContextFunc(dial),
		gomail.WithoutNoop(), // the connection is seconds old
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(s.policy))
	}
	if s.user != nil {
		pass, _ := s.user.Password()
		// PLAIN, else LOGIN, else whatever go-mail can discover. go-mail
		// refuses PLAIN and LOGIN in the clear except to a few loopback
		// spellings; NewSMTP has already made sure any unencrypted
		// connection here is to this machine, however it is spelled.
		mechs := []gomail.SMTPAuthType{gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
		if s.loopback {
			mechs = []gomail.SMTPAuthType{gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts, gomail.WithUsername(s.user.Username()), gomail.WithPassword(pass),
			gomail.WithOpportunisticSMTPAuth(mechs...))
	}
	return opts
}

// classify turns a go-mail error into a *DeliveryError.
func (s *SMTP) classify(ctx context.Context, err error) *DeliveryError {
	var (
		se *gomail.SendError
		te *textproto.Error
	)
	switch {
	case errors.As(err, &se):
		// Failed once the envelope was under way. go-mail reads the code
		// from the reply; IsTemp is no guide, as it is also false for a
		// connection that broke mid-command.
		de := &DeliveryError{Code: se.ErrorCode(), Err: err}
		switch se.Reason {
		case gomail.ErrSMTPMailFrom, gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			// 530: authentication required, i.e. we were given no
			// credentials; our configuration, not the recipient.
			de.Permanent = de.Code/100 == 5 && de.Code != 530
		}
		if cause := ended(ctx); de.Code == 0 && cause != nil {
			de.Err = fmt.Errorf("%w: %w", cause, err)
		}
		return de
	case errors.As(err, &te):
		// A reply before the envelope: the greeting, EHLO, STARTTLS or
		// AUTH (535: wrong credentials). All of it is about the server or
		// our configuration, none of it about this message.
		return &DeliveryError{Code: te.Code, Err: fmt.Errorf("%s: %w", s, err)}
	}
	if cause := ended(ctx); cause != nil {
		return &DeliveryError{Err: fmt.Errorf("%s: %w: %w", s, cause, err)}
	}
	return &DeliveryError{Err: fmt.Errorf("%s: %w", s, err)}
}

// ended is why ctx is over, or nil. A deadline that has passed counts even
// before ctx's timer has fired: go-mail's own per-command deadline, which
// is as long as ours, may have beaten it by a hair.
func ended(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// compose renders m as a multipart/alternative email: text first, HTML
// second, so a client that cannot show HTML shows the text.
func compose(m Message) (*gomail.Msg, error) {
	_, domain, _ := strings.Cut(m.From.Email, "@")
	if m.ID == "" || domain == "" {
		return nil, &DeliveryError{Err: fmt.Errorf("message %q from %q: need an ID and a sender domain for the Message-ID", m.ID, m.From.Email)}
	}
	// The User-Agent go-mail adds by default says nothing a reader needs.
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.To(m.To); err != nil {
		// No server will ever take an address that does not parse.
		return nil, &DeliveryError{Permanent: true, Err: fmt.Errorf("recipient %q: %w", m.To, err)}
	}
	// Sender and Reply-To come from configuration: retry once it is fixed.
	if err := msg.FromFormat(m.From.Name, m.From.Email); err != nil {
		return nil, &DeliveryError{Err: fmt.Errorf("sender %q: %w", m.From.Email, err)}
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, &DeliveryError{Err: fmt.Errorf("reply-to %q: %w", m.ReplyTo, err)}
		}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// Derived from the message's own ID, so every attempt carries the same
	// one and a repeat after a crash mid-send can be recognised as such.
	msg.SetMessageIDWithValue(m.ID + "@" + domain)
	// RFC 3834: keeps out-of-office replies and the like away.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}
