package store

import (
	"context"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// AddAuditEvent stores an audit event.
func (s *Store) AddAuditEvent(ctx context.Context, e directory.AuditEvent) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO audit_events
		(id, account_id, actor_source, actor_id, actor_name, action, target_type, target_id, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.AccountID, string(e.Actor.Source), e.Actor.ID, e.Actor.Name, e.Action, e.TargetType, e.TargetID, string(e.Data), e.CreatedAt)
	return s.dialect.wrap(err, "insert audit event")
}

// FindAuditEvents returns the account's newest audit events first.
func (s *Store) FindAuditEvents(ctx context.Context, accountID string, limit int) ([]directory.AuditEvent, error) {
	return s.FindAuditEventsBy(ctx, accountID, directory.AuditQuery{Limit: limit})
}

// FindAuditEventsBy returns the account's newest audit events that match q,
// first. Every condition narrows the range scan of the (account_id,
// created_at, id) index, so the cost follows the events read, not the
// account's history.
func (s *Store) FindAuditEventsBy(ctx context.Context, accountID string, q directory.AuditQuery) ([]directory.AuditEvent, error) {
	where := []string{`account_id = ?`}
	args := []any{accountID}
	if q.Action != "" {
		where, args = append(where, `action = ?`), append(args, q.Action)
	}
	if len(q.People) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.People)), ", ")
		where = append(where, `(target_id IN (`+marks+`) OR actor_id IN (`+marks+`))`)
		for range 2 {
			for _, id := range q.People {
				args = append(args, id)
			}
		}
	}
	if !q.Since.IsZero() {
		where, args = append(where, `created_at >= ?`), append(args, q.Since)
	}
	if !q.Until.IsZero() {
		where, args = append(where, `created_at < ?`), append(args, q.Until)
	}
	if q.ActorSource != "" {
		where, args = append(where, `actor_source = ?`), append(args, string(q.ActorSource))
	}
	if q.Actor != "" {
		where, args = append(where, `actor_name = ?`), append(args, q.Actor)
	}
	if q.BeforeID != "" {
		where, args = append(where, `(created_at, id) < (?, ?)`), append(args, q.BeforeAt, q.BeforeID)
	}
	args = append(args, q.Limit)
	var rows []struct {
		ID          string    `db:"id"`
		AccountID   string    `db:"account_id"`
		ActorSource string    `db:"actor_source"`
		ActorID     string    `db:"actor_id"`
		ActorName   string    `db:"actor_name"`
		Action      string    `db:"action"`
		TargetType  string    `db:"target_type"`
		TargetID    string    `db:"target_id"`
		Data        []byte    `db:"data"`
		CreatedAt   time.Time `db:"created_at"`
	}
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT id, account_id, actor_source, actor_id, actor_name, action, target_type, target_id, data, created_at
		FROM audit_events WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at DESC, id DESC LIMIT ?`), args...)
	if err != nil {
		return nil, s.dialect.wrap(err, "find audit events")
	}
	out := make([]directory.AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = directory.AuditEvent{
			ID: r.ID, AccountID: r.AccountID, Actor: directory.Actor{Source: directory.Source(r.ActorSource), ID: r.ActorID, Name: r.ActorName},
			Action: r.Action, TargetType: r.TargetType, TargetID: r.TargetID, Data: r.Data, CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}

// AddOutboxMessage stores an event for the outbox workers to publish.
func (s *Store) AddOutboxMessage(ctx context.Context, m directory.OutboxMessage) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO outbox_messages (id, account_id, topic, subject, payload, created_at, available_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), m.ID, m.AccountID, m.Topic, m.Subject, string(m.Payload), m.CreatedAt, m.CreatedAt)
	return s.dialect.wrap(err, "insert outbox message")
}
