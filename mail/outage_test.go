package mail_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/mail"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/pgtest"
)

// A bounce report that arrives while PostgreSQL is down is answered 503
// with Retry-After, which mail services retry, not 500; once the database
// is back the same report is recorded.
func TestBounceHookWhileDatabaseIsDown(t *testing.T) {
	pg := pgtest.New(t)
	ctx := context.Background()
	dbURL, err := pg.CreateDatabase(ctx, "admit")
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, s)
	fx.invite(t, "new@acme.example")
	msgs, err := fx.svc.ClaimMail(ctx, 10)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("claim the invitation: %v %v", msgs, err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	hook := mail.NewBounceHook(fx.svc, secret, slog.New(slog.DiscardHandler))
	report := func() *httptest.ResponseRecorder {
		body := `{"message_id":"<` + msgs[0].ID + `@admit>","recipient":"` + msgs[0].Recipient + `","reason":"550 no such user"}`
		ts := time.Now().Unix()
		req := httptest.NewRequest("POST", "/hooks/mail-bounce", strings.NewReader(body))
		req.Header.Set("X-Admit-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Admit-Signature", mail.Sign(secret, ts, []byte(body)))
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		return rec
	}
	if err := pg.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := report(); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("report while the database is down: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if err := pg.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := report(); rec.Code != http.StatusOK {
		t.Errorf("report once the database is back: %d %s", rec.Code, rec.Body)
	}
}
