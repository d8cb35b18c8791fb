package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type logoRow struct {
	AccountID   string    `db:"account_id"`
	Hash        string    `db:"sha256"`
	ContentType string    `db:"content_type"`
	Data        []byte    `db:"data"`
	Width       int       `db:"width"`
	Height      int       `db:"height"`
	CreatedAt   time.Time `db:"created_at"`
}

const logoColumns = `account_id, sha256, content_type, data, width, height, created_at`

// PutLogo stores the account's uploaded logo, replacing the one before.
func (s *Store) PutLogo(ctx context.Context, l directory.Logo) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO logos (`+logoColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_id) DO UPDATE SET sha256 = excluded.sha256, content_type = excluded.content_type, data = excluded.data,
width = excluded.width, height = excluded.height, created_at = excluded.created_at`),
		l.AccountID, l.Hash, l.ContentType, l.Data, l.Width, l.Height, l.CreatedAt)
	return s.dialect.wrap(err, "put logo")
}

// FindLogo returns the account's uploaded logo.
func (s *Store) FindLogo(ctx context.Context, accountID string) (directory.Logo, error) {
	var r logoRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+logoColumns+` FROM logos WHERE account_id = ?`), accountID)
	if err != nil {
		return directory.Logo{}, s.dialect.wrap(err, "find logo")
	}
	return directory.Logo{AccountID: r.AccountID, Hash: r.Hash, ContentType: r.ContentType, Data: r.Data, Width: r.Width, Height: r.Height, CreatedAt: r.CreatedAt.UTC()}, nil
}

// DeleteLogo deletes the account's uploaded logo.
func (s *Store) DeleteLogo(ctx context.Context, accountID string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM logos WHERE account_id = ?`), accountID)
	if err != nil {
		return s.dialect.wrap(err, "delete logo")
	}
	return expectOne(res, "logo")
}
