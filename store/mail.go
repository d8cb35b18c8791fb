package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type mailRow struct {
	ID            string       `db:"id"`
	AccountID     string       `db:"account_id"`
	Kind          string       `db:"kind"`
	Recipient     string       `db:"recipient"`
	Data          []byte       `db:"data"`
	Status        string       `db:"status"`
	Attempts      int          `db:"attempts"`
	NextAttemptAt time.Time    `db:"next_attempt_at"`
	LastError     string       `db:"last_error"`
	CreatedAt     time.Time    `db:"created_at"`
	SentAt        sql.NullTime `db:"sent_at"`
}

const mailColumns = `id, account_id, kind, recipient, data, status, attempts, next_attempt_at, last_error, created_at, sent_at`

func (r mailRow) message() (directory.MailMessage, error) {
	m := directory.MailMessage{
		ID: r.ID, AccountID: r.AccountID, Kind: directory.MailKind(r.Kind), Recipient: r.Recipient,
		Status: directory.MailStatus(r.Status), Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.UTC(),
		LastError: r.LastError, CreatedAt: r.CreatedAt.UTC(), SentAt: optionalTime(r.SentAt),
	}
	if err := json.Unmarshal(r.Data, &m.Data); err != nil {
		return m, fmt.Errorf("decode mail message %s: %w", r.ID, err)
	}
	return m, nil
}

func messages(rows []mailRow) ([]directory.MailMessage, error) {
	out := make([]directory.MailMessage, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = r.message(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AddMailMessage queues a message.
func (s *Store) AddMailMessage(ctx context.Context, m directory.MailMessage) error {
	data, err := json.Marshal(m.Data)
	if err != nil {
		return fmt.Errorf("encode mail data: %w", err)
	}
	_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO mail_messages (id, account_id, kind, recipient, data, status, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`), m.ID, m.AccountID, string(m.Kind), m.Recipient, string(data), string(m.Status), m.NextAttemptAt, m.CreatedAt)
	return s.dialect.wrap(err, "insert mail message")
}

// ClaimMailMessages leases due messages to the caller. On PostgreSQL, FOR
// UPDATE SKIP LOCKED lets workers on several replicas claim at once without
// waiting on or taking each other's rows; SQLite has one writer at a time,
// so its transaction alone keeps claims apart.
func (s *Store) ClaimMailMessages(ctx context.Context, now, lockedUntil time.Time, limit int) ([]directory.MailMessage, error) {
	var rows []mailRow
	err := s.within(ctx, func(s *Store) error {
		return sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`UPDATE mail_messages SET locked_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM mail_messages
				WHERE status = 'queued' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
				ORDER BY next_attempt_at LIMIT ?`+s.dialect.skipLocked+`)
			RETURNING `+mailColumns), lockedUntil, now, now, limit)
	})
	if err != nil {
		return nil, s.dialect.wrap(err, "claim mail")
	}
	return messages(rows)
}

// FinishMailMessage records a message's final status.
func (s *Store) FinishMailMessage(ctx context.Context, id string, status directory.MailStatus, lastError string, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE mail_messages SET status = ?, last_error = ?, sent_at = ?, locked_until = NULL WHERE id = ?`),
		string(status), lastError, at, id)
	if err != nil {
		return s.dialect.wrap(err, "finish mail message")
	}
	return expectOne(res, "mail message")
}

// RetryMailMessage puts a message back in the queue for a later attempt.
func (s *Store) RetryMailMessage(ctx context.Context, id, lastError string, next time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE mail_messages SET last_error = ?, next_attempt_at = ?, locked_until = NULL WHERE id = ?`),
		lastError, next, id)
	if err != nil {
		return s.dialect.wrap(err, "retry mail message")
	}
	return expectOne(res, "mail message")
}

// FindMailMessage returns one message.
func (s *Store) FindMailMessage(ctx context.Context, id string) (directory.MailMessage, error) {
	var row mailRow
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+mailColumns+` FROM mail_messages WHERE id = ?`), id); err != nil {
		return directory.MailMessage{}, s.dialect.wrap(err, "find mail message")
	}
	return row.message()
}

// FindMailMessages returns the account's newest messages first.
func (s *Store) FindMailMessages(ctx context.Context, accountID string, limit int) ([]directory.MailMessage, error) {
	var rows []mailRow
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+mailColumns+` FROM mail_messages WHERE account_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`), accountID, limit)
	if err != nil {
		return nil, s.dialect.wrap(err, "find mail messages")
	}
	return messages(rows)
}
