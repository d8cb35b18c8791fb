package directory

import (
	"context"
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

// AuditLog returns a page of the account's audit events that f selects,
// newest first, for the console: keyset paging, so an old page costs what
// a new one does (AuditTrailPage, which the JSON API pages with too).
func (s *Service) AuditLog(ctx context.Context, adm Admin, f AuditFilter, after string, limit int) (AuditPage, error) {
	if err := adm.ready(ViewMembers); err != nil {
		return AuditPage{}, err
	}
	q := AuditQuery{Action: strings.TrimSpace(f.Action), Actor: strings.TrimSpace(f.Actor), Limit: min(max(limit, 1), MaxPageSize)}
	if !f.Until.IsZero() {
		q.Until = f.Until.UTC().Truncate(time.Microsecond)
	}
	q.Since = f.Since
	if email := strings.TrimSpace(f.Person); email != "" {
		ids, err := s.PersonIDs(ctx, adm.Account.ID, email)
		if err != nil || len(ids) == 0 {
			return AuditPage{}, err
		}
		q.People = ids
	}
	return s.AuditTrailPage(ctx, adm.Account.ID, q, after)
}
