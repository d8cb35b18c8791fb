package mail_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/mail/smtptest"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a directory with one branded account and its admin.
type fixture struct {
	svc     *directory.Service
	clock   *clock
	account directory.Account
}

func newFixture(t testing.TB, s *store.Store) fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{now: time.Now().UTC()}
	svc := directory.NewService(directory.Config{
		Store: s, Now: clk.Now,
		Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}),
	})
	a, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme Inc", Domains: []string{"acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if a, err = svc.SetBranding(ctx, a.ID, operator, directory.Branding{
		DisplayName: "Acme Portal", LogoURL: "https://cdn.acme.example/logo.png", PrimaryColor: "#c0ffee",
		SenderName: "Acme People Team", ReplyTo: "people@acme.example",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "boss@acme.example", FirstName: "Grace", LastName: "Hopper", Role: directory.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, clock: clk, account: a}
}

func (f fixture) invite(t *testing.T, email string) {
	t.Helper()
	if _, err := f.svc.Invite(context.Background(), f.account.ID, operator, directory.NewInvitation{Email: email, InviterEmail: "boss@acme.example"}); err != nil {
		t.Fatal(err)
	}
}

func newWorker(t *testing.T, f fixture, smtpURL string) *mail.Worker {
	t.Helper()
	r, err := mail.NewRenderer("https://admit.example", "noreply@admit.example")
	if err != nil {
		t.Fatal(err)
	}
	var sender mail.Sender
	if smtpURL != "" {
		s, err := mail.NewSMTP(mail.SMTPConfig{URL: smtpURL, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sender = s
	}
	return mail.NewWorker(f.svc, sender, r, slog.New(slog.DiscardHandler))
}

func runOnce(t *testing.T, w *mail.Worker) int {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

// parsed is a received email taken apart.
type parsed struct {
	header     netmail.Header
	subject    string
	text, html string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var p parsed
	p.header = m.Header
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q; want multipart/alternative", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var order []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(part)
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		order = append(order, ct)
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		}
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts %v; want text/plain then text/html", order)
	}
	return p
}

func TestWorkerSendsBrandedInvitation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		srv := smtptest.Start(t)
		f := newFixture(t, s)
		f.invite(t, "new.hire@acme.example")
		w := newWorker(t, f, srv.URL())
		if n := runOnce(t, w); n != 1 {
			t.Fatalf("sent %d; want 1", n)
		}
		msgs := srv.Wait(t, 1, 5*time.Second)
		if msgs[0].To[0] != "new.hire@acme.example" || msgs[0].From != "noreply@admit.example" {
			t.Errorf("envelope %s -> %v", msgs[0].From, msgs[0].To)
		}
		p := parse(t, msgs[0].Data)
		if p.subject != "Grace Hopper invited you to join Acme Portal" {
			t.Errorf("subject = %q", p.subject)
		}
		from, _ := p.header.AddressList("From")
		if len(from) != 1 || from[0].Name != "Acme People Team" || p.header.Get("Reply-To") != "<people@acme.example>" {
			t.Errorf("From %v, Reply-To %q", from, p.header.Get("Reply-To"))
		}
		mail0, _ := f.svc.Mail(context.Background(), f.account.ID, 10)
		if want := "<" + mail0[0].ID + "@admit.example>"; p.header.Get("Message-Id") != want {
			t.Errorf("Message-ID = %q; want %q", p.header.Get("Message-Id"), want)
		}
		if !strings.Contains(p.text, "https://admit.example/invite/") || !strings.Contains(p.text, "Grace Hopper has invited you to join Acme Portal.") {
			t.Errorf("text part does not read on its own:\n%s", p.text)
		}
		// A pale brand colour: dark text on the button, links a darker shade.
		for _, want := range []string{"background:#c0ffee;color:#1b1f24;", "color:#5c7a72;", `src="https://cdn.acme.example/logo.png"`, "https://admit.example/invite/"} {
			if !strings.Contains(p.html, want) {
				t.Errorf("HTML part lacks %s", want)
			}
		}
		if mail0[0].Status != directory.MailSent {
			t.Errorf("status = %s; want sent", mail0[0].Status)
		}
	})
}

func TestWorkerRetriesUntilTheServerIsUpAndSendsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		addr := smtptest.FreeAddr(t)
		f := newFixture(t, s)
		for _, e := range []string{"a@acme.example", "b@acme.example", "c@acme.example"} {
			f.invite(t, e)
		}
		w := newWorker(t, f, "smtp://"+addr)
		if n := runOnce(t, w); n != 3 {
			t.Fatalf("tried %d; want 3", n)
		}
		for _, m := range mustMail(t, f) {
			if m.Status != directory.MailQueued || m.LastError == "" {
				t.Errorf("with the server down: %s %q; want queued with the error", m.Status, m.LastError)
			}
		}
		srv := smtptest.StartAt(t, addr)
		if n := runOnce(t, w); n != 0 {
			t.Errorf("retried %d before the backoff; want 0", n)
		}
		f.clock.Add(time.Hour)
		if n := runOnce(t, w); n != 3 {
			t.Fatalf("after the backoff sent %d; want 3", n)
		}
		f.clock.Add(24 * time.Hour)
		runOnce(t, w)
		wantOutcomes(t, w, map[string]float64{"retry": 3, "sent": 3})
		got := map[string]int{}
		for _, m := range srv.Messages() {
			got[m.To[0]]++
		}
		if len(got) != 3 || got["a@acme.example"] != 1 || got["b@acme.example"] != 1 || got["c@acme.example"] != 1 {
			t.Errorf("delivered %v; want each invitation exactly once", got)
		}
	})
}

// wantOutcomes checks admit_mail_deliveries_total: the outcomes named
// with their counts, every other outcome 0.
func wantOutcomes(t *testing.T, w *mail.Worker, want map[string]float64) {
	t.Helper()
	for _, outcome := range []string{"sent", "kept", "retry", "refused", "dropped"} {
		if got := testutil.ToFloat64(w.Metrics().WithLabelValues(outcome)); got != want[outcome] {
			t.Errorf("admit_mail_deliveries_total{outcome=%q} = %v, want %v", outcome, got, want[outcome])
		}
	}
}

func mustMail(t *testing.T, f fixture) []directory.MailMessage {
	t.Helper()
	msgs, err := f.svc.Mail(context.Background(), f.account.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestWorkerRefusedRecipientIsUndeliverableAndInviterIsTold(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		srv := smtptest.Start(t)
		srv.Refuse("typo@acme.example", 550, "no such user here")
		f := newFixture(t, s)
		f.invite(t, "typo@acme.example")
		w := newWorker(t, f, srv.URL())
		runOnce(t, w) // the invitation: refused
		runOnce(t, w) // the notice to the inviter
		invs, _ := f.svc.Invitations(context.Background(), f.account.ID)
		if invs[0].Status != directory.InvitationUndeliverable || !strings.Contains(invs[0].BounceReason, "550") {
			t.Errorf("invitation %s %q; want undeliverable with the 550", invs[0].Status, invs[0].BounceReason)
		}
		msgs := srv.Wait(t, 1, 5*time.Second)
		p := parse(t, msgs[0].Data)
		if msgs[0].To[0] != "boss@acme.example" || !strings.Contains(p.subject, "typo@acme.example could not be delivered") || !strings.Contains(p.text, "no such user here") {
			t.Errorf("notice to %v, subject %q:\n%s", msgs[0].To, p.subject, p.text)
		}
		f.clock.Add(48 * time.Hour)
		if n := runOnce(t, w); n != 0 {
			t.Errorf("retried %d messages after a permanent refusal; want 0", n)
		}
		if len(srv.Messages()) != 1 {
			t.Errorf("server got %d messages; want only the notice", len(srv.Messages()))
		}
		wantOutcomes(t, w, map[string]float64{"refused": 1, "sent": 1})
	})
}

func TestWorkerKilledMidSendLosesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		srv := smtptest.Start(t)
		f := newFixture(t, s)
		f.invite(t, "x@acme.example")
		f.invite(t, "y@acme.example")
		// A worker claims both and dies before recording anything.
		if claimed, err := f.svc.ClaimMail(context.Background(), 10); err != nil || len(claimed) != 2 {
			t.Fatalf("claim: %d, %v", len(claimed), err)
		}
		w := newWorker(t, f, srv.URL())
		if n := runOnce(t, w); n != 0 {
			t.Fatalf("another worker took %d leased messages; want 0", n)
		}
		f.clock.Add(directory.MailLease)
		if n := runOnce(t, w); n != 2 {
			t.Fatalf("after the lease sent %d; want 2", n)
		}
		if got := len(srv.Messages()); got != 2 {
			t.Errorf("server got %d; want 2", got)
		}
	})
}

func TestDevMailboxAndDroppedMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s)
		f.invite(t, "kept@acme.example")
		f.invite(t, "gone@acme.example")
		if _, err := f.svc.Revoke(ctx, f.account.ID, operator, "gone@acme.example"); err != nil {
			t.Fatal(err)
		}
		w := newWorker(t, f, "")
		runOnce(t, w)
		wantOutcomes(t, w, map[string]float64{"kept": 1, "dropped": 1})
		status := map[string]directory.MailStatus{}
		for _, m := range mustMail(t, f) {
			status[m.Recipient] = m.Status
		}
		if status["kept@acme.example"] != directory.MailKept || status["gone@acme.example"] != directory.MailFailed {
			t.Errorf("statuses %v; want the invitation kept for the dev mailbox and the withdrawn one dropped", status)
		}
	})
}
