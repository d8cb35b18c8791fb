package store_test

import (
	"context"
	"os"
	"testing"

	"github.com/pressly/goose/v3"

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
		p, err := goose.NewProvider(gooseDialect(s), s.DB().DB, os.DirFS("migrations/"+s.Dialect()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DownTo(ctx, 22); err != nil {
			t.Fatalf("down: %v", err)
		}
		if _, err := s.DB().ExecContext(ctx, `SELECT 1 FROM operators`); err == nil {
			t.Error("down kept operators")
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
	})
}
