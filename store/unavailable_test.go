package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// openPostgres returns a store on a fresh PostgreSQL database and its URL.
func openPostgres(t *testing.T) (*store.Store, string) {
	t.Helper()
	dbURL := storetest.PostgresURL(t)
	s, err := store.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dbURL
}

// A transaction whose connection the server ends before COMMIT is run once
// more on a new connection: nothing of the first attempt was committed, and
// the change is written once.
func TestTxRunsOnceMoreWhenItsConnectionBreaks(t *testing.T) {
	ctx := context.Background()
	s, dbURL := openPostgres(t)
	// Fill the pool with idle connections that the server will end too.
	conns := make([]interface{ Close() error }, 0, 6)
	for range 6 {
		c, err := s.DB().Connx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	now := time.Now().UTC().Truncate(time.Second)
	attempts := 0
	err := s.Tx(ctx, func(tx directory.Store) error {
		attempts++
		if attempts == 1 {
			// Every session of the database ends, this transaction's too.
			storetest.TerminateConnections(t, dbURL)
		}
		return tx.CreateAccount(ctx, directory.Account{ID: "a1", Slug: "acct-a1", Name: "A", CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatalf("Tx = %v, want the second attempt to succeed", err)
	}
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2", attempts)
	}
	if _, err := s.FindAccount(ctx, "a1"); err != nil {
		t.Errorf("the account was not written: %v", err)
	}
	// The idle connections were dead too: the next transactions find good ones.
	for i := range 4 {
		if err := s.Tx(ctx, func(tx directory.Store) error {
			_, err := tx.FindAccount(ctx, "a1")
			return err
		}); err != nil {
			t.Fatalf("transaction %d after the restart: %v", i, err)
		}
	}
}

// A transaction that loses its connection twice is not tried a third time:
// it fails with Unavailable (a 503 at the edges), and wrote nothing.
func TestTxUnavailableWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, dbURL := openPostgres(t)
	now := time.Now().UTC().Truncate(time.Second)
	attempts := 0
	err := s.Tx(ctx, func(tx directory.Store) error {
		attempts++
		if err := tx.CreateAccount(ctx, directory.Account{ID: "a2", Slug: "acct-a2", Name: "A", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		storetest.TerminateConnections(t, dbURL)
		return tx.CreateAccount(ctx, directory.Account{ID: "a3", Slug: "acct-a3", Name: "B", CreatedAt: now, UpdatedAt: now})
	})
	if got := directory.KindOf(err); got != directory.Unavailable {
		t.Fatalf("KindOf(%v) = %v, want unavailable", err, got)
	}
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2", attempts)
	}
	for _, id := range []string{"a2", "a3"} {
		if _, err := s.FindAccount(ctx, id); directory.KindOf(err) != directory.NotFound {
			t.Errorf("FindAccount(%s) = %v, want not found: half a transaction was written", id, err)
		}
	}
}

// A database nobody answers at is Unavailable when admit opens it.
func TestUnreachablePostgresIsUnavailable(t *testing.T) {
	ctx := context.Background()
	_, err := store.Open(ctx, "postgres://postgres@127.0.0.1:1/admit?sslmode=disable&connect_timeout=2", slog.New(slog.DiscardHandler))
	if got := directory.KindOf(err); got != directory.Unavailable {
		t.Fatalf("Open: KindOf(%v) = %v, want unavailable", err, got)
	}
	s, _ := openPostgres(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// HalfWritten, which the fault tests trust to find half a change, finds
// one: a user row without its membership.
func TestHalfWrittenFindsALeftover(t *testing.T) {
	ctx := context.Background()
	s, dbURL := openPostgres(t)
	if found, err := storetest.HalfWritten(ctx, dbURL); err != nil || len(found) != 0 {
		t.Fatalf("HalfWritten of an empty directory = %v, %v", found, err)
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO users (id, email, email_key, first_name, last_name, created_at, updated_at)
		VALUES ('u1', 'a@b.example', 'a@b.example', 'A', 'B', now(), now())`); err != nil {
		t.Fatal(err)
	}
	found, err := storetest.HalfWritten(ctx, dbURL)
	if err != nil || len(found) != 1 || found[0] != "1 users without a membership" {
		t.Errorf("HalfWritten = %q, %v; want the user without a membership", found, err)
	}
}
