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

// TestLockWebhookHoldsTheRow: a transaction that locked a webhook holds
// it until it ends; another locking it waits (a rotation of its secret
// then reads what the first wrote, rather than the same secret).
func TestLockWebhookHoldsTheRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		if err := s.CreateWebhook(ctx, directory.Webhook{ID: "wh1", URL: "https://hooks.example/", Secret: "first", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		locked, release := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- s.Tx(ctx, func(tx directory.Store) error {
				w, err := tx.LockWebhook(ctx, "wh1")
				if err != nil {
					return err
				}
				close(locked)
				<-release
				w.Secret = "second"
				return tx.UpdateWebhookSecrets(ctx, w)
			})
		}()
		<-locked
		read := make(chan string, 1)
		second := make(chan error, 1)
		go func() {
			second <- s.Tx(ctx, func(tx directory.Store) error {
				w, err := tx.LockWebhook(ctx, "wh1")
				read <- w.Secret
				return err
			})
		}()
		select {
		case got := <-read:
			t.Fatalf("a second lock read %q while the first transaction held the row", got)
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if got := <-read; got != "second" {
			t.Errorf("the second lock read %q; want what the first wrote", got)
		}
		if err := <-second; err != nil {
			t.Fatal(err)
		}
	})
}
