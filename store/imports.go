package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// insertMany writes rows into table many to a statement: COPY on
// PostgreSQL (a prepared COPY FROM STDIN, which lib/pq streams: the
// fastest way in), multi-row INSERTs on
// SQLite, within the current transaction (one of its own otherwise).
func (s *Store) insertMany(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return s.within(ctx, func(s *Store) error {
		tx := s.q.(*sqlx.Tx)
		if s.dialect.name == postgresDialect.name {
			stmt, err := tx.PrepareContext(ctx, `COPY `+table+` (`+strings.Join(columns, ", ")+`) FROM STDIN`)
			if err != nil {
				return s.dialect.wrap(err, "copy into "+table)
			}
			defer stmt.Close()
			for _, r := range rows {
				if _, err := stmt.ExecContext(ctx, r...); err != nil {
					return s.dialect.wrap(err, "copy into "+table)
				}
			}
			_, err = stmt.ExecContext(ctx)
			return s.dialect.wrap(err, "copy into "+table)
		}
		// Multi-row INSERTs of 8 rows. modernc compiles a statement at
		// every execution (a prepared one too) and binds parameters in
		// time quadratic in their number, so larger statements gain
		// nothing; and the program of one of 16 rows outgrew the 16 KiB
		// that modernc's allocator serves from its pages, so that every
		// execution mapped and unmapped memory (8 rows: 5% less time).
		const per = 8
		mark := "(" + marks(len(columns)) + ")"
		// OR FAIL: a multi-row INSERT whose constraints abort (the default)
		// keeps a statement journal, a copy of every page it touches, so
		// that it can undo its own rows; one that fails leaves them, and
		// its transaction, like every transaction that writes here, is
		// rolled back whole on the error. (Immediate foreign keys would
		// still abort; memberships' are checked at commit, migration
		// 00036.)
		head := `INSERT OR FAIL INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES `
		prepared := map[int]*sql.Stmt{}
		defer func() {
			for _, st := range prepared {
				st.Close()
			}
		}()
		args := make([]any, 0, per*len(columns))
		for start := 0; start < len(rows); start += per {
			chunk := rows[start:min(start+per, len(rows))]
			st := prepared[len(chunk)]
			if st == nil {
				var err error
				if st, err = tx.PrepareContext(ctx, head+strings.TrimSuffix(strings.Repeat(mark+", ", len(chunk)), ", ")); err != nil {
					return s.dialect.wrap(err, "insert into "+table)
				}
				prepared[len(chunk)] = st
			}
			args = args[:0]
			for _, r := range chunk {
				args = append(args, r...)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return s.dialect.wrap(err, "insert into "+table)
			}
		}
		return nil
	})
}

// CreateUsers stores new users many to a statement.
func (s *Store) CreateUsers(ctx context.Context, users []directory.User) error {
	rows := make([][]any, len(users))
	for i, u := range users {
		rows[i] = []any{u.ID, u.Email, u.FirstName, u.LastName, u.PasswordHash, u.PasswordMustChange, nullTime(u.PasswordChangedAt),
			u.PasswordProven, u.PasswordSetBy, u.CreatedAt, u.UpdatedAt, directory.EmailKey(u.Email)}
	}
	return s.insertMany(ctx, "users", append(strings.Split(userColumns, ", "), "email_key"), rows)
}

// CreateMemberships is CreateMembership for many people.
func (s *Store) CreateMemberships(ctx context.Context, members []directory.Member) error {
	rows := make([][]any, len(members))
	var rejoined []any
	for i, mb := range members {
		u, m := mb.User, mb.Membership
		emailKey, nameKey, lastKey := searchKeys(u)
		rows[i] = []any{m.ID, m.AccountID, u.ID, string(m.Role), string(m.Status), sourceOrAdmin(m.Source), m.CreatedAt, m.UpdatedAt,
			emailKey, nameKey, lastKey, u.Email, emailKey, u.Email, emailKey}
		if u.CreatedAt.Before(m.CreatedAt) {
			rejoined = append(rejoined, u.ID)
		}
	}
	cols := append(strings.Split(membershipColumns, ", "), "email_key", "name_key", "last_key", "user_name", "user_name_key", "scim_email", "scim_email_key")
	if err := s.insertMany(ctx, "memberships", cols, rows); err != nil {
		return err
	}
	// A membership made on purpose overrides an earlier SCIM deletion; only
	// people admit knew before can have one.
	for start := 0; start < len(rejoined); start += 500 {
		ids := rejoined[start:min(start+500, len(rejoined))]
		q := `DELETE FROM scim_deletions WHERE account_id = ? AND user_id IN (` + marks(len(ids)) + `)`
		if _, err := s.q.ExecContext(ctx, s.rebind(q), append([]any{members[0].Membership.AccountID}, ids...)...); err != nil {
			return s.dialect.wrap(err, "clear SCIM deletions")
		}
	}
	return nil
}

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// AddAuditEvents is AddAuditEvent for many.
func (s *Store) AddAuditEvents(ctx context.Context, events []directory.AuditEvent) error {
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = []any{e.ID, e.AccountID, string(e.Actor.Source), e.Actor.ID, e.Actor.Name, e.Action, e.TargetType, e.TargetID, string(e.Data), e.CreatedAt}
	}
	return s.insertMany(ctx, "audit_events", []string{"id", "account_id", "actor_source", "actor_id", "actor_name", "action", "target_type", "target_id", "data", "created_at"}, rows)
}

// FindUsersByEmailKeys returns the users with these email keys.
func (s *Store) FindUsersByEmailKeys(ctx context.Context, keys []string) ([]directory.User, error) {
	var out []directory.User
	for start := 0; start < len(keys); start += 500 {
		chunk := keys[start:min(start+500, len(keys))]
		args := make([]any, len(chunk))
		for i, k := range chunk {
			args[i] = k
		}
		var rows []userRow
		err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+userReadColumns+` FROM users WHERE email_key IN (`+marks(len(chunk))+`)`), args...)
		if err != nil {
			return nil, s.dialect.wrap(err, "find users")
		}
		for _, r := range rows {
			out = append(out, r.user())
		}
	}
	return out, nil
}

// FindMembershipsOfUsers returns the account's memberships of these users.
func (s *Store) FindMembershipsOfUsers(ctx context.Context, accountID string, userIDs []string) ([]directory.Membership, error) {
	var out []directory.Membership
	for start := 0; start < len(userIDs); start += 500 {
		chunk := userIDs[start:min(start+500, len(userIDs))]
		args := []any{accountID}
		for _, id := range chunk {
			args = append(args, id)
		}
		var rows []membershipRow
		err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+membershipReadColumns+` FROM memberships WHERE account_id = ? AND user_id IN (`+marks(len(chunk))+`)`), args...)
		if err != nil {
			return nil, s.dialect.wrap(err, "find memberships")
		}
		for _, r := range rows {
			out = append(out, r.membership())
		}
	}
	return out, nil
}

type importRow struct {
	ID            string       `db:"id"`
	AccountID     string       `db:"account_id"`
	Mode          string       `db:"mode"`
	Role          string       `db:"role"`
	FileName      string       `db:"file_name"`
	Status        string       `db:"status"`
	Total         int          `db:"total"`
	Created       int          `db:"created"`
	Joined        int          `db:"joined"`
	AlreadyMember int          `db:"already_member"`
	Duplicate     int          `db:"duplicate"`
	Failed        int          `db:"failed"`
	ActorSource   string       `db:"actor_source"`
	ActorID       string       `db:"actor_id"`
	ActorName     string       `db:"actor_name"`
	PasswordHash  string       `db:"password_hash"`
	LockedUntil   sql.NullTime `db:"locked_until"`
	CreatedAt     time.Time    `db:"created_at"`
	UpdatedAt     time.Time    `db:"updated_at"`
	FinishedAt    sql.NullTime `db:"finished_at"`
}

const importColumns = `id, account_id, mode, role, file_name, status, total, created, joined, already_member, duplicate, failed, actor_source, actor_id, actor_name, password_hash, locked_until, created_at, updated_at, finished_at`

func (r importRow) job() directory.Import {
	return directory.Import{
		ID: r.ID, AccountID: r.AccountID, Mode: directory.ImportMode(r.Mode), Role: directory.Role(r.Role), FileName: r.FileName,
		Status: directory.ImportStatus(r.Status), Total: r.Total,
		Counts:       directory.ImportCounts{Created: r.Created, Joined: r.Joined, AlreadyMember: r.AlreadyMember, Duplicate: r.Duplicate, Failed: r.Failed},
		Actor:        directory.Actor{Source: directory.Source(r.ActorSource), ID: r.ActorID, Name: r.ActorName},
		PasswordHash: r.PasswordHash, LockedUntil: optionalTime(r.LockedUntil),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), FinishedAt: optionalTime(r.FinishedAt),
	}
}

// CreateImport stores a job; Conflict when the account has an open one
// (the imports_one_open index).
func (s *Store) CreateImport(ctx context.Context, im directory.Import) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO imports (`+importColumns+`) VALUES (`+marks(20)+`)`),
		im.ID, im.AccountID, string(im.Mode), string(im.Role), im.FileName, string(im.Status), im.Total,
		im.Counts.Created, im.Counts.Joined, im.Counts.AlreadyMember, im.Counts.Duplicate, im.Counts.Failed,
		string(im.Actor.Source), im.Actor.ID, im.Actor.Name, im.PasswordHash, nullTime(im.LockedUntil), im.CreatedAt, im.UpdatedAt, nullTime(im.FinishedAt))
	return s.dialect.wrap(err, "insert import")
}

// chunkRow is how an import row is kept inside its chunk's JSON.
type chunkRow struct {
	Line      int    `json:"line"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason"`
}

func encodeChunk(rows []directory.ImportRow) (string, bool, error) {
	out := make([]chunkRow, len(rows))
	done := true
	for i, r := range rows {
		out[i] = chunkRow{Line: r.Line, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, Role: string(r.Role), Outcome: string(r.Outcome), Reason: r.Reason}
		done = done && r.Outcome != directory.OutcomePending
	}
	// Without HTML escaping: a cell full of < would take six bytes a
	// character.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(out)
	return strings.TrimSuffix(b.String(), "\n"), done, err
}

func decodeChunk(data string) ([]directory.ImportRow, error) {
	var in []chunkRow
	if err := json.Unmarshal([]byte(data), &in); err != nil {
		return nil, fmt.Errorf("decode import chunk: %w", err)
	}
	out := make([]directory.ImportRow, len(in))
	for i, r := range in {
		out[i] = directory.ImportRow{Line: r.Line, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName,
			Role: directory.Role(r.Role), Outcome: directory.ImportOutcome(r.Outcome), Reason: r.Reason}
	}
	return out, nil
}

// AddImportChunk stores rows of a job (in line order) as one chunk.
func (s *Store) AddImportChunk(ctx context.Context, importID string, rows []directory.ImportRow) error {
	if len(rows) == 0 {
		return nil
	}
	data, done, err := encodeChunk(rows)
	if err != nil {
		return fmt.Errorf("encode import chunk: %w", err)
	}
	_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO import_chunks (import_id, first_line, last_line, done, row_data) VALUES (?, ?, ?, ?, ?)`),
		importID, rows[0].Line, rows[len(rows)-1].Line, done, data)
	return s.dialect.wrap(err, "add import rows")
}

// ClaimImportChunk returns the rows of the job's first chunk that is not
// done and that no other transaction holds, and holds it until the
// transaction ends (on SQLite, whose writers take turns, the first chunk
// not done).
func (s *Store) ClaimImportChunk(ctx context.Context, importID string) ([]directory.ImportRow, error) {
	var data string
	err := sqlx.GetContext(ctx, s.q, &data, s.rebind(`SELECT row_data FROM import_chunks
		WHERE import_id = ? AND NOT done ORDER BY first_line LIMIT 1`+s.dialect.skipLocked), importID)
	if err != nil {
		return nil, s.dialect.wrap(err, "claim import rows")
	}
	return decodeChunk(data)
}

// ImportChunksLeft counts the job's chunks not done, held or not.
func (s *Store) ImportChunksLeft(ctx context.Context, importID string) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, s.q, &n, s.rebind(`SELECT COUNT(*) FROM import_chunks WHERE import_id = ? AND NOT done`), importID)
	return n, s.dialect.wrap(err, "count import rows left")
}

// SaveImportChunk saves a claimed chunk's rows with their outcomes (the
// address and role as they were read) and marks it done when every row
// has one.
func (s *Store) SaveImportChunk(ctx context.Context, importID string, rows []directory.ImportRow) error {
	if len(rows) == 0 {
		return nil
	}
	data, done, err := encodeChunk(rows)
	if err != nil {
		return fmt.Errorf("encode import chunk: %w", err)
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE import_chunks SET row_data = ?, done = ? WHERE import_id = ? AND first_line = ?`),
		data, done, importID, rows[0].Line)
	if err != nil {
		return s.dialect.wrap(err, "record import outcomes")
	}
	return expectOne(res, "import chunk")
}

// FindImport returns one of the account's jobs.
func (s *Store) FindImport(ctx context.Context, accountID, id string) (directory.Import, error) {
	var r importRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+importColumns+` FROM imports WHERE account_id = ? AND id = ?`), accountID, id)
	if err != nil {
		return directory.Import{}, s.dialect.wrap(err, "find import")
	}
	return r.job(), nil
}

// FindImportByID returns a job of any account, for runners.
func (s *Store) FindImportByID(ctx context.Context, id string) (directory.Import, error) {
	var r importRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+importColumns+` FROM imports WHERE id = ?`), id)
	if err != nil {
		return directory.Import{}, s.dialect.wrap(err, "find import")
	}
	return r.job(), nil
}

// LockImport is FindImport that holds the job's row until the transaction
// ends.
func (s *Store) LockImport(ctx context.Context, accountID, id string) (directory.Import, error) {
	var r importRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+importColumns+` FROM imports i WHERE account_id = ? AND id = ?`+s.dialect.lockRows("i")), accountID, id)
	if err != nil {
		return directory.Import{}, s.dialect.wrap(err, "lock import")
	}
	return r.job(), nil
}

// FindImports returns the account's newest jobs first.
func (s *Store) FindImports(ctx context.Context, accountID string, limit int) ([]directory.Import, error) {
	var rows []importRow
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+importColumns+` FROM imports WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`), accountID, limit)
	if err != nil {
		return nil, s.dialect.wrap(err, "find imports")
	}
	out := make([]directory.Import, len(rows))
	for i, r := range rows {
		out[i] = r.job()
	}
	return out, nil
}

// ClaimImport takes the oldest open job nobody holds (the job id when
// id is not empty).
func (s *Store) ClaimImport(ctx context.Context, id string, now, lockedUntil time.Time) (directory.Import, error) {
	var r importRow
	err := s.within(ctx, func(s *Store) error {
		return sqlx.GetContext(ctx, s.q, &r, s.rebind(`UPDATE imports SET locked_until = ?, status = 'running'
			WHERE id = (SELECT id FROM imports
				WHERE status IN ('queued', 'running') AND (locked_until IS NULL OR locked_until <= ?) AND (? = '' OR id = ?)
				ORDER BY created_at LIMIT 1`+s.dialect.skipLocked+`)
			RETURNING `+importColumns), lockedUntil, now, id, id)
	})
	if err != nil {
		return directory.Import{}, s.dialect.wrap(err, "claim import")
	}
	return r.job(), nil
}

// UpdateImport saves a job's status, counts, claim and password hash.
func (s *Store) UpdateImport(ctx context.Context, im directory.Import) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE imports SET status = ?, created = ?, joined = ?, already_member = ?, duplicate = ?, failed = ?,
		password_hash = ?, locked_until = ?, updated_at = ?, finished_at = ? WHERE account_id = ? AND id = ?`),
		string(im.Status), im.Counts.Created, im.Counts.Joined, im.Counts.AlreadyMember, im.Counts.Duplicate, im.Counts.Failed,
		im.PasswordHash, nullTime(im.LockedUntil), im.UpdatedAt, nullTime(im.FinishedAt), im.AccountID, im.ID)
	if err != nil {
		return s.dialect.wrap(err, "update import")
	}
	return expectOne(res, "import")
}

// ImportLanes is 2 on PostgreSQL, whose backends each add a chunk on a
// core of their own while admit prepares the next, and 1 on SQLite, whose
// writers take turns.
func (s *Store) ImportLanes() int {
	if s.dialect.name == postgresDialect.name {
		return 2
	}
	return 1
}

// AddImportProgress adds a batch's counts to an open job, with one
// statement so that lanes of one job each add theirs.
func (s *Store) AddImportProgress(ctx context.Context, accountID, id string, c directory.ImportCounts, lockedUntil, now time.Time) (directory.Import, error) {
	var r importRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`UPDATE imports SET status = 'running',
		created = created + ?, joined = joined + ?, already_member = already_member + ?, duplicate = duplicate + ?, failed = failed + ?,
		locked_until = ?, updated_at = ?
		WHERE account_id = ? AND id = ? AND status IN ('queued', 'running') RETURNING `+importColumns),
		c.Created, c.Joined, c.AlreadyMember, c.Duplicate, c.Failed, lockedUntil, now, accountID, id)
	if err != nil {
		return directory.Import{}, s.dialect.wrap(err, "record import progress")
	}
	return r.job(), nil
}

// FindImportRows returns up to limit rows of a job after line afterLine,
// in line order, from the chunks that hold them.
func (s *Store) FindImportRows(ctx context.Context, importID string, afterLine, limit int) ([]directory.ImportRow, error) {
	var out []directory.ImportRow
	for len(out) < limit {
		// A chunk holds at most directory.ImportBatchSize rows: this many
		// chunks hold the rest of the page, and usually one more query
		// is not needed.
		n := limit/max(directory.ImportBatchSize, 1) + 2
		var chunks []struct {
			LastLine int    `db:"last_line"`
			Data     string `db:"row_data"`
		}
		err := sqlx.SelectContext(ctx, s.q, &chunks, s.rebind(`SELECT last_line, row_data FROM import_chunks
			WHERE import_id = ? AND last_line > ? ORDER BY first_line LIMIT ?`), importID, afterLine, n)
		if err != nil {
			return nil, s.dialect.wrap(err, "find import rows")
		}
		for _, c := range chunks {
			rows, err := decodeChunk(c.Data)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				if r.Line > afterLine && len(out) < limit {
					out = append(out, r)
				}
			}
			afterLine = c.LastLine
		}
		if len(chunks) < n {
			break
		}
	}
	return out, nil
}

// SaveImportUpload keeps the account's uploaded file in place of its last.
func (s *Store) SaveImportUpload(ctx context.Context, u directory.ImportUpload) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO import_uploads (account_id, id, file_name, data, created_at, discarded) VALUES (?, ?, ?, ?, ?, '')
		ON CONFLICT (account_id) DO UPDATE SET id = excluded.id, file_name = excluded.file_name, data = excluded.data, created_at = excluded.created_at, discarded = ''`),
		u.AccountID, u.ID, u.FileName, u.Data, u.CreatedAt)
	return s.dialect.wrap(err, "save import upload")
}

// FindImportUpload returns the account's uploaded file if it has that id,
// also when it was discarded (Discarded says why, and Data is empty).
func (s *Store) FindImportUpload(ctx context.Context, accountID, id string) (directory.ImportUpload, error) {
	var r struct {
		AccountID string    `db:"account_id"`
		ID        string    `db:"id"`
		FileName  string    `db:"file_name"`
		Data      []byte    `db:"data"`
		CreatedAt time.Time `db:"created_at"`
		Discarded string    `db:"discarded"`
	}
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT account_id, id, file_name, data, created_at, discarded FROM import_uploads WHERE account_id = ? AND id = ?`), accountID, id)
	if err != nil {
		return directory.ImportUpload{}, s.dialect.wrap(err, "find import upload")
	}
	return directory.ImportUpload{ID: r.ID, AccountID: r.AccountID, FileName: r.FileName, Data: r.Data, CreatedAt: r.CreatedAt.UTC(), Discarded: r.Discarded}, nil
}

// DeleteImportUpload removes the account's uploaded file if it has that
// id, is not discarded and was made after after, saying whether it did;
// with no id, whichever it has.
func (s *Store) DeleteImportUpload(ctx context.Context, accountID, id string, after time.Time) (bool, error) {
	q, args := `DELETE FROM import_uploads WHERE account_id = ?`, []any{accountID}
	if id != "" {
		q, args = q+` AND id = ? AND discarded = '' AND created_at > ?`, append(args, id, after)
	}
	res, err := s.q.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return false, s.dialect.wrap(err, "delete import upload")
	}
	n, err := res.RowsAffected()
	return n > 0, s.dialect.wrap(err, "delete import upload")
}

// DiscardImportUploads empties, in every account, the uploads not yet
// discarded that were made before before (all of them when before is
// zero), marking them discarded for reason. The table holds one row per
// account at most, so reading it whole needs no index.
func (s *Store) DiscardImportUploads(ctx context.Context, reason string, before time.Time) (int64, error) {
	q, args := `UPDATE import_uploads SET data = ?, file_name = '', discarded = ? WHERE discarded = ''`, []any{[]byte{}, reason}
	if !before.IsZero() {
		q, args = q+` AND created_at < ?`, append(args, before)
	}
	res, err := s.q.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return 0, s.dialect.wrap(err, "discard import uploads")
	}
	n, err := res.RowsAffected()
	return n, s.dialect.wrap(err, "discard import uploads")
}

// DeleteImportUploadsBefore deletes the uploads, discarded or not, made
// before before.
func (s *Store) DeleteImportUploadsBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM import_uploads WHERE created_at < ?`), before)
	if err != nil {
		return 0, s.dialect.wrap(err, "delete import uploads")
	}
	n, err := res.RowsAffected()
	return n, s.dialect.wrap(err, "delete import uploads")
}
