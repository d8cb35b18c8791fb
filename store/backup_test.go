package store_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestBackup: on SQLite a copy that opens as a migrated database holding
// what was written; on PostgreSQL the pointer to its own tools.
func TestBackup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		target := filepath.Join(t.TempDir(), "copy.db")
		if s.Dialect() == "postgres" {
			if _, err := s.Backup(ctx, target, false); !errors.Is(err, store.ErrBackupUnsupported) {
				t.Fatalf("Backup on PostgreSQL: %v; want ErrBackupUnsupported", err)
			}
			if _, err := os.Stat(target); !os.IsNotExist(err) {
				t.Errorf("Backup on PostgreSQL wrote %s", target)
			}
			return
		}
		now := time.Now().UTC()
		a := directory.Account{ID: "a", Slug: "acme", Name: "Acme", CreatedAt: now, UpdatedAt: now}
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		res, err := s.Backup(ctx, target, false)
		if err != nil {
			t.Fatal(err)
		}
		version, _ := s.SchemaVersion(ctx)
		if res.Path != target || res.Bytes == 0 || res.SchemaVersion != version {
			t.Errorf("Backup = %+v; want %s at schema version %d", res, target, version)
		}
		if _, err := s.Backup(ctx, target, false); directory.KindOf(err) != directory.Conflict {
			t.Errorf("a second Backup to the same file: %v; want a conflict", err)
		}
		copied, err := store.Open(ctx, "sqlite:"+target, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer copied.Close()
		if got, err := copied.FindAccountBySlug(ctx, "acme"); err != nil || got.ID != a.ID {
			t.Errorf("the copy's account: %+v, %v", got, err)
		}
	})
}
