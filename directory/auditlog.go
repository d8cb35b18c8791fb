package directory

import (
	"context"
	"fmt"
	"slices"
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

// maxAuditFilter bounds an action or actor filter: longer than any action
// or any actor's name (an address is at most 320 characters).
const maxAuditFilter = 320

// checkAuditFilter refuses a filter that cannot be text anybody typed: a
// NUL or bytes that are not UTF-8, which PostgreSQL refuses in a text
// parameter (a 500 for a caller's mistake), or more than anything recorded
// could match.
func checkAuditFilter(q AuditQuery) error {
	for _, f := range []struct{ name, v string }{{"action", q.Action}, {"actor", q.Actor}} {
		switch {
		case !lookupable(f.v):
			return InvalidError("the " + f.name + " filter must be UTF-8 text without NUL characters")
		case len(f.v) > maxAuditFilter:
			return InvalidError(fmt.Sprintf("the %s filter must be at most %d characters", f.name, maxAuditFilter))
		}
	}
	return nil
}

// auditActionScan bounds how many of a trail's newest events are read to
// learn which actions it records: audit_events has no index on action.
const auditActionScan = 10_000

// checkAuditAction is asked when a listing filtered by action found
// nothing: it refuses an action the trail never recorded, naming the
// nearest it did, so that a typo does not read as "nothing happened".
// There is no list of actions to check against: they are written where
// each change is recorded, and older versions recorded others, which the
// trail keeps. A query narrowed otherwise (a time, a person, a page) that
// found nothing says nothing of the rest of the trail: the action is
// refused only when the newest events read are the whole trail; an
// unnarrowed query that found nothing has already read all of it.
func (s *Service) checkAuditAction(ctx context.Context, accountID string, q AuditQuery) error {
	narrowed := !q.Since.IsZero() || !q.Until.IsZero() || len(q.People) > 0 || q.Actor != "" || q.ActorSource != "" || q.BeforeID != ""
	actions, complete, err := s.store.FindAuditActions(ctx, accountID, auditActionScan)
	if err != nil {
		return fmt.Errorf("find audit actions: %w", err)
	}
	if slices.Contains(actions, q.Action) || (narrowed && !complete) {
		return nil
	}
	msg := fmt.Sprintf("no audit event here has the action %q", q.Action)
	switch {
	case len(actions) == 0:
		return InvalidError(msg + ": this audit trail records no events yet")
	case len(actions) <= 8:
		return InvalidError(msg + "; the actions recorded are " + strings.Join(actions, ", "))
	}
	return InvalidError(msg + "; the nearest recorded are " + strings.Join(nearestActions(q.Action, actions, 3), ", "))
}

// nearestActions returns the n actions closest to want by edit distance,
// ignoring case, the closest first.
func nearestActions(want string, actions []string, n int) []string {
	want = strings.ToLower(want)
	dist := make(map[string]int, len(actions))
	for _, a := range actions {
		dist[a] = editDistance(want, strings.ToLower(a))
	}
	out := slices.Clone(actions)
	slices.SortStableFunc(out, func(a, b string) int { return dist[a] - dist[b] })
	return out[:min(n, len(out))]
}

// editDistance is Levenshtein's distance between a and b, in bytes
// (actions are ASCII).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
