package main

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestKeyWatch: a replica whose key the database no longer records, nor
// holds as its previous or next key, says so once in the log and in
// admit_secret_key_stale, and stops saying so when the database has its
// key again. A replica rolled onto the new key before the rotation (the
// database still on the old one, its previous key) is not stale. One
// that holds the new key as its next when the rotation records it is not
// stale either (it opens what the others seal), but it still seals with
// the retired key: admit_secret_key_retired says so, once in the log, as
// it does for the stale replica left on the old key alone.
func TestKeyWatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		record := func(fp, replaced string) {
			t.Helper()
			if err := s.RecordKeyFingerprints(ctx, fp, replaced); err != nil {
				t.Fatal(err)
			}
		}
		const a, b, c = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccccccccccc"
		onA := keys{fingerprint: a}
		rolled := keys{fingerprint: b, previous: &keys{fingerprint: a}}
		ahead := keys{fingerprint: a, next: &keys{fingerprint: b}}
		for _, step := range []struct {
			name               string
			recorded, replaced string
			k                  keys
			stale, retired     bool
			logged, warned     int
		}{
			{"the old key, before the rotation", a, "", onA, false, false, 0, 0},
			{"rolled onto the new key, before the rotation", a, "", rolled, false, false, 0, 0},
			{"the new key as next, before the rotation", a, "", ahead, false, false, 0, 0},
			{"rolled, after the rotation", b, a, rolled, false, false, 0, 0},
			{"the new key as next, after the rotation", b, a, ahead, false, true, 0, 1},
			{"the old key, after the rotation", b, a, onA, true, true, 1, 0},
			{"the new key as next, after a rotation to a third key", c, a, ahead, true, true, 1, 0},
		} {
			record(step.recorded, step.replaced)
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
			if got := testutil.ToFloat64(w.retired) == 1; got != step.retired {
				t.Errorf("%s: retired %v; want %v", step.name, got, step.retired)
			}
			if n := strings.Count(logs.String(), "level=ERROR msg=\"the secret key was rotated"); n != step.logged {
				t.Errorf("%s: logged %d errors; want %d:\n%s", step.name, n, step.logged, logs.String())
			}
			if n := strings.Count(logs.String(), "level=WARN msg=\"the secret key was rotated to this replica's ADMIT_SECRET_KEY_NEXT"); n != step.warned {
				t.Errorf("%s: logged %d warnings; want %d:\n%s", step.name, n, step.warned, logs.String())
			}
			if step.stale || step.retired {
				record(a, "")
				if stale, _ := w.check(ctx); stale || testutil.ToFloat64(w.stale) != 0 || testutil.ToFloat64(w.retired) != 0 {
					t.Errorf("%s: still stale or retired with its key recorded again", step.name)
				}
			}
		}
	})
}

// TestAcceptedKeysCoverEveryUse: every key derived from the server key
// has its accepted keys, the previous key's and the next key's, so that
// whatever opens or verifies with one use's key is handed every key of a
// rotation (serve.go passes keys.accepted() to each). The bounce hook's
// secret is the one exception: the mail relay holds a single one, and
// the operator gives it the new one (docs/operations.md).
func TestAcceptedKeysCoverEveryUse(t *testing.T) {
	t.Parallel()
	derive := func(key string) *keys {
		t.Helper()
		k, err := deriveKeys(mustDecode(key))
		if err != nil {
			t.Fatal(err)
		}
		return &k
	}
	k := *derive(keyA)
	k.previous, k.next = derive(keyB), derive(keyC)
	got := reflect.ValueOf(k.accepted())
	kv := reflect.ValueOf(k)
	exempt := map[string]bool{"bounceHook": true}
	for i := range kv.NumField() {
		f := kv.Type().Field(i)
		if f.Type != reflect.TypeFor[[]byte]() || exempt[f.Name] {
			continue
		}
		a := got.FieldByName(f.Name)
		if !a.IsValid() {
			t.Errorf("keys.%s has no accepted keys: add it to acceptedKeys and hand them to its opener", f.Name)
			continue
		}
		want := [][]byte{reflect.ValueOf(*k.previous).Field(i).Bytes(), reflect.ValueOf(*k.next).Field(i).Bytes()}
		if a.Len() != len(want) || !bytes.Equal(a.Index(0).Bytes(), want[0]) || !bytes.Equal(a.Index(1).Bytes(), want[1]) {
			t.Errorf("accepted().%s is not the previous and the next key's %s", f.Name, f.Name)
		}
	}
	if n := got.NumField(); n != 6 {
		t.Errorf("acceptedKeys has %d fields; want the 6 uses of keys but the bounce hook's", n)
	}
	if none := (keys{}).accepted(); !reflect.DeepEqual(none, acceptedKeys{}) {
		t.Errorf("accepted outside a rotation: %+v; want none", none)
	}
}
