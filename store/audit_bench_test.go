package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkAuditPersonTrail measures a person's audit trail (the person
// page's newest 50 of the events about them or by them) in an account of
// 500,000 events about 50,000 people, beside another account's 100,000:
// the cost should follow the person's events, not the account's history.
func BenchmarkAuditPersonTrail(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		seedAudit(b, s, "big", 500_000, 50_000)
		seedAudit(b, s, "other", 100_000, 10_000)
		if _, err := s.DB().ExecContext(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			es, err := s.FindAuditEventsBy(ctx, "big", directory.AuditQuery{People: []string{"u123", "m123"}, Limit: 50})
			if err != nil || len(es) != 10 {
				b.Fatalf("%d events, %v", len(es), err)
			}
		}
	})
}

// BenchmarkRecordChange measures what every change to the directory
// writes beside it: one audit event and the two outbox messages of a
// person's creation, in a transaction of its own.
func BenchmarkRecordChange(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		i := 0
		for b.Loop() {
			i++
			err := s.Tx(ctx, func(tx directory.Store) error {
				e := directory.AuditEvent{ID: fmt.Sprintf("a%d", i), AccountID: "acc", Actor: directory.Actor{Source: directory.SourceSCIM, ID: "tok", Name: "okta"},
					Action: "user.created", TargetType: "user", TargetID: fmt.Sprintf("u%d", i), Data: []byte(`{"email":"p@example.com"}`), CreatedAt: now}
				ms := []directory.OutboxMessage{
					{ID: fmt.Sprintf("o%d-1", i), AccountID: "acc", Topic: "user.created", Subject: e.TargetID, Payload: []byte(`{}`), CreatedAt: now},
					{ID: fmt.Sprintf("o%d-2", i), AccountID: "acc", Topic: "membership.created", Subject: e.TargetID, Payload: []byte(`{}`), CreatedAt: now},
				}
				return tx.RecordChange(ctx, e, ms)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// seedAudit gives account n audit events about people people, by a SCIM
// token, ten seconds apart: event x is about user u(x mod people) or their
// membership m(x mod people), in turn.
func seedAudit(b *testing.B, s *store.Store, account string, n, people int) {
	b.Helper()
	q := `WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?)
		INSERT INTO audit_events (id, account_id, actor_source, actor_id, actor_name, action, target_type, target_id, data, created_at)
		SELECT ? || '-' || x, ?, 'scim', 'tok', 'okta', 'user.updated', 'user',
			CASE WHEN (x / ?) % 2 = 0 THEN 'u' ELSE 'm' END || (x % ?), '{}', ? FROM g`
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.DB().ExecContext(context.Background(), s.DB().Rebind(q), n, account, account, people, people, at); err != nil {
		b.Fatal(err)
	}
}
