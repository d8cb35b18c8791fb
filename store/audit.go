package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// RecordChange stores a change's audit event and the outbox messages that
// announce it, in as few statements as it can: on PostgreSQL the event
// rides in the first messages' statement, one round trip for both.
func (s *Store) RecordChange(ctx context.Context, e directory.AuditEvent, ms []directory.OutboxMessage) error {
	audit := `INSERT INTO audit_events (id, account_id, actor_source, actor_id, actor_name, action, target_type, target_id, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{e.ID, e.AccountID, string(e.Actor.Source), e.Actor.ID, e.Actor.Name, e.Action, e.TargetType, e.TargetID, string(e.Data), e.CreatedAt}
	if len(ms) == 0 || !s.dialect.insertInWith {
		if _, err := s.q.ExecContext(ctx, s.rebind(audit), args...); err != nil {
			return s.dialect.wrap(err, "insert audit event")
		}
		return s.AddOutboxMessages(ctx, ms)
	}
	first := ms[:min(len(ms), maxRowsPerStatement(outboxColumns)-2)]
	query, more := outboxInsert(first)
	if _, err := s.q.ExecContext(ctx, s.rebind(`WITH audit AS (`+audit+`) `+query), append(args, more...)...); err != nil {
		return s.dialect.wrap(err, "insert audit event and outbox messages")
	}
	return s.AddOutboxMessages(ctx, ms[len(first):])
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

// FindAuditActions returns the distinct actions of the trail's newest
// scan events (the installation's when accountID is ""), and whether those
// were all its events. audit_events has no index on action: the newest
// events come from audit_events_account in its order, so the query reads
// at most scan of the trail's rows and none of another trail's.
func (s *Store) FindAuditActions(ctx context.Context, accountID string, scan int) ([]string, bool, error) {
	var rows []struct {
		Action string `db:"action"`
		N      int    `db:"n"`
	}
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT action, COUNT(*) AS n FROM
		(SELECT action FROM audit_events WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?) newest
		GROUP BY action ORDER BY action`), accountID, scan)
	if err != nil {
		return nil, false, s.dialect.wrap(err, "find audit actions")
	}
	out, read := make([]string, len(rows)), 0
	for i, r := range rows {
		out[i], read = r.Action, read+r.N
	}
	return out, read < scan, nil
}

// AddOutboxMessages stores events for the outbox workers to publish,
// many rows a statement; an import's thousands go by COPY on PostgreSQL.
func (s *Store) AddOutboxMessages(ctx context.Context, ms []directory.OutboxMessage) error {
	if len(ms) >= copyThreshold {
		rows := make([][]any, len(ms))
		for i, m := range ms {
			rows[i] = []any{m.ID, m.AccountID, m.Topic, m.Subject, string(m.Payload), m.CreatedAt, m.CreatedAt}
		}
		return s.insertMany(ctx, "outbox_messages", []string{"id", "account_id", "topic", "subject", "payload", "created_at", "available_at"}, rows)
	}
	for chunk := range slices.Chunk(ms, maxRowsPerStatement(outboxColumns)) {
		query, args := outboxInsert(chunk)
		if _, err := s.q.ExecContext(ctx, s.rebind(query), args...); err != nil {
			return s.dialect.wrap(err, "insert outbox messages")
		}
	}
	return nil
}

const outboxColumns = 7

// copyThreshold is where COPY starts to beat multi-row INSERTs: below it,
// COPY's extra round trips (prepare, each row, close) cost more.
const copyThreshold = 500

// outboxInsert is the INSERT of ms, with its arguments.
func outboxInsert(ms []directory.OutboxMessage) (string, []any) {
	args := make([]any, 0, len(ms)*outboxColumns)
	for _, m := range ms {
		args = append(args, m.ID, m.AccountID, m.Topic, m.Subject, string(m.Payload), m.CreatedAt, m.CreatedAt)
	}
	return `INSERT INTO outbox_messages (id, account_id, topic, subject, payload, created_at, available_at) VALUES ` + rowsOf(len(ms), outboxColumns), args
}
