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
//
// Two gauges, as the harm differs. admit_secret_key_stale: this replica
// does not even accept the database's key (neither its own, previous nor
// next), so what the others seal and sign does not open here: harm now.
// admit_secret_key_retired: this replica seals and signs with the key
// the last rotation replaced; with the new key as ADMIT_SECRET_KEY_NEXT
// that is expected while the replicas are rolled after the rotation, and
// harms only once some replica drops ADMIT_SECRET_KEY_PREVIOUS.
type keyWatch struct {
	db       instanceSettings
	keys     keys
	stale    prometheus.Gauge
	retired  prometheus.Gauge
	log      *slog.Logger
	reported bool
	// warned is whether the retired key was reported (stale aside).
	warned bool
}

func newKeyWatch(db instanceSettings, k keys, reg prometheus.Registerer, log *slog.Logger) *keyWatch {
	stale := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "admit_secret_key_stale",
		Help: "1 when the database is sealed with a secret key this replica neither seals with nor holds as its previous or next key (the key was rotated and this replica was not restarted with the new one), else 0; read every minute.",
	})
	retired := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "admit_secret_key_retired",
		Help: "1 when this replica seals and signs with the secret key the last rotation replaced (it was not restarted with the new key in ADMIT_SECRET_KEY), else 0; no replica may drop ADMIT_SECRET_KEY_PREVIOUS while one reports 1; read every minute.",
	})
	reg.MustRegister(stale, retired)
	return &keyWatch{db: db, keys: k, stale: stale, retired: retired, log: log}
}

// check compares once: it reports whether this replica's key is stale.
func (w *keyWatch) check(ctx context.Context) (bool, error) {
	recorded, ok, err := w.db.InstanceSetting(ctx, store.SettingKeyFingerprint)
	if err != nil || !ok {
		return false, err
	}
	replaced := ""
	if recorded != w.keys.fingerprint {
		if replaced, _, err = w.db.InstanceSetting(ctx, store.SettingPreviousKeyFingerprint); err != nil {
			return false, err
		}
	}
	accepts := func(k *keys) bool { return k != nil && recorded == k.fingerprint }
	stale := recorded != w.keys.fingerprint && !accepts(w.keys.previous) && !accepts(w.keys.next)
	retired := recorded != w.keys.fingerprint && replaced == w.keys.fingerprint
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
	if retired {
		w.retired.Set(1)
		if !stale && !w.warned {
			w.log.WarnContext(ctx, "the secret key was rotated to this replica's ADMIT_SECRET_KEY_NEXT and this replica still seals and signs with the old one: restart it with the new key in ADMIT_SECRET_KEY and the old one in ADMIT_SECRET_KEY_PREVIOUS before any replica drops ADMIT_SECRET_KEY_PREVIOUS",
				"key", w.keys.fingerprint[:12], "database", recorded[:min(12, len(recorded))])
		}
	} else {
		w.retired.Set(0)
	}
	w.warned = retired && !stale
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
