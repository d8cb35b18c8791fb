package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestCountSignInFailures: the count of a key's failures in the window
// and the oldest of them come from one statement; rows before the window
// are neither counted nor kept, and other keys are not counted.
func TestCountSignInFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		for i, key := range []string{"user:a", "user:a", "user:a", "user:b"} {
			if err := s.AddSignInFailure(ctx, key, string(rune('p'+i)), t0.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name       string
			key        string
			since      time.Time
			wantN      int
			wantOldest time.Time
		}{
			{"every row", "user:a", t0.Add(-time.Minute), 3, t0},
			{"the window drops the first", "user:a", t0, 2, t0.Add(time.Minute)},
			{"another key", "user:b", t0.Add(-time.Minute), 1, t0.Add(3 * time.Minute)},
			{"no rows", "user:c", t0.Add(-time.Minute), 0, time.Time{}},
			{"the dropped row stays gone", "user:a", t0.Add(-time.Minute), 2, t0.Add(time.Minute)},
		} {
			n, oldest, err := s.CountSignInFailures(ctx, tc.key, tc.since)
			if err != nil || n != tc.wantN || !oldest.Equal(tc.wantOldest) {
				t.Errorf("%s: %d, %v, %v; want %d, %v", tc.name, n, oldest, err, tc.wantN, tc.wantOldest)
			}
		}
	})
}
