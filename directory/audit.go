package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Source says through which door a change came in.
type Source string

const (
	SourceCLI    Source = "cli"
	SourceAdmin  Source = "admin"
	SourceSCIM   Source = "scim"
	SourceSSO    Source = "sso"
	SourceUser   Source = "user"   // the person themself (self-service)
	SourceSystem Source = "system" // admit on its own (expiry, bounces)
)

// Actor is who made a change: an admin user, a SCIM token, an operator at
// the command line. ID is the user or token id when there is one.
type Actor struct {
	Source Source `json:"source"`
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
}

// AuditEvent is the permanent record of one change to the directory.
type AuditEvent struct {
	ID         string
	AccountID  string
	Actor      Actor
	Action     string // "user.created", "membership.created", ...
	TargetType string // "user", "membership", "account", ...
	TargetID   string
	Data       json.RawMessage // what changed, as JSON; never a secret
	CreatedAt  time.Time
}

// OutboxMessage is a change announced to the rest of the world (the
// platform's webhooks, mail), written in the same transaction as the change
// so that nothing is announced that did not happen, and nothing that happened
// goes unannounced. Workers deliver it later.
type OutboxMessage struct {
	ID        string
	AccountID string
	Topic     string
	Payload   json.RawMessage
	CreatedAt time.Time
}

// change describes one directory change; record turns it into an audit
// event and an outbox message.
type change struct {
	accountID  string
	actor      Actor
	action     string
	targetType string
	targetID   string
	data       any
}

// record writes the audit event and the outbox message of c inside tx.
func (s *Service) record(ctx context.Context, tx Store, c change) error {
	data, err := json.Marshal(c.data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", c.action, err)
	}
	now := s.clock()
	ev := AuditEvent{
		ID: newID(), AccountID: c.accountID, Actor: c.actor, Action: c.action,
		TargetType: c.targetType, TargetID: c.targetID, Data: data, CreatedAt: now,
	}
	if err := tx.AddAuditEvent(ctx, ev); err != nil {
		return fmt.Errorf("record %s: %w", c.action, err)
	}
	payload, err := json.Marshal(struct {
		EventID    string          `json:"event_id"`
		Action     string          `json:"action"`
		AccountID  string          `json:"account_id"`
		TargetType string          `json:"target_type"`
		TargetID   string          `json:"target_id"`
		Actor      Actor           `json:"actor"`
		Data       json.RawMessage `json:"data"`
		At         time.Time       `json:"at"`
	}{ev.ID, ev.Action, ev.AccountID, ev.TargetType, ev.TargetID, ev.Actor, data, now})
	if err != nil {
		return fmt.Errorf("encode %s message: %w", c.action, err)
	}
	msg := OutboxMessage{ID: newID(), AccountID: c.accountID, Topic: c.action, Payload: payload, CreatedAt: now}
	if err := tx.AddOutboxMessage(ctx, msg); err != nil {
		return fmt.Errorf("announce %s: %w", c.action, err)
	}
	return nil
}
