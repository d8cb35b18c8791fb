package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type apiKeyRow struct {
	ID         string         `db:"id"`
	AccountID  sql.NullString `db:"account_id"`
	Name       string         `db:"name"`
	KeyHash    string         `db:"key_hash"`
	CreatedAt  time.Time      `db:"created_at"`
	LastUsedAt sql.NullTime   `db:"last_used_at"`
	RevokedAt  sql.NullTime   `db:"revoked_at"`
}

const apiKeyColumns = `id, account_id, name, key_hash, created_at, last_used_at, revoked_at`

func (r apiKeyRow) key() directory.APIKey {
	return directory.APIKey{ID: r.ID, AccountID: r.AccountID.String, Name: r.Name, KeyHash: r.KeyHash, CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: optionalTime(r.LastUsedAt), RevokedAt: optionalTime(r.RevokedAt)}
}

// CreateAPIKey stores a key's hash; an operator key has no account (NULL,
// so that the account's foreign key does not apply to it).
func (s *Store) CreateAPIKey(ctx context.Context, k directory.APIKey) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO api_keys (id, account_id, name, key_hash, created_at) VALUES (?, ?, ?, ?, ?)`),
		k.ID, nullString(k.AccountID), k.Name, k.KeyHash, k.CreatedAt)
	return s.dialect.wrap(err, "insert API key")
}

func (s *Store) findAPIKey(ctx context.Context, where string, arg any) (directory.APIKey, error) {
	var r apiKeyRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+apiKeyColumns+` FROM api_keys WHERE `+where), arg); err != nil {
		return directory.APIKey{}, s.dialect.wrap(err, "find API key")
	}
	return r.key(), nil
}

// FindAPIKey returns a key by ID.
func (s *Store) FindAPIKey(ctx context.Context, id string) (directory.APIKey, error) {
	return s.findAPIKey(ctx, `id = ?`, id)
}

// FindAPIKeyByHash returns the key with that hash.
func (s *Store) FindAPIKeyByHash(ctx context.Context, hash string) (directory.APIKey, error) {
	return s.findAPIKey(ctx, `key_hash = ?`, hash)
}

// FindAPIKeys lists an account's keys, or the operator keys for an empty
// accountID, oldest first.
func (s *Store) FindAPIKeys(ctx context.Context, accountID string) ([]directory.APIKey, error) {
	where, args := `account_id = ?`, []any{accountID}
	if accountID == "" {
		where, args = `account_id IS NULL`, nil
	}
	var rows []apiKeyRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+apiKeyColumns+` FROM api_keys WHERE `+where+` ORDER BY created_at, id`), args...); err != nil {
		return nil, s.dialect.wrap(err, "find API keys")
	}
	out := make([]directory.APIKey, len(rows))
	for i, r := range rows {
		out[i] = r.key()
	}
	return out, nil
}

// TouchAPIKey records a key's use.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), at, id)
	return s.dialect.wrap(err, "touch API key")
}

// RevokeAPIKey marks a key revoked.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), at, id)
	return s.dialect.wrap(err, "revoke API key")
}

type idempotencyRow struct {
	APIKeyID    string    `db:"api_key_id"`
	Key         string    `db:"key"`
	RequestHash string    `db:"request_hash"`
	Status      int       `db:"status"`
	Response    []byte    `db:"response"`
	CreatedAt   time.Time `db:"created_at"`
}

// ClaimIdempotencyKey claims a key with one insert that the primary key
// makes unique: of two requests with the same key at the same moment, on
// any replicas, one inserts and the other reads the first's row. A record
// older than notBefore is deleted first, so the key is claimed afresh.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, r directory.IdempotencyRecord, notBefore time.Time) (directory.IdempotencyRecord, bool, error) {
	if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM idempotency_keys WHERE api_key_id = ? AND key = ? AND created_at < ?`), r.APIKeyID, r.Key, notBefore); err != nil {
		return directory.IdempotencyRecord{}, false, s.dialect.wrap(err, "expire idempotency key")
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, created_at)
		VALUES (?, ?, ?, 0, ?) ON CONFLICT (api_key_id, key) DO NOTHING`), r.APIKeyID, r.Key, r.RequestHash, r.CreatedAt)
	if err != nil {
		return directory.IdempotencyRecord{}, false, s.dialect.wrap(err, "claim idempotency key")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return directory.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n == 1 {
		return r, true, nil
	}
	var row idempotencyRow
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT api_key_id, key, request_hash, status, response, created_at
		FROM idempotency_keys WHERE api_key_id = ? AND key = ?`), r.APIKeyID, r.Key); err != nil {
		return directory.IdempotencyRecord{}, false, s.dialect.wrap(err, "find idempotency key")
	}
	return directory.IdempotencyRecord{APIKeyID: row.APIKeyID, Key: row.Key, RequestHash: row.RequestHash, Status: row.Status,
		Response: row.Response, CreatedAt: row.CreatedAt.UTC()}, false, nil
}

// FinishIdempotencyKey stores the response of a claimed key.
func (s *Store) FinishIdempotencyKey(ctx context.Context, apiKeyID, key string, status int, response []byte) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE idempotency_keys SET status = ?, response = ? WHERE api_key_id = ? AND key = ?`),
		status, response, apiKeyID, key)
	return s.dialect.wrap(err, "finish idempotency key")
}

// ReleaseIdempotencyKey forgets a claim that has no response yet.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, apiKeyID, key string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM idempotency_keys WHERE api_key_id = ? AND key = ? AND status = 0`), apiKeyID, key)
	return s.dialect.wrap(err, "release idempotency key")
}

// DeleteIdempotencyKeysBefore forgets the keys claimed before t.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM idempotency_keys WHERE created_at < ?`), t)
	if err != nil {
		return 0, s.dialect.wrap(err, "delete idempotency keys")
	}
	return res.RowsAffected()
}
