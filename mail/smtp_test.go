package mail

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"
)

// fakeOptions shape a fakeServer.
type fakeOptions struct {
	tls      *tls.Config // offered with STARTTLS, or for the whole connection when implicit
	implicit bool        // smtps: TLS from the first byte
	users    map[string]string
	mechs    []string      // AUTH mechanisms offered when users is set; default PLAIN
	stall    chan struct{} // when set, RCPT TO hangs until it is closed
}

// fakeServer is a real SMTP server (go-smtp) on a loopback port that
// records what it is given and refuses the recipients it is told to.
type fakeServer struct {
	addr string
	opts fakeOptions

	mu     sync.Mutex
	mails  []fakeMail
	refuse map[string]*smtp.SMTPError
}

type fakeMail struct {
	from string
	to   []string
	data []byte
	tls  *tls.ConnectionState // nil when the session was not encrypted
	user string               // who authenticated, if anyone
}

func startFake(t *testing.T, opts fakeOptions) *fakeServer {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	if opts.implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", opts.tls)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{addr: ln.Addr().String(), opts: opts, refuse: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(fs)
	srv.Domain = "fake.localhost"
	if !opts.implicit {
		srv.TLSConfig = opts.tls
	}
	// Whether credentials may travel in the clear is the client's decision,
	// and that is what is under test.
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	// Closing the listener as well as the server: Close does not stop a
	// Serve that has not yet got as far as registering the listener.
	t.Cleanup(func() { srv.Close(); ln.Close(); <-done })
	if opts.stall != nil {
		// Registered after the server, so it runs first and lets the
		// stalled session end before the server waits for it.
		t.Cleanup(func() { close(opts.stall) })
	}
	return fs
}

func (fs *fakeServer) refuseRcpt(rcpt string, code int, text string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.refuse[rcpt] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: text}
}

func (fs *fakeServer) received() []fakeMail {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]fakeMail(nil), fs.mails...)
}

func (fs *fakeServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &fakeSession{fs: fs, conn: c}, nil
}

type fakeSession struct {
	fs   *fakeServer
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (s *fakeSession) AuthMechanisms() []string {
	switch {
	case s.fs.opts.users == nil:
		return nil
	case s.fs.opts.mechs == nil:
		return []string{sasl.Plain}
	}
	return s.fs.opts.mechs
}

func (s *fakeSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.fs.opts.users[user]; !ok || want != pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		s.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *fakeSession) Reset()        { s.from, s.to = "", nil }
func (s *fakeSession) Logout() error { return nil }

func (s *fakeSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.fs.opts.users != nil && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.from = from
	return nil
}

func (s *fakeSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.fs.opts.stall != nil {
		<-s.fs.opts.stall
	}
	s.fs.mu.Lock()
	refusal := s.fs.refuse[to]
	s.fs.mu.Unlock()
	if refusal != nil {
		return refusal
	}
	s.to = append(s.to, to)
	return nil
}

func (s *fakeSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := fakeMail{from: s.from, to: s.to, data: data, user: s.user}
	if state, ok := s.conn.TLSConnectionState(); ok {
		m.tls = &state
	}
	s.fs.mu.Lock()
	defer s.fs.mu.Unlock()
	s.fs.mails = append(s.fs.mails, m)
	return nil
}

// loginServer is the server side of AUTH LOGIN, which go-sasl no longer
// has: a user name and a password, each asked for in turn.
type loginServer struct {
	check func(user, pass string) error
	user  []byte
	step  int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch {
	case l.step == 1 && response == nil:
		return []byte("Username:"), false, nil
	case l.step == 1:
		l.step++ // the user name came as the initial response
		fallthrough
	case l.step == 2:
		l.user = response
		return []byte("Password:"), false, nil
	}
	return nil, true, l.check(string(l.user), string(response))
}

// testTLS makes a self-signed certificate for 127.0.0.1 and localhost: the
// server's configuration, and a client's that trusts it. The client's names
// no server, so NewSMTP must fill in the host from the URL.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "admit test SMTP"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func sampleMessage() Message {
	return Message{
		ID:      "0192-abc",
		From:    Address{Name: "Zoë at Acme", Email: "noreply@admit.example"},
		To:      "ada@acme.example",
		ReplyTo: "people@acme.example",
		Subject: "Willkommen bei Acme – Grüße von Zoë",
		Text:    "Hello Ada,\r\nplain text with ümlauts.",
		HTML:    "<p>Hello Ada, <b>HTML</b> with ümlauts.</p>",
	}
}

// send sends sampleMessage through cfg, failing the test if cfg is refused.
func send(t *testing.T, ctx context.Context, cfg SMTPConfig) error {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatalf("NewSMTP(%q): %v", cfg.URL, err)
	}
	return s.Send(ctx, sampleMessage())
}

func TestSMTPMessageFormat(t *testing.T) {
	fs := startFake(t, fakeOptions{})
	if err := send(t, t.Context(), SMTPConfig{URL: "smtp://" + fs.addr}); err != nil {
		t.Fatal(err)
	}
	got := fs.received()
	if len(got) != 1 {
		t.Fatalf("server got %d messages; want 1", len(got))
	}
	want := sampleMessage()
	if got[0].from != want.From.Email || len(got[0].to) != 1 || got[0].to[0] != want.To {
		t.Errorf("envelope from %q to %v; want %q to %q", got[0].from, got[0].to, want.From.Email, want.To)
	}

	m, err := netmail.ReadMessage(bytes.NewReader(got[0].data))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if raw := h.Get("Subject"); !strings.HasPrefix(raw, "=?") {
		t.Errorf("raw Subject %q; want RFC 2047 encoded words", raw)
	}
	if subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); err != nil || subject != want.Subject {
		t.Errorf("Subject %q (%v); want %q", subject, err, want.Subject)
	}
	if id := h.Get("Message-Id"); id != "<0192-abc@admit.example>" {
		t.Errorf("Message-ID %q; want <0192-abc@admit.example>", id)
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || *from[0] != (netmail.Address{Name: "Zoë at Acme", Address: "noreply@admit.example"}) {
		t.Errorf("From %q (%v); want Zoë at Acme <noreply@admit.example>", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != want.To {
		t.Errorf("To %q (%v)", h.Get("To"), err)
	}
	if rt, err := h.AddressList("Reply-To"); err != nil || len(rt) != 1 || rt[0].Address != want.ReplyTo {
		t.Errorf("Reply-To %q (%v); want %s", h.Get("Reply-To"), err, want.ReplyTo)
	}
	if date, err := h.Date(); err != nil || time.Since(date).Abs() > time.Minute {
		t.Errorf("Date %q (%v); want about now", h.Get("Date"), err)
	}
	if as := h.Get("Auto-Submitted"); as != "auto-generated" {
		t.Errorf("Auto-Submitted %q", as)
	}

	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q; want multipart/alternative", h.Get("Content-Type"))
	}
	type part struct{ contentType, charset, body string }
	var parts []part
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // undoes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part{ct, strings.ToUpper(ctParams["charset"]), strings.TrimRight(string(body), "\r\n")})
	}
	wantParts := []part{{"text/plain", "UTF-8", want.Text}, {"text/html", "UTF-8", want.HTML}}
	if len(parts) != len(wantParts) {
		t.Fatalf("parts %+v; want %+v", parts, wantParts)
	}
	for i := range parts {
		if parts[i] != wantParts[i] {
			t.Errorf("part %d: %+v; want %+v", i, parts[i], wantParts[i])
		}
	}
}

func TestSMTPDelivers(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	users := map[string]string{"relay": "s3cret"}
	for _, tc := range []struct {
		name     string
		opts     fakeOptions
		url      string // %s is the server's address
		wantTLS  bool
		wantUser string
	}{
		{name: "plain relay without STARTTLS", url: "smtp://%s"},
		{name: "STARTTLS when offered", opts: fakeOptions{tls: serverTLS}, url: "smtp://%s", wantTLS: true},
		{name: "STARTTLS when required", opts: fakeOptions{tls: serverTLS}, url: "smtp://%s?tls=required", wantTLS: true},
		{name: "smtps", opts: fakeOptions{tls: serverTLS, implicit: true}, url: "smtps://%s", wantTLS: true},
		{
			name: "AUTH PLAIN after STARTTLS", opts: fakeOptions{tls: serverTLS, users: users},
			url: "smtp://relay:s3cret@%s?tls=required", wantTLS: true, wantUser: "relay",
		},
		{
			name: "AUTH PLAIN over smtps", opts: fakeOptions{tls: serverTLS, implicit: true, users: users},
			url: "smtps://relay:s3cret@%s", wantTLS: true, wantUser: "relay",
		},
		{
			name: "AUTH LOGIN when PLAIN is not offered", opts: fakeOptions{tls: serverTLS, users: users, mechs: []string{sasl.Login}},
			url: "smtp://relay:s3cret@%s?tls=required", wantTLS: true, wantUser: "relay",
		},
		{
			// A relay on this machine: nothing crosses the network.
			name: "AUTH in the clear to loopback", opts: fakeOptions{users: users},
			url: "smtp://relay:s3cret@%s", wantUser: "relay",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := startFake(t, tc.opts)
			if err := send(t, t.Context(), SMTPConfig{URL: strings.ReplaceAll(tc.url, "%s", fs.addr), TLSConfig: clientTLS}); err != nil {
				t.Fatal(err)
			}
			got := fs.received()
			if len(got) != 1 {
				t.Fatalf("server got %d messages; want 1", len(got))
			}
			if encrypted := got[0].tls != nil && got[0].tls.HandshakeComplete; encrypted != tc.wantTLS {
				t.Errorf("session encrypted: %v; want %v", encrypted, tc.wantTLS)
			}
			if got[0].user != tc.wantUser {
				t.Errorf("authenticated as %q; want %q", got[0].user, tc.wantUser)
			}
		})
	}
}

func TestSMTPFailures(t *testing.T) {
	serverTLS, clientTLS := testTLS(t)
	users := map[string]string{"relay": "s3cret"}
	for _, tc := range []struct {
		name          string
		opts          fakeOptions
		refuse        int    // reply to RCPT TO for the recipient, if not 0
		url           string // %s is the server's address
		noRoots       bool   // the client trusts only the system's roots
		wantPermanent bool
		wantCode      int
		wantText      string
	}{
		{
			name: "no such user", refuse: 550, url: "smtp://%s",
			wantPermanent: true, wantCode: 550, wantText: "no such user",
		},
		{name: "greylisted", refuse: 451, url: "smtp://%s", wantCode: 451},
		{
			// Nobody's fault but the configuration's: kept, and retried
			// once the server or the URL is fixed.
			name: "tls=required but no STARTTLS", url: "smtp://%s?tls=required", wantText: "STARTTLS",
		},
		{
			name: "STARTTLS with an untrusted certificate", opts: fakeOptions{tls: serverTLS}, url: "smtp://%s",
			noRoots: true, wantText: "certificate",
		},
		{
			name: "smtps with an untrusted certificate", opts: fakeOptions{tls: serverTLS, implicit: true}, url: "smtps://%s",
			noRoots: true, wantText: "certificate",
		},
		{
			// 535 is our configuration too.
			name: "wrong password", opts: fakeOptions{tls: serverTLS, users: users},
			url: "smtp://relay:wrong@%s?tls=required", wantCode: 535,
		},
		{
			name: "credentials missing", opts: fakeOptions{tls: serverTLS, users: users},
			url: "smtp://%s", wantCode: 530,
		},
		{name: "nothing listening", url: "smtp://" + closedAddr(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := startFake(t, tc.opts)
			if tc.refuse != 0 {
				fs.refuseRcpt(sampleMessage().To, tc.refuse, "no such user")
			}
			cfg := SMTPConfig{URL: strings.ReplaceAll(tc.url, "%s", fs.addr), TLSConfig: clientTLS}
			if tc.noRoots {
				cfg.TLSConfig = nil
			}
			err := send(t, t.Context(), cfg)
			var de *DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("Send: %v; want a *DeliveryError", err)
			}
			if de.Permanent != tc.wantPermanent || de.Code != tc.wantCode {
				t.Errorf("Send: permanent %v, code %d; want %v, %d (%v)", de.Permanent, de.Code, tc.wantPermanent, tc.wantCode, err)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("Send: %q; want it to mention %q", err, tc.wantText)
			}
			if n := len(fs.received()); n != 0 {
				t.Errorf("server got %d messages; want none", n)
			}
		})
	}
}

func TestSMTPHonoursContext(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stall   bool
		ctx     func(t *testing.T) context.Context
		timeout time.Duration
		want    error
	}{
		{
			name: "cancelled before sending",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			want: context.Canceled,
		},
		{
			name: "deadline while the server stalls", stall: true,
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "Timeout while the server stalls", stall: true, timeout: 200 * time.Millisecond,
			ctx:  func(t *testing.T) context.Context { return t.Context() },
			want: context.DeadlineExceeded,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts fakeOptions
			if tc.stall {
				opts.stall = make(chan struct{})
			}
			fs := startFake(t, opts)
			start := time.Now()
			err := send(t, tc.ctx(t), SMTPConfig{URL: "smtp://" + fs.addr, Timeout: tc.timeout})
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("Send took %v", elapsed)
			}
			var de *DeliveryError
			if !errors.As(err, &de) || de.Permanent || !errors.Is(err, tc.want) {
				t.Errorf("Send: %v; want a temporary *DeliveryError wrapping %v", err, tc.want)
			}
			if n := len(fs.received()); n != 0 {
				t.Errorf("server got %d messages; want none", n)
			}
		})
	}
}

func TestNewSMTP(t *testing.T) {
	for _, tc := range []struct {
		url     string
		wantErr string // "" for a good URL
	}{
		{url: "smtp://mail.example.com"},
		{url: "smtp://mail.example.com:25"},
		{url: "smtp://127.0.0.1:2525/"},
		{url: "smtp://[::1]:2525"},
		{url: "smtp://mail.example.com?tls=required"},
		{url: "smtps://mail.example.com"},
		{url: "smtps://user:pass@mail.example.com:2465"},
		{url: "smtp://user:pass@mail.example.com?tls=required"},
		{url: "smtp://user:pass@localhost:25"},
		{url: "smtp://user:pass@127.0.0.1"},
		{url: "smtp://user:pass@[::1]:25"},

		{url: "http://mail.example.com", wantErr: "scheme"},
		{url: "mail.example.com:25", wantErr: "scheme"},
		{url: "smtp://", wantErr: "no host"},
		{url: "smtp:///relay", wantErr: "no host"},
		{url: "smtp://:25", wantErr: "no host"},
		{url: "smtp://mail.example.com:0", wantErr: "port"},
		{url: "smtp://mail.example.com:99999", wantErr: "port"},
		{url: "smtp://mail.example.com/inbox", wantErr: "path"},
		{url: "smtp://mail.example.com?foo=bar", wantErr: "unknown parameter"},
		{url: "smtp://mail.example.com?tls=maybe", wantErr: "tls=required"},
		{url: "smtp://mail.example.com?tls=required&tls=required", wantErr: "tls=required"},
		{url: "smtps://mail.example.com?tls=required", wantErr: "unknown parameter"},
		{url: "smtp://user@mail.example.com?tls=required", wantErr: "password"},
		{url: "smtp://:s3cret@mail.example.com?tls=required", wantErr: "user name"},
		{url: "smtp://user:s3cret%zz@mail.example.com", wantErr: "escape"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := NewSMTP(SMTPConfig{URL: tc.url})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("NewSMTP: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("NewSMTP = %v; want an error about %s", s, tc.wantErr)
			case err != nil && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("NewSMTP: %v; want an error about %s", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Errorf("NewSMTP: %v shows the password", err)
			}
		})
	}
}

// With a password, STARTTLS is required off this machine even when the URL
// does not say tls=required; on loopback, and without one, it is offered
// but not insisted on.
func TestSMTPCredentialsRequireTLS(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want gomail.TLSPolicy
	}{
		{"smtp://user:s3cret@mail.example.com", gomail.TLSMandatory},
		{"smtp://user:s3cret@10.0.0.1:25", gomail.TLSMandatory},
		{"smtp://mail.example.com", gomail.TLSOpportunistic},
		{"smtp://user:s3cret@localhost:25", gomail.TLSOpportunistic},
		{"smtp://user:s3cret@127.0.0.1:25?tls=required", gomail.TLSMandatory},
	} {
		s, err := NewSMTP(SMTPConfig{URL: tc.url})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if s.policy != tc.want {
			t.Errorf("%s: TLS policy %v; want %v", tc.url, s.policy, tc.want)
		}
	}
}

func TestSMTPString(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"smtp://relay:s3cret@mail.example.com?tls=required", "smtp://relay:xxxxx@mail.example.com?tls=required"},
		{"smtps://relay:s3cret@mail.example.com:465", "smtps://relay:xxxxx@mail.example.com:465"},
		{"smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := NewSMTP(SMTPConfig{URL: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != tc.want {
				t.Errorf("String() = %q; want %q", got, tc.want)
			}
		})
	}
}
