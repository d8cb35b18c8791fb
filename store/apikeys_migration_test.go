package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
)

// TestAPIKeysMigration: 00023 goes up over 00022, down and up again, and
// an operator key (no account) and an account's key both fit the table.
func TestAPIKeysMigration(t *testing.T) {
	eachSchemaAt(t, 22, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := s.CreateAccount(ctx, directory.Account{ID: "a1", Slug: "alpha", Name: "Alpha", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []directory.APIKey{{ID: "k1", AccountID: "a1", Name: "n", KeyHash: "h1", CreatedAt: now}, {ID: "k2", Name: "op", KeyHash: "h2", CreatedAt: now}} {
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateAPIKey(ctx, directory.APIKey{ID: "k3", Name: "dup", KeyHash: "h1", CreatedAt: now}); directory.KindOf(err) != directory.Conflict {
			t.Errorf("a second key with a hash: %v; want Conflict", err)
		}
		if ops, err := s.FindAPIKeys(ctx, ""); err != nil || len(ops) != 1 || ops[0].ID != "k2" || !ops[0].Operator() {
			t.Errorf("operator keys: %+v, %v", ops, err)
		}
		migrateDown(t, s, 22)
		for _, table := range []string{"api_keys", "idempotency_keys"} {
			if _, err := s.DB().ExecContext(ctx, `SELECT 1 FROM `+table); err == nil {
				t.Errorf("down kept %s", table)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}
