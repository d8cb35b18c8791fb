package storetest

import (
	"context"
	"database/sql"
	"fmt"
)

// HalfWritten looks in the PostgreSQL database at dbURL for what a change
// written in part would leave behind: a user without a membership, a SCIM
// membership without the audit event or the outbox event of its creation,
// a creation audit event without its membership. It returns one line per
// kind of leftover found, none when the directory is whole. Fault tests
// and load runs call it after the database was stopped under traffic.
func HalfWritten(ctx context.Context, dbURL string) ([]string, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var found []string
	for _, q := range []struct{ what, query string }{
		{"users without a membership", `SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)`},
		{"SCIM memberships without their audit event", `SELECT count(*) FROM memberships m WHERE m.source = 'scim' AND NOT EXISTS
			(SELECT 1 FROM audit_events e WHERE e.action = 'membership.created' AND e.account_id = m.account_id AND e.target_id IN (m.user_id, m.scim_id))`},
		{"creation audit events without their membership", `SELECT count(*) FROM audit_events e WHERE e.action = 'membership.created' AND NOT EXISTS
			(SELECT 1 FROM memberships m WHERE m.account_id = e.account_id AND e.target_id IN (m.user_id, m.scim_id))`},
		{"SCIM memberships without their outbox event", `SELECT count(*) FROM memberships m WHERE m.source = 'scim' AND NOT EXISTS
			(SELECT 1 FROM outbox_messages o WHERE o.topic = 'membership.created' AND o.subject = m.user_id)`},
	} {
		var n int
		if err := db.QueryRowContext(ctx, q.query).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", q.what, err)
		}
		if n != 0 {
			found = append(found, fmt.Sprintf("%d %s", n, q.what))
		}
	}
	return found, nil
}
