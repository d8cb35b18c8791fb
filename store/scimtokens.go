package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type scimTokenRow struct {
	ID         string       `db:"id"`
	AccountID  string       `db:"account_id"`
	Name       string       `db:"name"`
	TokenHash  string       `db:"token_hash"`
	CreatedAt  time.Time    `db:"created_at"`
	LastUsedAt sql.NullTime `db:"last_used_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
}

const scimTokenColumns = `id, account_id, name, token_hash, created_at, last_used_at, revoked_at`

// nullString stores an empty string as NULL (an optional reference).
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func optionalTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func (r scimTokenRow) token() directory.SCIMToken {
	return directory.SCIMToken{ID: r.ID, AccountID: r.AccountID, Name: r.Name, TokenHash: r.TokenHash, CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: optionalTime(r.LastUsedAt), RevokedAt: optionalTime(r.RevokedAt)}
}

// CreateSCIMToken stores a token's hash.
func (s *Store) CreateSCIMToken(ctx context.Context, t directory.SCIMToken) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO scim_tokens (id, account_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`),
		t.ID, t.AccountID, t.Name, t.TokenHash, t.CreatedAt)
	return s.dialect.wrap(err, "insert SCIM token")
}

func (s *Store) findSCIMToken(ctx context.Context, where string, arg any) (directory.SCIMToken, error) {
	var r scimTokenRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+scimTokenColumns+` FROM scim_tokens WHERE `+where), arg); err != nil {
		return directory.SCIMToken{}, s.dialect.wrap(err, "find SCIM token")
	}
	return r.token(), nil
}

// FindSCIMToken returns a token by ID.
func (s *Store) FindSCIMToken(ctx context.Context, id string) (directory.SCIMToken, error) {
	return s.findSCIMToken(ctx, `id = ?`, id)
}

// FindSCIMTokenByHash returns the token with that hash.
func (s *Store) FindSCIMTokenByHash(ctx context.Context, hash string) (directory.SCIMToken, error) {
	return s.findSCIMToken(ctx, `token_hash = ?`, hash)
}

// FindSCIMTokens lists an account's tokens, oldest first.
func (s *Store) FindSCIMTokens(ctx context.Context, accountID string) ([]directory.SCIMToken, error) {
	var rows []scimTokenRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+scimTokenColumns+` FROM scim_tokens WHERE account_id = ? ORDER BY created_at, id`), accountID); err != nil {
		return nil, s.dialect.wrap(err, "find SCIM tokens")
	}
	out := make([]directory.SCIMToken, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// TouchSCIMToken records a token's use.
func (s *Store) TouchSCIMToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE scim_tokens SET last_used_at = ? WHERE id = ?`), at, id)
	return s.dialect.wrap(err, "touch SCIM token")
}

// RevokeSCIMToken marks a token revoked.
func (s *Store) RevokeSCIMToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), at, id)
	return s.dialect.wrap(err, "revoke SCIM token")
}
