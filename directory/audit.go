package directory

import (
	"bytes"
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

// OutboxMessage is an event announced to the rest of the world (the
// platform's webhooks and events feed), written in the same transaction as
// the change so that nothing is announced that did not happen, and nothing
// that happened goes unannounced. Workers publish and deliver it later; the
// sweep deletes it after the retention period.
type OutboxMessage struct {
	ID        string // the event's id
	AccountID string
	Topic     string // the event type
	Subject   string // who the event is about: deliveries keep its order
	Payload   json.RawMessage
	CreatedAt time.Time
}

// change describes one directory change; record turns it into an audit
// event and the events it announces (none for changes that stay inside
// admit, such as sign-ins).
type change struct {
	accountID  string
	actor      Actor
	action     string
	targetType string
	targetID   string
	data       any
	events     []publication
	// aside marks a change recorded in an account that is not made in it:
	// a person's change told to their other accounts, or the offboarding
	// itself. It goes in also while the account is being deleted.
	aside bool
}

// record writes the audit event and the outbox messages of c inside tx.
//
// Every change that someone acting for an account makes in it (its
// admins, SCIM, API keys, connections, the command line, the operators) is
// recorded here, so this is where such a change is refused once the
// account is being deleted: NotFound, what it answers when the account is
// gone. A request that found the account before its deletion began and
// writes after would otherwise be told its webhook, group, domain or
// connection was made, and the rows would go with the account later (a
// webhook made then would even be sent the deletion's events). Changes
// that are not made in the account are not refused: the person's own
// (signing in, out, changing a password, in each of their accounts: the
// sign-in itself is refused elsewhere), admit's own (bounces, disabled
// webhooks: a worker's batch must not fail for one account), and those
// marked aside.
func (s *Service) record(ctx context.Context, tx Store, c change) error {
	if err := holdAccountOf(ctx, tx, c); err != nil {
		return err
	}
	data, err := auditJSON(c.data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", c.action, err)
	}
	ev := AuditEvent{
		ID: newID(), AccountID: c.accountID, Actor: c.actor, Action: c.action,
		TargetType: c.targetType, TargetID: c.targetID, Data: data, CreatedAt: s.clock(),
	}
	msgs := make([]OutboxMessage, len(c.events))
	for i, p := range c.events {
		if msgs[i], err = s.message(c.accountID, c.actor, p); err != nil {
			return err
		}
	}
	if err := tx.RecordChange(ctx, ev, msgs); err != nil {
		return fmt.Errorf("record %s: %w", c.action, err)
	}
	return nil
}

// holdAccountOf refuses c when it is made in an account being deleted (see
// record), and otherwise keeps the deletion from starting until tx ends.
func holdAccountOf(ctx context.Context, tx Store, c change) error {
	if c.accountID == "" || c.aside || c.actor.Source == SourceUser || c.actor.Source == SourceSystem {
		return nil
	}
	if err := tx.HoldAccount(ctx, c.accountID); err != nil {
		return fmt.Errorf("record %s: %w", c.action, err)
	}
	return nil
}

// recordPersonChange records in tx that the person u is now named (and
// addressed) as u says: an audit event (action) and a user.updated event
// in every account where they hold a membership, whatever its status.
// previousEmail is the address u had before this change, when it changed
// it, else "". The user is one person
// across their accounts, and every such account's member list and API
// show the new name, so none may be left with the old one; an account
// without a membership (one never joined, left, or whose invitation was
// revoked) hears nothing. Call it after the name is written: every
// membership made before the write is then read, and told.
//
// accountID is the account the change came through: its events name the
// actor. The other accounts are told only the kind of actor, as the token,
// connection or admin that made the change is that account's (rule 1).
func (s *Service) recordPersonChange(ctx context.Context, tx Store, accountID string, actor Actor, action string, u User, previousEmail string) error {
	ms, err := tx.FindMembershipsOfUser(ctx, u.ID)
	if err != nil {
		return err
	}
	accounts := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.AccountID == accountID {
			accounts = append([]string{accountID}, accounts...)
		} else {
			accounts = append(accounts, m.AccountID)
		}
	}
	for _, id := range accounts {
		who := actor
		if id != accountID {
			who = actorElsewhere(actor)
		}
		data := map[string]any{"first_name": u.FirstName, "last_name": u.LastName}
		if previousEmail != "" {
			data["email"], data["previous_email"] = u.Email, previousEmail
		}
		if err := s.record(ctx, tx, change{
			accountID: id, actor: who, action: action, targetType: "user", targetID: u.ID,
			data: data, aside: id != accountID,
			events: []publication{userEvent(EventUserUpdated, u)},
		}); err != nil {
			return err
		}
	}
	return nil
}

// actorElsewhere is who made a change to a person, as their accounts other
// than the one it came through are told: the kind of actor only. The
// person themself is named, as every account of theirs knows them.
func actorElsewhere(a Actor) Actor {
	if a.Source == SourceUser {
		return a
	}
	return Actor{Source: a.Source}
}

// auditJSON encodes an event's data as people read it in the console and
// the CLI: "AT&T <Sales>", not json.Marshal's "AT\u0026T \u003cSales\u003e"
// (its escaping is for JSON put in HTML as it is; every page admit renders
// escapes the text itself).
func auditJSON(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
