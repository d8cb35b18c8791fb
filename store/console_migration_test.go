package store_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/store"
)

// TestConsoleMigration: migration 00024 (operators, the sort indexes, the
// filter indexes with the search keys) goes down to 00022 and up again on
// both databases, and the operators table goes and comes back with it.
func TestConsoleMigration(t *testing.T) {
	eachSchemaAt(t, 22, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT 1 FROM operators`); err != nil {
			t.Fatalf("after the upgrade: %v", err)
		}
		migrateDown(t, s, 22)
		if _, err := s.DB().ExecContext(ctx, `SELECT 1 FROM operators`); err == nil {
			t.Error("down kept operators")
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}
