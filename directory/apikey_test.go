package directory_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a, b := mustAccount(t, svc, "alpha"), mustAccount(t, svc, "beta")
		if _, _, err := svc.CreateAPIKey(ctx, a.ID, operator, "  "); directory.KindOf(err) != directory.Invalid {
			t.Errorf("nameless key: %v; want Invalid", err)
		}
		if _, _, err := svc.CreateAPIKey(ctx, "no-such-account", operator, "x"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("key of no account: %v; want NotFound", err)
		}
		secret, k, err := svc.CreateAPIKey(ctx, a.ID, operator, "billing sync")
		if err != nil || !strings.HasPrefix(secret, "admit_ak_") || len(secret) < 50 || k.Operator() {
			t.Fatalf("key %q %+v, %v", secret, k, err)
		}
		opSecret, op, err := svc.CreateAPIKey(ctx, "", operator, "provisioning")
		if err != nil || !op.Operator() {
			t.Fatalf("operator key %+v, %v", op, err)
		}
		if n := countWhere(t, s, `SELECT COUNT(*) FROM api_keys WHERE key_hash = ?`, secret); n != 0 {
			t.Fatal("the key itself is stored")
		}
		got, err := svc.AuthenticateAPIKey(ctx, secret)
		if err != nil || got.ID != k.ID || got.AccountID != a.ID || got.LastUsedAt == nil {
			t.Fatalf("authenticate: %+v, %v", got, err)
		}
		for _, bad := range []string{"", "admit_ak_", secret + "x", strings.TrimPrefix(secret, "admit_ak_"), "Bearer " + secret, "admit_scim_" + secret[9:], secret + strings.Repeat("a", 200)} {
			if _, err := svc.AuthenticateAPIKey(ctx, bad); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("key %q: %v; want Unauthenticated", bad, err)
			}
		}
		// An account's key reaches its account only, as an admin; an
		// operator key every account, as an owner.
		adm, err := svc.KeyAdmin(ctx, got, "alpha")
		if err != nil || adm.Membership.Role != directory.RoleAdmin || adm.Actor().Source != directory.SourceAPIKey || adm.Actor().ID != k.ID {
			t.Errorf("key admin of alpha: %+v, %v", adm, err)
		}
		for _, slug := range []string{"beta", "nope", "\x00"} {
			if _, err := svc.KeyAdmin(ctx, got, slug); directory.KindOf(err) != directory.NotFound {
				t.Errorf("alpha's key on %q: %v; want NotFound", slug, err)
			}
		}
		if adm, err := svc.KeyAdmin(ctx, op, "beta"); err != nil || adm.Membership.Role != directory.RoleOwner {
			t.Errorf("operator key on beta: %+v, %v", adm, err)
		}
		// Listing and revoking stay in the account (or among operator keys).
		if keys, _ := svc.APIKeys(ctx, a.ID); len(keys) != 1 || keys[0].ID != k.ID {
			t.Errorf("alpha's keys: %+v", keys)
		}
		if keys, _ := svc.APIKeys(ctx, ""); len(keys) != 1 || keys[0].ID != op.ID {
			t.Errorf("operator keys: %+v", keys)
		}
		if _, err := svc.RevokeAPIKey(ctx, b.ID, operator, k.ID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("revoke from beta: %v; want NotFound", err)
		}
		if _, err := svc.RevokeAPIKey(ctx, "", operator, k.ID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("revoke an account's key as an operator key: %v; want NotFound", err)
		}
		clk.Add(2 * time.Minute)
		if _, err := svc.RevokeAPIKey(ctx, a.ID, operator, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticateAPIKey(ctx, secret); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("revoked key: %v; want Unauthenticated", err)
		}
		if _, err := svc.AuthenticateAPIKey(ctx, opSecret); err != nil {
			t.Errorf("the operator key stopped working: %v", err)
		}
		if got := auditActions(t, svc, a.ID); !strings.Contains(strings.Join(got, " "), "api_key.created") || !strings.Contains(strings.Join(got, " "), "api_key.revoked") {
			t.Errorf("audit: %v", got)
		}
	})
}

func countWhere(t *testing.T, s *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, s.DB().Rebind(query), args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		_, k, err := svc.CreateAPIKey(ctx, a.ID, operator, "sync")
		if err != nil {
			t.Fatal(err)
		}
		_, other, _ := svc.CreateAPIKey(ctx, a.ID, operator, "other")
		for _, bad := range []string{"", strings.Repeat("k", 256), "a\nb", "a\x00b"} {
			if _, _, err := svc.BeginIdempotent(ctx, k, bad, nil); directory.KindOf(err) != directory.Invalid {
				t.Errorf("key %q: %v; want Invalid", bad, err)
			}
		}
		state, rec, err := svc.BeginIdempotent(ctx, k, "k1", []byte("POST /x {}"))
		if err != nil || state != directory.IdempotencyNew {
			t.Fatalf("first: %v, %v", state, err)
		}
		if plain := sha256.Sum256([]byte("POST /x {}")); rec.RequestHash == hex.EncodeToString(plain[:]) || strings.Contains(rec.RequestHash, "{}") {
			t.Errorf("the request is kept as %q: a plain hash, which a reader of the database could test guesses against", rec.RequestHash)
		}
		if state, _, _ := svc.BeginIdempotent(ctx, k, "k1", []byte("POST /x {}")); state != directory.IdempotencyRunning {
			t.Errorf("while running: %v; want running", state)
		}
		if state, _, _ := svc.BeginIdempotent(ctx, k, "k1", []byte("POST /x {\"a\":1}")); state != directory.IdempotencyMismatch {
			t.Errorf("other body: %v; want mismatch", state)
		}
		// Keys are per API key: another key's k1 is another claim.
		if state, _, _ := svc.BeginIdempotent(ctx, other, "k1", []byte("POST /x {}")); state != directory.IdempotencyNew {
			t.Errorf("other API key: %v; want new", state)
		}
		if err := svc.FinishIdempotent(ctx, rec, 201, []byte(`{"id":"1"}`)); err != nil {
			t.Fatal(err)
		}
		state, got, err := svc.BeginIdempotent(ctx, k, "k1", []byte("POST /x {}"))
		if err != nil || state != directory.IdempotencyReplay || got.Status != 201 || string(got.Response) != `{"id":"1"}` {
			t.Errorf("replay: %v %+v, %v", state, got, err)
		}
		// A failure on admit's side releases the key for a retry.
		_, r2, _ := svc.BeginIdempotent(ctx, k, "k2", []byte("b"))
		if err := svc.ReleaseIdempotent(ctx, r2); err != nil {
			t.Fatal(err)
		}
		if state, _, _ := svc.BeginIdempotent(ctx, k, "k2", []byte("b")); state != directory.IdempotencyNew {
			t.Errorf("after release: %v; want new", state)
		}
		// After 24 hours a key is new again, and the sweep forgets it.
		clk.Add(directory.IdempotencyTTL + time.Minute)
		if state, _, _ := svc.BeginIdempotent(ctx, k, "k1", []byte("POST /x {\"a\":1}")); state != directory.IdempotencyNew {
			t.Errorf("after 24 h: %v; want new", state)
		}
		if n, err := svc.SweepIdempotencyKeys(ctx); err != nil || n != 2 {
			t.Errorf("sweep: %d, %v; want 2 (k2 and other's k1)", n, err)
		}
	})
}

// Of many requests with one key at one moment, exactly one runs.
func TestIdempotencyKeyConcurrentClaims(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "alpha")
		_, k, _ := svc.CreateAPIKey(ctx, a.ID, operator, "sync")
		var wg sync.WaitGroup
		states := make([]directory.IdempotencyState, 8)
		errs := make([]error, 8)
		for i := range states {
			wg.Go(func() { states[i], _, errs[i] = svc.BeginIdempotent(ctx, k, "same", []byte("body")) })
		}
		wg.Wait()
		news := 0
		for i, st := range states {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if st == directory.IdempotencyNew {
				news++
			}
		}
		if news != 1 {
			t.Errorf("%d claims won; want 1 (%v)", news, fmt.Sprint(states))
		}
	})
}

func TestAuditTrailPages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		for i := range 7 {
			if _, _, err := svc.CreateSCIMToken(ctx, a.ID, operator, fmt.Sprintf("t%d", i)); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				clk.Add(time.Second) // some events share a time: the id breaks the tie
			}
		}
		var seen []string
		after := ""
		for range 10 {
			page, err := svc.AuditTrailPage(ctx, a.ID, directory.AuditQuery{Action: "scim_token.created", Limit: 3}, after)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				seen = append(seen, e.ID)
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		all, _ := svc.AuditTrail(ctx, a.ID, "", "scim_token.created", time.Time{}, 100)
		if len(seen) != 7 || len(all) != 7 {
			t.Fatalf("paged %d events, %d in all; want 7", len(seen), len(all))
		}
		for i := range all {
			if all[i].ID != seen[i] {
				t.Fatalf("page order differs at %d", i)
			}
		}
		if _, err := svc.AuditTrailPage(ctx, a.ID, directory.AuditQuery{}, "bad cursor"); directory.KindOf(err) != directory.Invalid {
			t.Errorf("bad cursor: %v; want Invalid", err)
		}
	})
}

// TestAccountIDInPlaceOfSlug: a key opens an account by its id as by its
// slug (events name accounts by id); a slug may not be written as an id,
// and one that was (kept from before) does not stand for the account whose
// id it is.
func TestAccountIDInPlaceOfSlug(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		alpha := mustAccount(t, svc, "alpha")
		if _, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: alpha.ID, Name: "Shadow"}); directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), "written as an id") {
			t.Errorf("a slug written as alpha's id: %v; want it refused", err)
		}
		now := time.Now().UTC()
		shadow := directory.Account{ID: "0193e1b0-0000-7000-8000-000000000001", Slug: alpha.ID, Name: "Shadow", CreatedAt: now, UpdatedAt: now}
		if err := s.CreateAccount(ctx, shadow); err != nil {
			t.Fatal(err)
		}
		_, op, err := svc.CreateAPIKey(ctx, "", operator, "ops")
		if err != nil {
			t.Fatal(err)
		}
		_, own, err := svc.CreateAPIKey(ctx, alpha.ID, operator, "alpha's")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, key string
			k         directory.APIKey
		}{{"the operator key", "alpha", op}, {"the operator key", alpha.ID, op}, {"alpha's key", "alpha", own}, {"alpha's key", alpha.ID, own}} {
			if adm, err := svc.KeyAdmin(ctx, tc.k, tc.key); err != nil || adm.Account.ID != alpha.ID {
				t.Errorf("%s on %s: account %q, %v; want alpha", tc.name, tc.key, adm.Account.Slug, err)
			}
		}
	})
}

// TestIdempotencyKeysAcrossKeyRotation: while the server key is rotated, a
// retry that lands on a replica with the other key of the rotation (the
// old as its previous, or the new as its next) replays the first answer;
// on a replica without that key it is a mismatch, as before.
func TestIdempotencyKeysAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		oldKey, newKey := oldTokenKey, newTokenKey
		service := func(key []byte, accepted ...[]byte) *directory.Service { return tokenKeyService(s, key, accepted...) }
		ahead, rolled, after := service(oldKey, newKey), service(newKey, oldKey), service(newKey)
		a := mustAccount(t, ahead, "alpha")
		_, k, err := ahead.CreateAPIKey(ctx, a.ID, operator, "sync")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name        string
			first, then *directory.Service
			want        directory.IdempotencyState
		}{
			{"made with the old key, retried with the new and the old as previous", ahead, rolled, directory.IdempotencyReplay},
			{"made with the new key, retried with the old and the new as next", rolled, ahead, directory.IdempotencyReplay},
			{"made with the old key, retried with the new alone", ahead, after, directory.IdempotencyMismatch},
		} {
			idem := "k-" + tc.name
			_, rec, err := tc.first.BeginIdempotent(ctx, k, idem, []byte("POST /x {}"))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.first.FinishIdempotent(ctx, rec, 201, []byte(`{"id":"1"}`)); err != nil {
				t.Fatal(err)
			}
			if state, _, err := tc.then.BeginIdempotent(ctx, k, idem, []byte("POST /x {}")); err != nil || state != tc.want {
				t.Errorf("%s: %v, %v; want %v", tc.name, state, err, tc.want)
			}
			if state, _, _ := tc.then.BeginIdempotent(ctx, k, idem, []byte("POST /x {\"a\":1}")); state != directory.IdempotencyMismatch {
				t.Errorf("%s, another body: %v; want mismatch", tc.name, state)
			}
		}
	})
}
