package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// pageSQL ends a listing query ordered by column: after a remembered key
// (an index seek), or at an offset when none is known.
func pageSQL(column string, pos directory.Position, limit int) (string, []any) {
	if pos.After != "" {
		return ` AND ` + column + ` > ? ORDER BY ` + column + ` LIMIT ?`, []any{pos.After, limit}
	}
	return ` ORDER BY ` + column + ` LIMIT ? OFFSET ?`, []any{limit, pos.Offset}
}

// FindSCIMCursor returns where the page at startIndex of a listing starts.
func (s *Store) FindSCIMCursor(ctx context.Context, accountID, listKey string, startIndex int, now time.Time) (string, error) {
	var after string
	err := sqlx.GetContext(ctx, s.q, &after, s.rebind(`SELECT after_id FROM scim_cursors
		WHERE account_id = ? AND list_key = ? AND start_index = ? AND expires_at > ?`), accountID, listKey, startIndex, now)
	return after, s.dialect.wrap(err, "find SCIM cursor")
}

// SaveSCIMCursor remembers where a page starts; the latest page read wins.
func (s *Store) SaveSCIMCursor(ctx context.Context, c directory.SCIMCursor) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO scim_cursors (account_id, list_key, start_index, after_id, expires_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, list_key, start_index) DO UPDATE SET after_id = excluded.after_id, expires_at = excluded.expires_at`),
		c.AccountID, c.ListKey, c.StartIndex, c.AfterID, c.ExpiresAt)
	return s.dialect.wrap(err, "save SCIM cursor")
}
