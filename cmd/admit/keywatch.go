package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/store"
)

// keyCheckEvery is how often a replica compares its secret key with the
// one the database records.
const keyCheckEvery = time.Minute

// instanceSettings reads what the database records of the installation
// (store.Store.InstanceSetting).
type instanceSettings interface {
	InstanceSetting(ctx context.Context, key string) (string, bool, error)
}

// keyWatch tells the operator when the secret key was rotated away from
// under this replica: `admit secret-key rotate` resealed every secret
// under a new key while this replica, not restarted with it, goes on
// sealing and signing with the old one. What it seals then opens only as
// long as the other replicas keep the old key as ADMIT_SECRET_KEY_PREVIOUS.
// It does not stop serving: a rotation run too early must not take every
// replica out at once.
type keyWatch struct {
	db       instanceSettings
	keys     keys
	stale    prometheus.Gauge
	log      *slog.Logger
	reported bool
}

func newKeyWatch(db instanceSettings, k keys, reg prometheus.Registerer, log *slog.Logger) *keyWatch {
	stale := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "admit_secret_key_stale",
		Help: "1 when the database is sealed with a secret key this replica neither seals with nor holds as its previous key (the key was rotated and this replica was not restarted with the new one), else 0; read every minute.",
	})
	reg.MustRegister(stale)
	return &keyWatch{db: db, keys: k, stale: stale, log: log}
}

// check compares once: it reports whether this replica's key is stale.
func (w *keyWatch) check(ctx context.Context) (bool, error) {
	recorded, ok, err := w.db.InstanceSetting(ctx, store.SettingKeyFingerprint)
	if err != nil || !ok {
		return false, err
	}
	stale := recorded != w.keys.fingerprint && (w.keys.previous == nil || recorded != w.keys.previous.fingerprint)
	if stale {
		w.stale.Set(1)
		if !w.reported {
			w.log.ErrorContext(ctx, "the secret key was rotated and this replica still seals and signs with the old one: restart it with the new key in ADMIT_SECRET_KEY and the old one in ADMIT_SECRET_KEY_PREVIOUS, then run admit secret-key rotate once more",
				"key", w.keys.fingerprint[:12], "database", recorded[:min(12, len(recorded))])
		}
	} else {
		w.stale.Set(0)
	}
	w.reported = stale
	return stale, nil
}

// run checks at start and every keyCheckEvery until ctx ends.
func (w *keyWatch) run(ctx context.Context) {
	every(ctx, keyCheckEvery, func() {
		if _, err := w.check(ctx); err != nil && ctx.Err() == nil {
			w.log.DebugContext(ctx, "secret key check", "err", err)
		}
	})
}

// every runs fn at once and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
