package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

type auditJSON struct {
	ID         string          `json:"id"`
	Action     string          `json:"action"`
	Actor      directory.Actor `json:"actor"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  string          `json:"created_at"`
}

// parseSince reads --since: a date (2026-12-01), a time (RFC 3339), or a
// duration back from now (24h).
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageError{msg: fmt.Sprintf("--since %q: want a date (2026-12-01), a time (2026-12-01T09:00:00Z) or a duration back from now (24h)", v)}
}

func (c *cli) auditList(ctx context.Context, args []string) error {
	fs := c.flags("audit list")
	slug := fs.String("account", "", "account slug")
	installation := fs.Bool("installation", false, "the installation's audit trail instead of an account's: operators added and removed, people erased, accounts deleted, the secret key rotated")
	person := fs.String("person", "", "only events by or about this person (email)")
	action := fs.String("action", "", "only events of this action, like user.credentials_revoked (audit actions, not event types: invitation.created, not invitation.sent); an action this trail never recorded is refused, naming the nearest it did")
	sinceFlag := fs.String("since", "", "only events since a date, a time or a duration back from now (24h)")
	limit := limitFlag(fs, 100, 1, 1000, "at most this many events, newest first (1 to 1000)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	switch {
	case *installation == (*slug != ""):
		return usageError{msg: "audit list: give --account S or --installation"}
	case *installation && *person != "":
		return usageError{msg: "audit list: --person needs --account: the installation's events name people by their user id"}
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return err
	}
	var svc *directory.Service
	accountID := ""
	if *installation {
		s, done, err := c.service(ctx)
		if err != nil {
			return err
		}
		defer done()
		svc = s
	} else {
		s, a, done, err := c.account(ctx, *slug)
		if err != nil {
			return err
		}
		defer done()
		svc, accountID = s, a.ID
	}
	events, err := svc.AuditTrail(ctx, accountID, *person, *action, since, *limit)
	if err != nil {
		return err
	}
	out := make([]auditJSON, len(events))
	t := newTable("AT", "ACTION", "ACTOR", "TARGET", "DATA")
	for i, e := range events {
		out[i] = auditJSON{e.ID, e.Action, e.Actor, e.TargetType, e.TargetID, e.Data, e.CreatedAt.Format(time.RFC3339)}
		actor := string(e.Actor.Source)
		if e.Actor.Name != "" {
			actor += ":" + e.Actor.Name
		}
		t.add(out[i].CreatedAt, e.Action, actor, strings.TrimSpace(e.TargetType+" "+e.TargetID), string(e.Data))
	}
	if t.len() == 0 {
		c.output(out, "no events match")
		return nil
	}
	c.output(out, t.String())
	return nil
}
