package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkLockOwners measures what any admin's change to an account's
// owner begins with (the last-owner rule): reading and locking the active
// owners of an account of 100,000 members, two of them owners. Its cost
// should follow the owners, not the members.
func BenchmarkLockOwners(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		if err := s.CreateAccount(ctx, directory.Account{ID: "big", Slug: "big", Name: "Big", CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		storetest.SeedMembers(b, s, "big", "m", 100_000)
		if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(`UPDATE memberships SET role = 'owner' WHERE user_id IN (SELECT user_id FROM memberships WHERE account_id = 'big' ORDER BY user_id LIMIT 2)`)); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			err := s.Tx(ctx, func(tx directory.Store) error {
				ids, err := tx.LockOwners(ctx, "big")
				if err == nil && len(ids) != 2 {
					b.Fatalf("%d owners", len(ids))
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
