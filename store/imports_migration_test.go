package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
)

// TestImportChunksMigration: 00032 moves the rows of jobs made before
// into chunks of a thousand, keeping every row's outcome; a job stopped
// half-way resumes on the rows it had not done; and the migration goes
// down (rows back, one to a row) and up again.
func TestImportChunksMigration(t *testing.T) {
	eachSchemaAt(t, 31, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		db := s.DB()
		exec := func(q string, args ...any) { t.Helper(); mustExec(t, s.DB(), q, args...) }
		exec(`INSERT INTO accounts (id, slug, name, branding, password_policy, created_at, updated_at) VALUES ('a', 'acme', 'Acme', '{}', '{}', ?, ?)`, now, now)
		exec(`INSERT INTO imports (id, account_id, mode, role, status, total, actor_source, created_at, updated_at) VALUES ('i', 'a', 'none', 'member', 'running', 2500, 'admin', ?, ?)`, now, now)
		// 2,500 rows on lines 2, 4, 6, ...; the first 1,200 done, and a
		// duplicate further on found before anything was added.
		want := map[int]directory.ImportRow{}
		for i := range 2500 {
			r := directory.ImportRow{Line: 2 + 2*i, Email: fmt.Sprintf("p%d@acme.example", i), FirstName: "P", LastName: fmt.Sprint(i), Role: "member"}
			switch {
			case i < 1200:
				r.Outcome = directory.OutcomeCreated
			case i == 2000:
				r.Outcome, r.Reason = directory.OutcomeDuplicate, "also on line 2"
			}
			want[r.Line] = r
			exec(`INSERT INTO import_rows (import_id, line, email, first_name, last_name, role, outcome, reason) VALUES ('i', ?, ?, ?, ?, ?, ?, ?)`,
				r.Line, r.Email, r.FirstName, r.LastName, string(r.Role), string(r.Outcome), r.Reason)
		}
		check := func() {
			t.Helper()
			got, err := s.FindImportRows(ctx, "i", 0, 10000)
			if err != nil || len(got) != len(want) {
				t.Fatalf("rows after the upgrade: %d, %v; want %d", len(got), err, len(want))
			}
			for i, r := range got {
				if r != want[r.Line] || i > 0 && got[i-1].Line >= r.Line {
					t.Fatalf("row %d: %+v; want %+v, in line order", i, r, want[r.Line])
				}
			}
			if page, err := s.FindImportRows(ctx, "i", 2000, 3); err != nil || len(page) != 3 || page[0].Line != 2002 {
				t.Errorf("a page after line 2000: %+v, %v", page, err)
			}
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		check()
		// The first chunk is done; the second, half done, comes next.
		if n, err := s.ImportChunksLeft(ctx, "i"); err != nil || n != 2 {
			t.Errorf("chunks left: %d, %v; want 2", n, err)
		}
		var next []directory.ImportRow
		err := s.Tx(ctx, func(tx directory.Store) error {
			var err error
			next, err = tx.ClaimImportChunk(ctx, "i")
			return err
		})
		if err != nil || len(next) != 1000 || next[0].Line != 2002 || next[199].Outcome != directory.OutcomeCreated || next[200].Outcome != directory.OutcomePending {
			t.Fatalf("next chunk: %d rows from line %v, %v; want lines 2002.. with 200 done", len(next), next[0].Line, err)
		}

		migrateDown(t, s, 31)
		var n int
		if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM import_rows WHERE outcome = ''`); err != nil || n != 1299 {
			t.Errorf("pending rows after down: %d, %v; want 1299", n, err)
		}
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		check()
	})
}
