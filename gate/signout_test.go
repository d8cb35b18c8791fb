package gate_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEndedSessionsEndOnAppHosts: a session a hand-off opened on an app's
// host ends when the person signs out everywhere or an admin ends their
// sessions in the app's account, and a code not yet redeemed opens none.
func TestEndedSessionsEndOnAppHosts(t *testing.T) {
	ctx := context.Background()
	for _, end := range []struct {
		name string
		fn   func(e *env) error
	}{
		{"the person signs out everywhere", func(e *env) error {
			v, err := e.dir.AuthenticatePage(ctx, e.token)
			if err != nil {
				return err
			}
			return e.dir.SignOutEverywhere(ctx, v)
		}},
		{"an admin ends their sessions in the account", func(e *env) error {
			_, err := e.dir.EndSessions(ctx, e.account.ID, operator, "ada@example.com")
			return err
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				e := newEnv(t, st, nil)
				code, nonce := e.handoff("https://app.test/docs", e.token)
				res := e.get("app.test", code.Path, nonce)
				hostToken := sessionCookie(res)
				if hostToken == "" {
					t.Fatalf("redeemed: %d, no session", res.StatusCode)
				}
				if res := e.verify("", "app.test", "/docs", hostToken, nil); res.StatusCode != http.StatusOK {
					t.Fatalf("the app host's session before: %d", res.StatusCode)
				}
				pending, pendingNonce := e.handoff("https://app.test/other", e.token)
				if err := end.fn(e); err != nil {
					t.Fatal(err)
				}
				// The gate reuses an answer for FreshFor (on every replica).
				time.Sleep(gate.FreshFor + 50*time.Millisecond)
				for name, token := range map[string]string{"the app host's session": hostToken, "admit's own session": e.token} {
					if res := e.verify("", "app.test", "/docs", token, nil); res.StatusCode == http.StatusOK || res.Header.Get("X-Admit-Email") != "" {
						t.Errorf("%s at /auth/verify afterwards: %d; want refused", name, res.StatusCode)
					}
				}
				if res := e.get("app.test", pending.Path, pendingNonce); sessionCookie(res) != "" {
					t.Errorf("a code made before, redeemed afterwards: %d with a session; want none", res.StatusCode)
				}
				if _, err := e.dir.Authenticate(ctx, hostToken); directory.KindOf(err) != directory.Unauthenticated {
					t.Errorf("the app host's session: %v; want Unauthenticated", err)
				}
			})
		})
	}
}
