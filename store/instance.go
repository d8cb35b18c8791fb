package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Names of the instance settings (table instance_settings).
const (
	// SettingBaseURL is the public base URL the server last started with.
	SettingBaseURL = "base_url"
	// SettingKeyFingerprint identifies the secret key that seals this
	// database's secrets, without revealing it.
	SettingKeyFingerprint = "secret_key_fingerprint"
	// SettingPreviousKeyFingerprint identifies the key the last rotation
	// replaced (admit secret-key rotate), so that a process given a wrong
	// ADMIT_SECRET_KEY_PREVIOUS is refused.
	SettingPreviousKeyFingerprint = "previous_secret_key_fingerprint"
	// SettingRetiredKeyFingerprints identifies, space-separated, every key
	// a rotation replaced since it was first recorded, so that no rotation
	// goes back to one (a key is rotated away from because it leaked).
	SettingRetiredKeyFingerprints = "retired_secret_key_fingerprints"
)

// InstanceSetting returns a setting's value, and whether it is recorded.
func (s *Store) InstanceSetting(ctx context.Context, name string) (string, bool, error) {
	var v string
	err := sqlx.GetContext(ctx, s.q, &v, s.rebind(`SELECT value FROM instance_settings WHERE name = ?`), name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.dialect.wrap(err, "read instance setting")
	}
	return v, true, nil
}

// SetInstanceSetting records a setting, replacing what was recorded.
func (s *Store) SetInstanceSetting(ctx context.Context, name, value string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO instance_settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`), name, value, at.UTC())
	return s.dialect.wrap(err, "record instance setting")
}

// RecordInstanceSettingOnce records a setting unless one is recorded, and
// returns the value that is recorded afterwards: when two processes start
// at once, both read the one that won.
func (s *Store) RecordInstanceSettingOnce(ctx context.Context, name, value string, at time.Time) (string, error) {
	if _, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO instance_settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`), name, value, at.UTC()); err != nil {
		return "", s.dialect.wrap(err, "record instance setting")
	}
	v, ok, err := s.InstanceSetting(ctx, name)
	if err == nil && !ok {
		err = errors.New("record instance setting: the row is not there after inserting it")
	}
	return v, err
}

// HoldsKeyedData reports whether anything stored depends on the secret
// key: sealed SAML keys and OIDC client secrets, and the keyed hashes of
// invitation and reset links. A database that holds none may be given a
// new key; one that holds any must keep the key it has.
func (s *Store) HoldsKeyedData(ctx context.Context) (bool, error) {
	var held bool
	err := sqlx.GetContext(ctx, s.q, &held, `SELECT
		EXISTS (SELECT 1 FROM certificates) OR
		EXISTS (SELECT 1 FROM connections WHERE sealed_secret <> '') OR
		EXISTS (SELECT 1 FROM invitations) OR
		EXISTS (SELECT 1 FROM password_resets)`)
	if err != nil {
		return false, s.dialect.wrap(err, "look for keyed data")
	}
	return held, nil
}

// LockKeyFingerprints returns the fingerprints of the key that seals the
// database and of the one the last rotation replaced ("" before any), and
// on PostgreSQL holds their rows until the transaction ends: rotations
// take turns (see directory.ResealSecrets).
func (s *Store) LockKeyFingerprints(ctx context.Context) (current, previous string, err error) {
	var rows []struct {
		Name  string `db:"name"`
		Value string `db:"value"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT name, value FROM instance_settings i WHERE name IN (?, ?)`+s.dialect.lockRows("i")),
		SettingKeyFingerprint, SettingPreviousKeyFingerprint); err != nil {
		return "", "", s.dialect.wrap(err, "lock key fingerprints")
	}
	for _, r := range rows {
		if r.Name == SettingKeyFingerprint {
			current = r.Value
		} else {
			previous = r.Value
		}
	}
	return current, previous, nil
}

// RecordKeyFingerprints records the fingerprints of the key that seals the
// database now and of the one it replaced, which joins the retired keys
// (see directory.ResealSecrets).
func (s *Store) RecordKeyFingerprints(ctx context.Context, current, previous string) error {
	return s.within(ctx, func(s *Store) error {
		now := time.Now()
		if err := s.SetInstanceSetting(ctx, SettingKeyFingerprint, current, now); err != nil {
			return err
		}
		if err := s.SetInstanceSetting(ctx, SettingPreviousKeyFingerprint, previous, now); err != nil {
			return err
		}
		retired, err := s.RetiredKeyFingerprints(ctx)
		if err != nil || previous == "" || slices.Contains(retired, previous) {
			return err
		}
		return s.SetInstanceSetting(ctx, SettingRetiredKeyFingerprints, strings.Join(append(retired, previous), " "), now)
	})
}

// RetiredKeyFingerprints returns the fingerprints of the keys rotations
// replaced, oldest first (none before the first rotation).
func (s *Store) RetiredKeyFingerprints(ctx context.Context) ([]string, error) {
	v, _, err := s.InstanceSetting(ctx, SettingRetiredKeyFingerprints)
	return strings.Fields(v), err
}
