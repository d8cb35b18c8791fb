package store_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEveryTableIsOffboarded fails when a table that references an
// account or a user (a foreign key, directly or through another table, or
// an account_id or user_id column) is not handled by an account's
// deletion or a person's erasure: a new table must say what happens to
// its rows (store/offboard.go) before it can hold a customer's data.
func TestEveryTableIsOffboarded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		tables, err := s.SchemaReferences(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) < 30 {
			t.Fatalf("found only %d tables referencing accounts or users: %v", len(tables), tables)
		}
		handled := store.OffboardedTables()
		for _, table := range tables {
			if handled[table] == "" {
				t.Errorf("table %s references an account or a user, but neither an account's deletion nor an erasure handles it: add it to store/offboard.go", table)
			}
		}
	})
}
