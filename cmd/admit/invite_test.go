package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	netmail "net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/mail/smtptest"
	"github.com/admit-dev/admit/store/storetest"
)

var (
	inviteLink = regexp.MustCompile(`/invite/[A-Za-z0-9_-]+`)
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// textPart returns the plain-text part of a received email.
func textPart(t *testing.T, raw []byte) string {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

// browser is an HTTP client with cookies, as a person's browser would be.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInvitationEndToEnd(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		srv := smtptest.Start(t)
		dir := t.TempDir()
		settings := []string{"ADMIT_DATABASE_URL=" + db, "ADMIT_SMTP_URL=" + srv.URL(), testKey, "ADMIT_MAIL_FROM=people@admit.example"}
		s := startServer(t, dir, settings...)
		// The CLI and the server must share the key: links made by one open in the other.
		cli := func(stdin string, args ...string) result {
			t.Helper()
			r := admitEnv(t, append(cleanEnv(), settings...), stdin, args...)
			if r.code != 0 {
				t.Fatalf("admit %v: %s", args, r.stderr)
			}
			return r
		}
		cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc")
		cli("", "account", "set-branding", "--account", "acme", "--display-name", "Acme Portal", "--color", "#0a7d32", "--invite-subject", "Welcome aboard Acme")
		cli("", "user", "add", "--account", "acme", "--email", "new@acme.example", "--first", "Nia", "--last", "Ng", "--invite")

		msgs := srv.Wait(t, 1, 20*time.Second)
		text := textPart(t, msgs[0].Data)
		if !strings.Contains(text, "http://localhost:8080/invite/") {
			t.Errorf("the link does not start with ADMIT_BASE_URL:\n%s", text)
		}
		path := inviteLink.FindString(text)
		if path == "" {
			t.Fatalf("no invitation link in the email:\n%s", text)
		}
		// The server's public URL is the default; reach it where it listens.
		link := s.url + path
		if !strings.Contains(string(msgs[0].Data), "Welcome aboard Acme") {
			t.Error("the account's invitation subject was not used")
		}
		b := browser(t)
		status, page := fetch(t, b, "GET", link, nil)
		if status != 200 || !strings.Contains(page, "Join Acme Portal") || !strings.Contains(page, `value="Nia"`) || !strings.Contains(page, "#0a7d32") {
			t.Fatalf("invitation page: %d\n%s", status, page)
		}
		token := csrfField.FindStringSubmatch(page)[1]
		// Without the CSRF token the form is refused.
		if status, _ := fetch(t, b, "POST", link, url.Values{"first_name": {"Nia"}}); status != http.StatusForbidden {
			t.Errorf("POST without CSRF token: %d; want 403", status)
		}
		status, page = fetch(t, b, "POST", link, url.Values{"csrf_token": {token}, "first_name": {"Nia"}, "last_name": {"Ng"}, "password": {"short"}, "confirm": {"short"}})
		if status != http.StatusBadRequest || !strings.Contains(page, "at least 12 characters") || !strings.Contains(page, `value="Ng"`) {
			t.Errorf("weak password: %d\n%s", status, page)
		}
		status, page = fetch(t, b, "POST", link, url.Values{"csrf_token": {token}, "first_name": {"Nia"}, "last_name": {"Ng"}, "password": {"violet staple orbit lantern"}, "confirm": {"violet staple orbit lantern"}})
		if status != 200 || !strings.Contains(page, "You have joined Acme Portal") {
			t.Fatalf("accept: %d\n%s", status, page)
		}
		if status, page := fetch(t, b, "GET", link, nil); status != http.StatusGone || !strings.Contains(page, "already been used") {
			t.Errorf("used link: %d\n%s", status, page)
		}
		list := decode[struct {
			Members []memberJSON `json:"members"`
		}](t, cli("", "user", "list", "--account", "acme", "--json"))
		if len(list.Members) != 1 || list.Members[0].Status != "active" || !list.Members[0].HasPassword || list.Members[0].PasswordMustChange {
			t.Errorf("member after acceptance: %+v; want active with their own password", list.Members)
		}
		if strings.Contains(s.logs.String(), path) {
			t.Error("the invitation link's token appears in the server log")
		}
		s.stop(t)
	})
}

// admitEnv runs the binary with exactly the given environment.
func admitEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	return admitWith(t, env, stdin, args...)
}

func TestBounceEndToEnd(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	srv.Refuse("typo@acme.example", 550, "mailbox unavailable")
	dir := t.TempDir()
	db := storetest.SQLiteURL(t)
	settings := []string{"ADMIT_DATABASE_URL=" + db, "ADMIT_SMTP_URL=" + srv.URL(), testKey}
	s := startServer(t, dir, settings...)
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitEnv(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc")
	cli("a long enough password\n", "user", "add", "--account", "acme", "--email", "admin@acme.example", "--first", "Ada", "--last", "Admin", "--role", "admin", "--password-stdin")
	cli("", "invite", "create", "--account", "acme", "--email", "typo@acme.example", "--inviter", "admin@acme.example")
	cli("", "invite", "create", "--account", "acme", "--email", "late@acme.example", "--inviter", "admin@acme.example")

	// The 550 reaches the inviter as a notice; the other invitation is delivered.
	msgs := srv.Wait(t, 2, 20*time.Second)
	var notice string
	for _, m := range msgs {
		if m.To[0] == "admin@acme.example" {
			notice = textPart(t, m.Data)
		}
	}
	if !strings.Contains(notice, "typo@acme.example") || !strings.Contains(notice, "mailbox unavailable") {
		t.Fatalf("no bounce notice to the inviter; got %d messages", len(msgs))
	}

	// A provider reports later that late@ bounced.
	mailList := decode[[]mailJSON](t, cli("", "mail", "list", "--account", "acme", "--json"))
	var lateID string
	for _, m := range mailList {
		if m.To == "late@acme.example" {
			lateID = m.ID
		}
	}
	secret := strings.TrimSpace(cli("", "mail", "bounce-secret").stdout)
	if _, err := hex.DecodeString(secret); err != nil || len(secret) != 64 {
		t.Fatalf("bounce secret %q", secret)
	}
	post := func(body string, ts int64, sig string) int {
		req, _ := http.NewRequest("POST", s.url+"/hooks/mail-bounce", strings.NewReader(body))
		req.Header.Set("X-Admit-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Admit-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := fmt.Sprintf(`{"message_id":"<%s@localhost>","recipient":"late@acme.example","reason":"550 5.1.1 user unknown"}`, lateID)
	now := time.Now().Unix()
	for _, tc := range []struct {
		name string
		body string
		ts   int64
		sig  string
		want int
	}{
		{"wrong signature", body, now, mail.Sign([]byte("not the secret"), now, []byte(body)), 401},
		{"stale", body, now - 3600, mail.Sign([]byte(secret), now-3600, []byte(body)), 401},
		{"not JSON", "nope", now, mail.Sign([]byte(secret), now, []byte("nope")), 400},
		{"unknown message", strings.Replace(body, lateID, "nope", 1), now, mail.Sign([]byte(secret), now, []byte(strings.Replace(body, lateID, "nope", 1))), 404},
		{"valid", body, now, mail.Sign([]byte(secret), now, []byte(body)), 200},
	} {
		if got := post(tc.body, tc.ts, tc.sig); got != tc.want {
			t.Errorf("%s: %d; want %d", tc.name, got, tc.want)
		}
	}
	srv.Wait(t, 3, 20*time.Second) // the second notice
	invs := decode[[]invitationJSON](t, cli("", "invite", "list", "--account", "acme", "--json"))
	for _, inv := range invs {
		if inv.Status != "undeliverable" {
			t.Errorf("%s is %s; want undeliverable", inv.Email, inv.Status)
		}
	}
	s.stop(t)
}
