package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestKeyWatch: a replica whose key the database no longer records, nor
// holds as its previous key, says so once in the log and in
// admit_secret_key_stale, and stops saying so when the database has its
// key again. A replica rolled onto the new key before the rotation (the
// database still on the old one, its previous key) is not stale.
func TestKeyWatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		record := func(fp string) {
			t.Helper()
			if err := s.SetInstanceSetting(ctx, store.SettingKeyFingerprint, fp, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		const a, b = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		onA := keys{fingerprint: a}
		rolled := keys{fingerprint: b, previous: &keys{fingerprint: a}}
		for _, step := range []struct {
			name     string
			recorded string
			k        keys
			stale    bool
			logged   int
		}{
			{"the old key, before the rotation", a, onA, false, 0},
			{"rolled onto the new key, before the rotation", a, rolled, false, 0},
			{"rolled, after the rotation", b, rolled, false, 0},
			{"the old key, after the rotation", b, onA, true, 1},
		} {
			record(step.recorded)
			var logs bytes.Buffer
			w := newKeyWatch(s, step.k, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&logs, nil)))
			for range 3 {
				if _, err := w.check(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got := testutil.ToFloat64(w.stale) == 1; got != step.stale {
				t.Errorf("%s: stale %v; want %v", step.name, got, step.stale)
			}
			if n := strings.Count(logs.String(), "the secret key was rotated"); n != step.logged {
				t.Errorf("%s: logged %d times; want %d:\n%s", step.name, n, step.logged, logs.String())
			}
			if step.stale {
				record(a)
				if stale, _ := w.check(ctx); stale || testutil.ToFloat64(w.stale) != 0 {
					t.Errorf("%s: still stale with its key recorded again", step.name)
				}
			}
		}
	})
}
