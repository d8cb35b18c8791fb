package directory

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// AuditFilter narrows the console's audit log. Zero fields select all.
type AuditFilter struct {
	Actor  string // the actor's name: an admin's email, a SCIM token's name
	Action string
	Person string // events by or about the person with this email
	Since  time.Time
	Until  time.Time // exclusive
}

// AuditPage is one page of the audit log, newest first; Next continues it.
type AuditPage struct {
	Events []AuditEvent
	Next   string
}

// AuditLog returns a page of the account's audit events that f selects,
// newest first, for the console: keyset paging, so an old page costs what
// a new one does.
func (s *Service) AuditLog(ctx context.Context, adm Admin, f AuditFilter, after string, limit int) (AuditPage, error) {
	if err := adm.ready(ViewMembers); err != nil {
		return AuditPage{}, err
	}
	q := AuditQuery{Action: strings.TrimSpace(f.Action), Actor: strings.TrimSpace(f.Actor), Limit: min(max(limit, 1), MaxPageSize) + 1}
	if !f.Since.IsZero() {
		q.Since = f.Since.UTC().Truncate(time.Microsecond)
	}
	if !f.Until.IsZero() {
		q.Until = f.Until.UTC().Truncate(time.Microsecond)
	}
	if after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		at, id, ok := strings.Cut(string(b), "\x00")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if err != nil || !ok || terr != nil || id == "" {
			return AuditPage{}, InvalidError("the page cursor is not valid; start the listing again")
		}
		q.BeforeAt, q.BeforeID = t.UTC(), id
	}
	if email := strings.TrimSpace(f.Person); email != "" {
		if !lookupable(email) {
			return AuditPage{}, nil
		}
		u, err := s.store.FindUserByEmail(ctx, email)
		if KindOf(err) == NotFound {
			return AuditPage{}, nil
		}
		if err != nil {
			return AuditPage{}, err
		}
		q.People = []string{u.ID}
		if m, err := s.store.FindMembership(ctx, adm.Account.ID, u.ID); err == nil {
			q.People = append(q.People, m.ID)
		} else if KindOf(err) != NotFound {
			return AuditPage{}, err
		}
	}
	events, err := s.store.FindAuditEventsBy(ctx, adm.Account.ID, q)
	if err != nil {
		return AuditPage{}, fmt.Errorf("audit log: %w", err)
	}
	page := AuditPage{Events: events}
	if len(events) == q.Limit {
		page.Events = events[:q.Limit-1]
		last := page.Events[len(page.Events)-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.UTC().Format(time.RFC3339Nano) + "\x00" + last.ID))
	}
	return page, nil
}
