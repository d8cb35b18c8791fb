package mail_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/store/storetest"
)

// FuzzBounceHook: a signed report can carry anything; the hook answers
// with a 2xx or a 4xx and an error, never a 5xx or a panic.
func FuzzBounceHook(f *testing.F) {
	for _, seed := range []string{
		`{"message_id":"<x@y>","recipient":"a@b.example","reason":"550"}`,
		`{"message_id":"","recipient":""}`,
		`{"message_id":"<@>","recipient":"a@b","extra":1}`,
		`[]`, `null`, `{"message_id":123}`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	s := storetest.SQLite(f)
	fx := newFixture(f, s)
	secret := []byte("0123456789abcdef0123456789abcdef")
	hook := mail.NewBounceHook(fx.svc, secret, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, body string) {
		ts := time.Now().Unix()
		req := httptest.NewRequest("POST", "/hooks/mail-bounce", strings.NewReader(body))
		req.Header.Set("X-Admit-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Admit-Signature", mail.Sign(secret, ts, []byte(body)))
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		if rec.Code >= 500 || (rec.Code != http.StatusOK && !strings.Contains(rec.Body.String(), `"error"`)) {
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
