package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type handoffRow struct {
	CodeHash    string    `db:"code_hash"`
	SessionHash string    `db:"session_hash"`
	UserID      string    `db:"user_id"`
	AccountID   string    `db:"account_id"`
	AppID       string    `db:"app_id"`
	ReturnURL   string    `db:"return_url"`
	Binding     string    `db:"binding"`
	ExpiresAt   time.Time `db:"expires_at"`
}

// CreateHandoff stores a hand-off code's hash and what it opens.
func (s *Store) CreateHandoff(ctx context.Context, h directory.Handoff) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO handoffs (code_hash, session_hash, user_id, account_id, app_id, return_url, binding, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), h.CodeHash, h.SessionHash, h.UserID, h.AccountID, h.AppID, h.ReturnURL, h.Binding, h.ExpiresAt)
	return s.dialect.wrap(err, "insert hand-off")
}

// ClaimHandoff deletes the hand-off of a code hash and returns it: the
// delete is the claim, so two redemptions at once cannot both get it.
func (s *Store) ClaimHandoff(ctx context.Context, codeHash string) (directory.Handoff, error) {
	var r handoffRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`DELETE FROM handoffs WHERE code_hash = ?
		RETURNING code_hash, session_hash, user_id, account_id, app_id, return_url, binding, expires_at`), codeHash)
	if err != nil {
		return directory.Handoff{}, s.dialect.wrap(err, "claim hand-off")
	}
	return directory.Handoff{CodeHash: r.CodeHash, SessionHash: r.SessionHash, UserID: r.UserID, AccountID: r.AccountID,
		AppID: r.AppID, ReturnURL: r.ReturnURL, Binding: r.Binding, ExpiresAt: r.ExpiresAt.UTC()}, nil
}

// DeleteExpiredHandoffs deletes the hand-offs past their end.
func (s *Store) DeleteExpiredHandoffs(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM handoffs WHERE expires_at < ?`), now)
	if err != nil {
		return 0, s.dialect.wrap(err, "delete expired hand-offs")
	}
	return res.RowsAffected()
}
