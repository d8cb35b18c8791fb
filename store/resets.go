package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

const resetColumns = `id, user_id, account_id, token_hash, token_nonce, expires_at, used_at, created_at, password_stamp`

// CreatePasswordReset stores a reset request.
func (s *Store) CreatePasswordReset(ctx context.Context, r directory.PasswordReset) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO password_resets (`+resetColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.UserID, r.AccountID, r.TokenHash, r.TokenNonce, r.ExpiresAt, r.UsedAt, r.CreatedAt, r.PasswordStamp)
	return s.dialect.wrap(err, "insert password reset")
}

func (s *Store) findReset(ctx context.Context, where string, arg any) (directory.PasswordReset, error) {
	var row struct {
		ID            string       `db:"id"`
		UserID        string       `db:"user_id"`
		AccountID     string       `db:"account_id"`
		TokenHash     string       `db:"token_hash"`
		TokenNonce    string       `db:"token_nonce"`
		ExpiresAt     time.Time    `db:"expires_at"`
		UsedAt        sql.NullTime `db:"used_at"`
		CreatedAt     time.Time    `db:"created_at"`
		PasswordStamp string       `db:"password_stamp"`
	}
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+resetColumns+` FROM password_resets WHERE `+where), arg); err != nil {
		return directory.PasswordReset{}, s.dialect.wrap(err, "find password reset")
	}
	r := directory.PasswordReset{ID: row.ID, UserID: row.UserID, AccountID: row.AccountID, TokenHash: row.TokenHash,
		TokenNonce: row.TokenNonce, ExpiresAt: row.ExpiresAt.UTC(), CreatedAt: row.CreatedAt.UTC(), UsedAt: optionalTime(row.UsedAt),
		PasswordStamp: row.PasswordStamp}
	return r, nil
}

// FindPasswordReset returns one reset request.
func (s *Store) FindPasswordReset(ctx context.Context, id string) (directory.PasswordReset, error) {
	return s.findReset(ctx, `id = ?`, id)
}

// FindPasswordResetByTokenHash returns the reset whose link has that hash.
func (s *Store) FindPasswordResetByTokenHash(ctx context.Context, hash string) (directory.PasswordReset, error) {
	return s.findReset(ctx, `token_hash = ?`, hash)
}

// UsePasswordReset marks an unused reset used: of two racing uses, one wins.
func (s *Store) UsePasswordReset(ctx context.Context, id, tokenHash string, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE password_resets SET used_at = ? WHERE id = ? AND token_hash = ? AND used_at IS NULL`), at, id, tokenHash)
	if err != nil {
		return s.dialect.wrap(err, "use password reset")
	}
	return expectOne(res, "unused password reset")
}

// CountPasswordResets counts the reset links made for the user after a time.
func (s *Store) CountPasswordResets(ctx context.Context, userID string, since time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM password_resets WHERE user_id = ? AND created_at > ?`), userID, since)
	return n, s.dialect.wrap(err, "count password resets")
}
