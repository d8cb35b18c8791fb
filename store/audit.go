package store

import (
	"context"
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
		FROM audit_events WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`), accountID, limit)
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

// AddOutboxMessage stores a message for the outbox workers, due at once.
func (s *Store) AddOutboxMessage(ctx context.Context, m directory.OutboxMessage) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO outbox_messages (id, account_id, topic, payload, created_at, available_at)
		VALUES (?, ?, ?, ?, ?, ?)`), m.ID, m.AccountID, m.Topic, string(m.Payload), m.CreatedAt, m.CreatedAt)
	return s.dialect.wrap(err, "insert outbox message")
}
