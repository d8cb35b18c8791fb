package directory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestSCIMTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a, b := mustAccount(t, svc, "alpha"), mustAccount(t, svc, "beta")
		first, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, "Okta")
		if err != nil || !strings.HasPrefix(first, "admit_scim_") || len(first) < 50 {
			t.Fatalf("token %q, %v", first, err)
		}
		second, _, err := svc.CreateSCIMToken(ctx, a.ID, operator, "Okta (rotation)")
		if err != nil {
			t.Fatal(err)
		}
		var stored int
		if err := s.DB().Get(&stored, s.DB().Rebind(`SELECT COUNT(*) FROM scim_tokens WHERE token_hash = ?`), first); err != nil || stored != 0 {
			t.Fatalf("the token itself is stored (%d rows, %v)", stored, err)
		}
		for _, token := range []string{first, second} {
			acct, _, err := svc.AuthenticateSCIM(ctx, token)
			if err != nil || acct.ID != a.ID {
				t.Errorf("authenticate: %s, %v; want alpha", acct.Slug, err)
			}
		}
		for _, bad := range []string{"", "admit_scim_", first + "x", strings.TrimPrefix(first, "admit_scim_"), "Bearer " + first} {
			if _, _, err := svc.AuthenticateSCIM(ctx, bad); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("token %q: %v; want Unauthenticated", bad, err)
			}
		}
		// Another account cannot revoke alpha's token.
		if _, err := svc.RevokeSCIMToken(ctx, b.ID, operator, tok.ID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("revoke from beta: %v; want NotFound", err)
		}
		clk.Add(2 * time.Minute)
		if _, _, err := svc.AuthenticateSCIM(ctx, first); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RevokeSCIMToken(ctx, a.ID, operator, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.AuthenticateSCIM(ctx, first); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("revoked token: %v; want Unauthenticated", err)
		}
		if _, _, err := svc.AuthenticateSCIM(ctx, second); err != nil {
			t.Errorf("the other token stopped working: %v", err)
		}
		tokens, _ := svc.SCIMTokens(ctx, a.ID)
		if len(tokens) != 2 || tokens[0].RevokedAt == nil || tokens[0].LastUsedAt == nil || !tokens[0].LastUsedAt.Equal(clk.Now().Truncate(time.Microsecond)) {
			t.Errorf("tokens = %+v; want the first revoked with its last use recorded", tokens)
		}
	})
}
