package gate_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/pgtest"
)

// While PostgreSQL is down, /auth/verify answers 503 with Retry-After,
// never 200 (nobody gets in unchecked) and never 500; once it is back, the
// same session is let in again.
func TestVerifyWhileDatabaseIsDown(t *testing.T) {
	pg := pgtest.New(t)
	ctx := context.Background()
	dbURL, err := pg.CreateDatabase(ctx, "admit")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st, nil)
	if res := e.verify("", "app.test", "/", e.token, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("before the outage: %d", res.StatusCode)
	}
	if err := pg.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // past the reuse of answers (FreshFor)
	res := e.verify("", "app.test", "/", e.token, nil)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || res.Header.Get(gate.HeaderUserID) != "" {
		t.Errorf("during the outage: %d, Retry-After %q, user %q", res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get(gate.HeaderUserID))
	}
	if err := pg.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	if res := e.verify("", "app.test", "/", e.token, nil); res.StatusCode != http.StatusOK {
		t.Errorf("after the outage: %d", res.StatusCode)
	}
}
