package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type operatorRow struct {
	UserID  string    `db:"user_id"`
	Email   string    `db:"email"`
	AddedAt time.Time `db:"added_at"`
	AddedBy string    `db:"added_by"`
}

func (r operatorRow) operator() directory.Operator {
	return directory.Operator{UserID: r.UserID, Email: r.Email, AddedAt: r.AddedAt.UTC(), AddedBy: r.AddedBy}
}

const operatorSelect = `SELECT o.user_id, u.email, o.added_at, o.added_by FROM operators o JOIN users u ON u.id = o.user_id`

// AddOperator makes a user an operator; Conflict when they are one.
func (s *Store) AddOperator(ctx context.Context, o directory.Operator) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO operators (user_id, added_at, added_by) VALUES (?, ?, ?)`), o.UserID, o.AddedAt, o.AddedBy)
	return s.dialect.wrap(err, "insert operator")
}

// DeleteOperator ends a user's operator rights; NotFound when they had none.
func (s *Store) DeleteOperator(ctx context.Context, userID string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM operators WHERE user_id = ?`), userID)
	if err != nil {
		return s.dialect.wrap(err, "delete operator")
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return directory.NotFoundError("not an operator")
	}
	return nil
}

// FindOperator returns the operator with the user id.
func (s *Store) FindOperator(ctx context.Context, userID string) (directory.Operator, error) {
	var r operatorRow
	if err := sqlx.GetContext(ctx, s.q, &r, s.rebind(operatorSelect+` WHERE o.user_id = ?`), userID); err != nil {
		return directory.Operator{}, s.dialect.wrap(err, "find operator")
	}
	return r.operator(), nil
}

// FindOperators lists the operators by email.
func (s *Store) FindOperators(ctx context.Context) ([]directory.Operator, error) {
	var rows []operatorRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, operatorSelect+` ORDER BY u.email_key`); err != nil {
		return nil, s.dialect.wrap(err, "find operators")
	}
	out := make([]directory.Operator, len(rows))
	for i, r := range rows {
		out[i] = r.operator()
	}
	return out, nil
}
