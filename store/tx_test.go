package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestPanicInTransactionRollsBack: a transaction whose function panics
// is rolled back as the panic passes, on a context that never ends: what
// it wrote is gone, and the next transaction (SQLite's one writer
// included) goes ahead at once instead of waiting on the lock.
func TestPanicInTransactionRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		u := directory.User{ID: "u1", Email: "ada@acme.example", FirstName: "Ada", LastName: "L", CreatedAt: now, UpdatedAt: now}
		passed := make(chan any, 1)
		go func() {
			defer func() { passed <- recover() }()
			_ = s.Tx(ctx, func(tx directory.Store) error {
				if err := tx.CreateUsers(ctx, []directory.User{u}); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		select {
		case p := <-passed:
			if p != "boom" {
				t.Fatalf("recovered %v; want the panic", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the panicking transaction never ended")
		}
		u2 := u
		u2.ID, u2.Email = "u2", "bob@acme.example"
		if err := s.Tx(ctx, func(tx directory.Store) error { return tx.CreateUsers(ctx, []directory.User{u2}) }); err != nil {
			t.Fatalf("the next transaction: %v", err)
		}
		if _, err := s.FindUserByEmail(ctx, u.Email); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the panicking transaction's user: %v; want not found", err)
		}
		if _, err := s.FindUserByEmail(ctx, u2.Email); err != nil {
			t.Errorf("the next transaction's user: %v", err)
		}
	})
}
