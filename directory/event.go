package directory

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EventVersion is the version of the event envelope and of every event's
// data. Fields may be added within a version; a field's meaning never
// changes and none is removed without a new version.
const EventVersion = 1

// Event types: the changes the platform is told about (webhooks, the
// events feed). Each has a JSON Schema in events/schemas and an example in
// docs/events.md. The audit trail records more (sign-ins, domains,
// connections); those stay inside admit.
const (
	EventUserCreated           = "user.created"
	EventUserUpdated           = "user.updated"
	EventMembershipCreated     = "membership.created"
	EventMembershipActivated   = "membership.activated"
	EventMembershipDeactivated = "membership.deactivated"
	EventMembershipDeleted     = "membership.deleted"
	EventMembershipRoleChanged = "membership.role_changed"
	EventGroupCreated          = "group.created"
	EventGroupUpdated          = "group.updated"
	EventGroupDeleted          = "group.deleted"
	EventGroupMemberAdded      = "group.member_added"
	EventGroupMemberRemoved    = "group.member_removed"
	EventInvitationSent        = "invitation.sent"
	EventInvitationAccepted    = "invitation.accepted"
	EventInvitationBounced     = "invitation.bounced"
	EventInvitationRevoked     = "invitation.revoked"
	EventImportFinished        = "import.finished"
)

// EventTypes lists every event type, in the order docs/events.md documents them.
var EventTypes = []string{
	EventUserCreated, EventUserUpdated, EventUserDeleted,
	EventMembershipCreated, EventMembershipActivated, EventMembershipDeactivated, EventMembershipDeleted, EventMembershipRoleChanged,
	EventGroupCreated, EventGroupUpdated, EventGroupDeleted, EventGroupMemberAdded, EventGroupMemberRemoved,
	EventInvitationSent, EventInvitationAccepted, EventInvitationBounced, EventInvitationRevoked,
	EventImportFinished,
}

// IsEventType reports whether t names an event type.
func IsEventType(t string) bool { return slices.Contains(EventTypes, t) }

// Event is one change as the platform receives it. Its JSON form is the
// webhook body and the feed's line; ID is stable across redeliveries (it is
// the webhook-id a receiver deduplicates on).
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Version    int             `json:"version"`
	Account    string          `json:"account"` // the account's id; "" never (every event is an account's)
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      EventActor      `json:"actor"`
	Data       json.RawMessage `json:"data"`

	// Seq is the event's place in the feed, given when it is published;
	// 0 before. Subject is who the event is about (a user id; a group id
	// for group events): deliveries to one endpoint keep its order.
	Seq     int64  `json:"-"`
	Subject string `json:"-"`
}

// EventActor is who made the change, in the words of the event contract.
type EventActor struct {
	// Type is one of scim_token, sso_connection, admin, operator, person,
	// system, api_key.
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

func eventActor(a Actor) EventActor {
	t := map[Source]string{
		SourceCLI: "operator", SourceAdmin: "admin", SourceSCIM: "scim_token",
		SourceSSO: "sso_connection", SourceUser: "person", SourceSystem: "system",
		SourceAPIKey:   "api_key",
		SourceOperator: "operator",
	}[a.Source]
	if t == "" {
		t = "system"
	}
	return EventActor{Type: t, ID: a.ID, Name: a.Name}
}

// publication is the event a change announces, when it announces one.
type publication struct {
	typ     string
	subject string // who the event is about, for per-person order
	data    any
}

// message is the outbox message that announces p, for the workers that
// deliver it.
func (s *Service) message(accountID string, actor Actor, p publication) (OutboxMessage, error) {
	data, err := json.Marshal(p.data)
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("encode %s event: %w", p.typ, err)
	}
	now := s.clock()
	ev := Event{ID: newID(), Type: p.typ, Version: EventVersion, Account: accountID, OccurredAt: now, Actor: eventActor(actor), Data: data}
	payload, err := json.Marshal(ev)
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("encode %s event: %w", p.typ, err)
	}
	return OutboxMessage{ID: ev.ID, AccountID: accountID, Topic: p.typ, Subject: p.subject, Payload: payload, CreatedAt: now}, nil
}

// The data of each event type. Field names are part of the contract.

func userEvent(typ string, u User) publication {
	return publication{typ: typ, subject: u.ID, data: map[string]any{
		"user_id": u.ID, "email": u.Email, "first_name": u.FirstName, "last_name": u.LastName,
	}}
}

func membershipEvent(typ string, email string, m Membership) publication {
	return publication{typ: typ, subject: m.UserID, data: map[string]any{
		"user_id": m.UserID, "email": email, "role": m.Role, "status": m.Status,
	}}
}

func roleChangedEvent(userID string, role Role, reason string) publication {
	return publication{typ: EventMembershipRoleChanged, subject: userID, data: map[string]any{
		"user_id": userID, "role": role, "reason": reason,
	}}
}

func groupEvent(typ string, g Group) publication {
	return publication{typ: typ, subject: g.ID, data: map[string]any{
		"group_id": g.ID, "display_name": g.DisplayName, "external_id": g.ExternalID,
	}}
}

func groupMemberEvent(typ string, g Group, userID string) publication {
	return publication{typ: typ, subject: userID, data: map[string]any{
		"group_id": g.ID, "display_name": g.DisplayName, "user_id": userID,
	}}
}

func invitationEvent(typ string, inv Invitation) publication {
	data := map[string]any{
		"invitation_id": inv.ID, "user_id": inv.UserID, "email": inv.Email, "role": inv.Role, "expires_at": inv.ExpiresAt,
	}
	if typ == EventInvitationBounced {
		data["reason"] = inv.BounceReason
	}
	return publication{typ: typ, subject: inv.UserID, data: data}
}

// ParseEventTypes reads a comma-separated list of event types (what
// "--events" takes); empty means every type.
func ParseEventTypes(list string) ([]string, error) {
	var out []string
	for t := range strings.SplitSeq(list, ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if err := checkEventTypes(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseEventCursor reads a feed cursor: the number of the last event read
// ("" or "0" for the start).
func ParseEventCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, InvalidError(fmt.Sprintf("%q is not an event cursor: give the cursor of the last event read (a number), or 0 for the start", truncate(s, 40)))
	}
	return n, nil
}
