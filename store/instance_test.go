package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestInstanceSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, ok, err := s.InstanceSetting(ctx, store.SettingBaseURL); ok || err != nil {
			t.Fatalf("a fresh database has a base URL (%v, %v)", ok, err)
		}
		// The first to record a fingerprint wins; a later one reads it.
		if got, err := s.RecordInstanceSettingOnce(ctx, store.SettingKeyFingerprint, "first", time.Now()); got != "first" || err != nil {
			t.Fatalf("RecordInstanceSettingOnce = %q, %v; want first", got, err)
		}
		if got, err := s.RecordInstanceSettingOnce(ctx, store.SettingKeyFingerprint, "second", time.Now()); got != "first" || err != nil {
			t.Fatalf("second RecordInstanceSettingOnce = %q, %v; want first kept", got, err)
		}
		// The base URL is replaced by each start.
		for _, u := range []string{"http://a.example", "https://b.example"} {
			if err := s.SetInstanceSetting(ctx, store.SettingBaseURL, u, time.Now()); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.InstanceSetting(ctx, store.SettingBaseURL); got != u || !ok || err != nil {
				t.Fatalf("base URL = %q, %v, %v; want %q", got, ok, err, u)
			}
		}
	})
}

func TestHoldsKeyedData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if held, err := s.HoldsKeyedData(ctx); held || err != nil {
			t.Fatalf("a fresh database holds keyed data (%v, %v)", held, err)
		}
		if _, err := s.DB().Exec(`INSERT INTO certificates (id, state, cert_pem, sealed_key, not_before, not_after, created_at) VALUES ('c1', 'active', 'x', 'v1.x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`); err != nil {
			t.Fatal(err)
		}
		if held, err := s.HoldsKeyedData(ctx); !held || err != nil {
			t.Fatalf("a database with a sealed SAML key holds no keyed data (%v, %v)", held, err)
		}
	})
}
