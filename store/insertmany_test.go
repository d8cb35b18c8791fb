package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestManyStoredAsOne checks that what the import writes many rows at a
// time (multi-row INSERTs on SQLite, COPY on PostgreSQL) is stored exactly
// as the one-row statements store it: the same types, the same text of
// times and the same 1 and 0 of booleans, which reads, sorts and
// comparisons rely on.
func TestManyStoredAsOne(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// A zone other than UTC and nanoseconds: the driver writes both.
		now := time.Date(2026, 12, 1, 21, 30, 5, 123456789, time.FixedZone("", 3600))
		if err := s.CreateAccount(ctx, directory.Account{ID: "acct", Slug: "acct", Name: "A", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		person := func(id string) directory.User {
			changed := now.Add(-time.Hour)
			return directory.User{ID: id, Email: id + "@x.example", FirstName: "Zoë <&>", LastName: "O'Brien \"Q\"",
				PasswordHash: "$argon2id$v=19$x", PasswordMustChange: true, PasswordChangedAt: &changed, PasswordSetBy: "acct",
				CreatedAt: now, UpdatedAt: now}
		}
		membership := func(u directory.User) directory.Membership {
			return directory.Membership{ID: "m" + u.ID, AccountID: "acct", UserID: u.ID, Role: directory.RoleAdmin,
				Status: directory.StatusActive, Source: directory.SourceOfImport, CreatedAt: now, UpdatedAt: now}
		}
		event := func(id string) directory.AuditEvent {
			return directory.AuditEvent{ID: "e" + id, AccountID: "acct", Actor: directory.Actor{Source: "operator", ID: "op", Name: "Op"},
				Action: "user.created", TargetType: "user", TargetID: id, Data: []byte(`{"email":"` + id + `@x.example"}`), CreatedAt: now}
		}

		one := person("one")
		if _, _, err := s.FindOrCreateUser(ctx, one); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateMembership(ctx, one, membership(one)); err != nil {
			t.Fatal(err)
		}
		message := func(id string) directory.OutboxMessage {
			return directory.OutboxMessage{ID: id, AccountID: "acct", Topic: "user.created", Subject: "u" + id,
				Payload: []byte(`{"id":"` + id + `"}`), CreatedAt: now}
		}
		if err := s.RecordChange(ctx, event("one"), []directory.OutboxMessage{message("one")}); err != nil {
			t.Fatal(err)
		}

		many := person("many")
		if err := s.CreateUsers(ctx, []directory.User{many}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateMemberships(ctx, []directory.Member{{User: many, Membership: membership(many)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddAuditEvents(ctx, []directory.AuditEvent{event("many")}); err != nil {
			t.Fatal(err)
		}
		// As many as go by COPY on PostgreSQL.
		messages := []directory.OutboxMessage{message("many")}
		for i := range 600 {
			messages = append(messages, message(fmt.Sprint(i)))
		}
		if err := s.AddOutboxMessages(ctx, messages); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct{ table, key string }{
			{"users", "id"}, {"memberships", "user_id"}, {"audit_events", "target_id"}, {"outbox_messages", "id"},
		} {
			want := storedRow(t, s, c.table, c.key, "one")
			got := storedRow(t, s, c.table, c.key, "many")
			for col, w := range want {
				if col == "written" {
					continue // each row's own number, in the order written
				}
				if g := strings.ReplaceAll(got[col], "many", "one"); g != w {
					t.Errorf("%s.%s stored as %s by many, %s by one", c.table, col, g, w)
				}
			}
		}
	})
}

// storedRow returns each column of the row of table where key = value, as
// the database holds it: on SQLite its storage class and its literal (the
// driver would parse the text of times back); on PostgreSQL, whose
// columns have one type each, its value read back.
func storedRow(t *testing.T, s *store.Store, table, key, value string) map[string]string {
	t.Helper()
	q := fmt.Sprintf(`SELECT * FROM %s WHERE %s = $1`, table, key)
	if s.Dialect() == "sqlite" {
		var cols []string
		if err := s.DB().Select(&cols, `SELECT name FROM pragma_table_info(?)`, table); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			cols[i] = fmt.Sprintf("typeof(%[1]s) || ' ' || quote(%[1]s) AS %[1]s", c)
		}
		q = fmt.Sprintf(`SELECT %s FROM %s WHERE %s = ?`, strings.Join(cols, ", "), table, key)
	}
	rows, err := s.DB().Queryx(q, value)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("no %s with %s %s", table, key, value)
	}
	row := map[string]any{}
	if err := rows.MapScan(row); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for col, v := range row {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		out[col] = fmt.Sprintf("%T %v", v, v)
	}
	return out
}
