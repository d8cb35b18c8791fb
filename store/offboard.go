package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

// accountChunk is one kind of row an account deletion removes a chunk at a
// time: table's rows that where selects (its one argument is the account's
// id), named by key (the table's primary key, or a unique column set).
type accountChunk struct {
	table, key, where string
}

// accountChunks lists, in the order DeleteAccountRows removes them, the
// account-scoped rows that go with an account besides its memberships
// (which the directory removes itself, to announce each) and its domains
// and row (FinishAccountDeletion). Credentials come first: they go before
// anything else does. Rows that a foreign key cascades from a parent
// listed here (idempotency keys, webhook attempts, import rows) are
// listed before that parent only when there may be many of them, so that
// no chunk's cascade is unbounded. TestEveryTableIsOffboarded fails when a
// table that references accounts or users is neither here nor in
// offboardKept (or cascaded: offboardCascaded).
var accountChunks = []accountChunk{
	{"scim_tokens", "id", "account_id = ?"},
	{"api_keys", "id", "account_id = ?"},
	{"sessions", "id_hash", "account_id = ?"},
	{"handoffs", "code_hash", "account_id = ?"},
	{"app_tokens", "id", "account_id = ?"},
	{"app_authorizations", "id", "account_id = ?"},
	{"app_sign_ins", "client_id, account_id, user_id", "account_id = ?"},
	{"app_sign_in_sessions", "client_id, account_id, user_id, auth_time", "account_id = ?"},
	{"password_resets", "id", "account_id = ?"},
	{"invitations", "id", "account_id = ?"},
	{"mail_messages", "id", "account_id = ?"},
	{"webhook_attempts", "id", "delivery_id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.account_id = ?)"},
	{"webhook_deliveries", "id", "webhook_id IN (SELECT id FROM webhooks WHERE account_id = ?)"},
	{"webhook_tests", "event_id, webhook_id", "webhook_id IN (SELECT id FROM webhooks WHERE account_id = ?)"},
	{"webhooks", "id", "account_id = ?"},
	{"sso_attempts", "id", "connection_id IN (SELECT id FROM connections WHERE account_id = ?)"},
	{"sso_replays", "connection_id, assertion_id", "connection_id IN (SELECT id FROM connections WHERE account_id = ?)"},
	{"sso_links", "connection_id, subject_attribute, subject", "connection_id IN (SELECT id FROM connections WHERE account_id = ?)"},
	{"connections", "id", "account_id = ?"},
	{"import_chunks", "import_id, first_line", "import_id IN (SELECT id FROM imports WHERE account_id = ?)"},
	{"imports", "id", "account_id = ?"},
	{"import_uploads", "account_id", "account_id = ?"},
	{"group_members", "group_id, user_id", "group_id IN (SELECT id FROM groups WHERE account_id = ?)"},
	{"groups", "id", "account_id = ?"},
	{"scim_deletions", "account_id, user_id", "account_id = ?"},
	{"scim_cursors", "account_id, list_key, start_index", "account_id = ?"},
	{"role_mappings", "account_id, group_key", "account_id = ?"},
	{"account_roles", "account_id, name", "account_id = ?"},
	{"logos", "account_id", "account_id = ?"},
	{"apps", "id", "account_id = ?"},
}

// offboardCascaded are tables whose rows go, by a foreign key's ON DELETE
// CASCADE, with a row the offboarding deletes, and are few per parent.
var offboardCascaded = map[string]string{
	"idempotency_keys":  "with its API key (a day's keys)",
	"sso_group_members": "with its membership",
	"memberships":       "by the directory, one chunk at a time, each announced (membership.deleted)",
	"domains":           "with the account's row, last (the directory reads them to tell whose home it was)",
	"group_members":     "with the user (erasure), or listed",
	"operators":         "with the user (erasure)",
}

// offboardKept are tables that reference an account or a user and whose
// rows stay when the account is deleted or the person erased, and why.
var offboardKept = map[string]string{
	"audit_events":    "the record of what was done: kept, and the erased person's name and email in it replaced by a pseudonym",
	"outbox_messages": "the events receivers were (or are being) sent; the sweep removes them after the retention period",
	"event_sweeps":    "the feed's bookkeeping of which events were swept (ids only)",
	"app_logouts":     "back-channel logouts still to send to apps (ids only); sent, then deleted",
	"users":           "a person's row goes only when they are erased (DeleteUser)",
}

// FindAccountToDelete returns the account with the slug, whether or not
// its deletion has started (deleting says which).
func (s *Store) FindAccountToDelete(ctx context.Context, slug string) (directory.Account, bool, error) {
	var row struct {
		ID         string       `db:"id"`
		DeletingAt sql.NullTime `db:"deleting_at"`
	}
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT id, deleting_at FROM accounts WHERE slug = ?`), slug); err != nil {
		err = s.dialect.wrap(err, "find account")
		if directory.KindOf(err) == directory.NotFound {
			return directory.Account{}, false, directory.NotFoundError(fmt.Sprintf("no account %q", slug))
		}
		return directory.Account{}, false, err
	}
	a, err := s.findAccountRow(ctx, row.ID)
	return a, row.DeletingAt.Valid, err
}

// findAccountRow is findAccount for any account, deleting or not.
func (s *Store) findAccountRow(ctx context.Context, id string) (directory.Account, error) {
	var row accountRow
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`), id); err != nil {
		return directory.Account{}, s.dialect.wrap(err, "find account")
	}
	accounts, err := s.withDomains(ctx, []accountRow{row})
	if err != nil {
		return directory.Account{}, err
	}
	return accounts[0], nil
}

// MarkAccountDeleting starts the account's deletion: from now on only
// FindAccountToDelete finds it. On PostgreSQL it locks the account's row
// (FOR UPDATE) until the transaction ends, so that two deletions take
// turns, and so that it waits for every transaction that wrote a row
// referring to the account or holds it (HoldAccount): those committed
// before the mark are in what the deletion reads after it, and those that
// come later find the account deleting.
func (s *Store) MarkAccountDeleting(ctx context.Context, accountID string, at time.Time) error {
	if s.dialect.name != sqliteDialect.name {
		var id string
		if err := sqlx.GetContext(ctx, s.q, &id, s.rebind(`SELECT id FROM accounts a WHERE id = ?`+s.dialect.lockRows("a")), accountID); err != nil {
			return s.dialect.wrap(err, "mark account deleting")
		}
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE accounts SET deleting_at = COALESCE(deleting_at, ?) WHERE id = ?`), at, accountID)
	if err != nil {
		return s.dialect.wrap(err, "mark account deleting")
	}
	return expectOne(res, "account")
}

// HoldAccount answers NotFound when the account is being deleted or gone;
// otherwise, on PostgreSQL, it holds the account's row (FOR KEY SHARE, as
// a foreign key's check does) until the transaction ends, so that a
// deletion's mark (FOR UPDATE) waits for the transaction and the rows it
// wrote are in what the deletion deletes. A transaction that comes after
// the mark waits for it to commit and then finds the account deleting.
// SQLite's writers take turns already (BEGIN IMMEDIATE).
func (s *Store) HoldAccount(ctx context.Context, accountID string) error {
	var id string
	err := sqlx.GetContext(ctx, s.q, &id, s.rebind(`SELECT id FROM accounts WHERE id = ? AND deleting_at IS NULL`+s.dialect.forKeyShare), accountID)
	if err = s.dialect.wrap(err, "hold account"); directory.KindOf(err) == directory.NotFound {
		return directory.NotFoundError("the account no longer exists")
	}
	return err
}

// DeleteAccountRows deletes up to limit of the account's rows listed in
// accountChunks, of the first kind from the from'th on that has any; it
// returns that kind's place (the next call's from: the kinds before it
// are done, and are not read again) and how many it deleted, 0 when none
// is left.
func (s *Store) DeleteAccountRows(ctx context.Context, accountID string, from, limit int) (int, int, error) {
	for i := max(from, 0); i < len(accountChunks); i++ {
		c := accountChunks[i]
		q := `DELETE FROM ` + c.table + ` WHERE (` + c.key + `) IN (SELECT ` + c.key + ` FROM ` + c.table + ` WHERE ` + c.where + ` LIMIT ?)`
		res, err := s.q.ExecContext(ctx, s.rebind(q), accountID, limit)
		if err != nil {
			return i, 0, s.dialect.wrap(err, "delete "+c.table)
		}
		if n, err := res.RowsAffected(); err != nil {
			return i, 0, fmt.Errorf("delete %s: %w", c.table, err)
		} else if n > 0 {
			return i, int(n), nil
		}
	}
	return len(accountChunks), 0, nil
}

// FindMemberIDs returns up to limit ids of the account's members, in id
// order.
func (s *Store) FindMemberIDs(ctx context.Context, accountID string, limit int) ([]string, error) {
	var ids []string
	err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`SELECT user_id FROM memberships WHERE account_id = ? ORDER BY user_id LIMIT ?`), accountID, limit)
	return ids, s.dialect.wrap(err, "find members")
}

// FinishAccountDeletion deletes the account's row, with its domains (and
// whatever little is left that cascades), unless a member is left: then
// Conflict, and the directory announces them first. On PostgreSQL the
// row is locked first (FOR UPDATE waits for every transaction that wrote
// a row referring to the account), so that a membership committed by a
// request that found the account before it was hidden is counted here,
// not taken by the cascade without a membership.deleted, its person left
// without an account.
func (s *Store) FinishAccountDeletion(ctx context.Context, accountID string) error {
	var id string
	if err := sqlx.GetContext(ctx, s.q, &id, s.rebind(`SELECT id FROM accounts a WHERE id = ? AND deleting_at IS NOT NULL`+s.dialect.lockRows("a")), accountID); err != nil {
		return s.dialect.wrap(err, "delete account")
	}
	var members int
	if err := sqlx.GetContext(ctx, s.q, &members, s.rebind(`SELECT COUNT(*) FROM memberships WHERE account_id = ?`), accountID); err != nil {
		return s.dialect.wrap(err, "delete account")
	}
	if members > 0 {
		return directory.ConflictError(fmt.Sprintf("%d members joined the account while it was being deleted", members))
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM accounts WHERE id = ? AND deleting_at IS NOT NULL`), accountID)
	if err != nil {
		return s.dialect.wrap(err, "delete account")
	}
	return expectOne(res, "account")
}

// DeleteUser deletes the user's row, and with it (foreign keys) their
// memberships, sessions, SSO links, tokens, invitations, resets, grants of
// apps, group memberships and operator rights; and the rows that name
// them without a key: mail to their address, SSO attempts with their
// email, and their email where it names who did something (a domain's
// verifier, an operator's maker, a webhook test's sender, an import's
// actor), which becomes pseudonym.
func (s *Store) DeleteUser(ctx context.Context, u directory.User, pseudonym string) error {
	return s.within(ctx, func(s *Store) error {
		// Mail to their address goes in every account, also those they
		// were invited to or removed from before (mail is kept until
		// now): along mail_messages_recipient. The person's accounts
		// narrow the scan of SSO attempts to those accounts' indexes.
		if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM mail_messages WHERE lower(recipient) = lower(?)`), u.Email); err != nil {
			return s.dialect.wrap(err, "delete user")
		}
		for _, q := range []string{
			`DELETE FROM sso_attempts WHERE connection_id IN (SELECT c.id FROM connections c JOIN memberships m ON m.account_id = c.account_id WHERE m.user_id = ?) AND lower(email) = lower(?)`,
		} {
			if _, err := s.q.ExecContext(ctx, s.rebind(q), u.ID, u.Email); err != nil {
				return s.dialect.wrap(err, "delete user")
			}
		}
		for _, q := range []string{
			`UPDATE domains SET verified_by = ? WHERE verified_by = ?`,
			`UPDATE operators SET added_by = ? WHERE added_by = ?`,
			`UPDATE webhook_tests SET sent_by = ? WHERE sent_by = ?`,
			`UPDATE imports SET actor_name = ? WHERE actor_name = ?`,
		} {
			if _, err := s.q.ExecContext(ctx, s.rebind(q), pseudonym, u.Email); err != nil {
				return s.dialect.wrap(err, "delete user")
			}
		}
		res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM users WHERE id = ?`), u.ID)
		if err != nil {
			return s.dialect.wrap(err, "delete user")
		}
		return expectOne(res, "user")
	})
}

// RedactImportRows rewrites, in every import's stored rows (its report),
// the lines with the email: the email becomes pseudonym, the names go;
// the line, role, outcome and reason stay (the email in a reason, its own
// or another line's, becomes pseudonym), so the report's counts are as
// they were. The rows are JSON, a chunk of a thousand lines to a row,
// with no index by email: they are found by reading every chunk's text
// (a person may be in imports of accounts they left, or never joined),
// then matched exactly here. An import's file name may be an address too
// (an admin uploaded eve@beta.example.csv): where it holds the email, in
// any case, the email in it becomes pseudonym, in the import and in the
// audit events about it that recorded it (import.created,
// import.finished: found by their target, the import's id, on
// audit_events_target, so no other audit event is read).
func (s *Store) RedactImportRows(ctx context.Context, email, pseudonym string) error {
	if err := s.redactImportFileNames(ctx, email, pseudonym); err != nil {
		return err
	}
	var chunks []struct {
		ImportID  string `db:"import_id"`
		FirstLine int    `db:"first_line"`
		Data      string `db:"row_data"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &chunks, s.rebind(`SELECT import_id, first_line, row_data FROM import_chunks WHERE `+s.dialect.contains("lower(row_data)")), strings.ToLower(email)); err != nil {
		return s.dialect.wrap(err, "find import rows")
	}
	for _, c := range chunks {
		rows, err := decodeChunk(c.Data)
		if err != nil {
			return err
		}
		changed := false
		for i, r := range rows {
			if strings.EqualFold(strings.TrimSpace(r.Email), email) {
				rows[i].Email, rows[i].FirstName, rows[i].LastName, changed = pseudonym, "", "", true
			}
			if reason := replaceFold(r.Reason, email, pseudonym); reason != r.Reason {
				rows[i].Reason, changed = reason, true
			}
		}
		if !changed {
			continue
		}
		data, _, err := encodeChunk(rows)
		if err != nil {
			return fmt.Errorf("encode import chunk: %w", err)
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE import_chunks SET row_data = ? WHERE import_id = ? AND first_line = ?`), data, c.ImportID, c.FirstLine); err != nil {
			return s.dialect.wrap(err, "redact import rows")
		}
	}
	return nil
}

func (s *Store) redactImportFileNames(ctx context.Context, email, pseudonym string) error {
	var ims []struct {
		ID       string `db:"id"`
		FileName string `db:"file_name"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &ims, s.rebind(`SELECT id, file_name FROM imports WHERE `+s.dialect.contains("lower(file_name)")), strings.ToLower(email)); err != nil {
		return s.dialect.wrap(err, "find imports by file name")
	}
	for _, im := range ims {
		name := replaceFold(im.FileName, email, pseudonym)
		if name == im.FileName {
			continue
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE imports SET file_name = ? WHERE id = ?`), name, im.ID); err != nil {
			return s.dialect.wrap(err, "redact import file name")
		}
		var events []struct {
			ID   string `db:"id"`
			Data []byte `db:"data"`
		}
		if err := sqlx.SelectContext(ctx, s.q, &events, s.rebind(`SELECT id, data FROM audit_events WHERE target_id = ? AND target_type = 'import'`), im.ID); err != nil {
			return s.dialect.wrap(err, "find import audit events")
		}
		for _, ev := range events {
			var data map[string]any
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				return fmt.Errorf("audit event %s data: %w", ev.ID, err)
			}
			old, _ := data["file_name"].(string)
			if redacted := replaceFold(old, email, pseudonym); redacted != old {
				data["file_name"] = redacted
				b, err := json.Marshal(data)
				if err != nil {
					return fmt.Errorf("encode audit event data: %w", err)
				}
				if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE audit_events SET data = ? WHERE id = ?`), string(b), ev.ID); err != nil {
					return s.dialect.wrap(err, "redact import audit event")
				}
			}
		}
	}
	return nil
}

// replaceFold replaces every occurrence of old in s, in any case, by new.
func replaceFold(s, old, new string) string {
	if old == "" {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(strings.ToLower(s), strings.ToLower(old))
		if i < 0 || len(strings.ToLower(s)) != len(s) {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(new)
		s = s[i+len(old):]
	}
}

// FindAuditEventsNaming returns every audit event, in any account, whose
// target or actor is the user, or whose target is one of their
// invitations (the invitation.* events, which hold the address) or
// memberships (SCIM's membership.* events, which hold email, userName and
// externalId).
func (s *Store) FindAuditEventsNaming(ctx context.Context, userID string) ([]directory.AuditEvent, error) {
	type row struct {
		ID        string `db:"id"`
		ActorID   string `db:"actor_id"`
		ActorName string `db:"actor_name"`
		TargetID  string `db:"target_id"`
		Data      []byte `db:"data"`
	}
	// Simple queries, each on its index, rather than one UNION with a
	// join: a planner that misjudges an empty table (SQLite without its
	// statistics) may read the whole trail for every person.
	var invitations, memberships []string
	if err := sqlx.SelectContext(ctx, s.q, &invitations, s.rebind(`SELECT id FROM invitations WHERE user_id = ?`), userID); err != nil {
		return nil, s.dialect.wrap(err, "find audit events")
	}
	// SCIM's events hold the person's email, userName and externalId;
	// those recorded before SCIM's events were about the person named
	// their membership by its SCIM id, found here while it lasts.
	if err := sqlx.SelectContext(ctx, s.q, &memberships, s.rebind(`SELECT scim_id FROM memberships WHERE user_id = ?`), userID); err != nil {
		return nil, s.dialect.wrap(err, "find audit events")
	}
	var out []directory.AuditEvent
	seen := map[string]bool{}
	const columns = `SELECT id, actor_id, actor_name, target_id, data FROM audit_events WHERE `
	queries := [][]any{{columns + `target_id = ?`, userID}, {columns + `actor_id = ?`, userID}}
	for _, id := range append(invitations, memberships...) {
		queries = append(queries, []any{columns + `target_id = ?`, id})
	}
	for _, q := range queries {
		var rows []row
		if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q[0].(string)), q[1]); err != nil {
			return nil, s.dialect.wrap(err, "find audit events")
		}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, directory.AuditEvent{ID: r.ID, Actor: directory.Actor{ID: r.ActorID, Name: r.ActorName}, TargetID: r.TargetID, Data: r.Data})
			}
		}
	}
	return out, nil
}

// HasOtherOwner reports whether the account has an active owner other
// than the user, locking (PostgreSQL) the one it finds until the
// transaction ends: of two owners erased at once, the second then waits
// for the first and finds no other (or the two deadlock, and Tx runs one
// again, which finds the same).
func (s *Store) HasOtherOwner(ctx context.Context, accountID, userID string) (bool, error) {
	var ids []string
	err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`SELECT user_id FROM memberships m WHERE account_id = ? AND `+activeOwner+` AND user_id <> ? LIMIT 1`+s.dialect.lockRows("m")), accountID, userID)
	if err != nil {
		return false, s.dialect.wrap(err, "find owners")
	}
	return len(ids) > 0, nil
}

// RewriteAuditEvent replaces an audit event's actor name and data.
func (s *Store) RewriteAuditEvent(ctx context.Context, id, actorName string, data []byte) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE audit_events SET actor_name = ?, data = ? WHERE id = ?`), actorName, string(data), id)
	if err != nil {
		return s.dialect.wrap(err, "rewrite audit event")
	}
	return expectOne(res, "audit event")
}

// OffboardedTables says, for every table that an account deletion or a
// person's erasure handles, how: deleted in chunks, cascaded, or kept and
// why. A test checks that every table referencing an account or a user
// is in it.
func OffboardedTables() map[string]string {
	out := map[string]string{}
	for _, c := range accountChunks {
		out[c.table] = "deleted with the account, a chunk at a time"
	}
	for t, why := range offboardCascaded {
		if _, ok := out[t]; !ok {
			out[t] = why
		}
	}
	for t, why := range offboardKept {
		out[t] = why
	}
	return out
}

// SchemaReferences lists the tables of the schema that reference an
// account or a user: by a foreign key (directly, or through a table that
// does) or by a column named account_id or user_id without one.
func (s *Store) SchemaReferences(ctx context.Context) ([]string, error) {
	var refs []struct {
		Table string `db:"t"`
		To    string `db:"r"`
	}
	var cols []string
	var err error
	if s.dialect.name == sqliteDialect.name {
		err = sqlx.SelectContext(ctx, s.q, &refs, `SELECT m.name AS t, f."table" AS r FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`)
		if err == nil {
			err = sqlx.SelectContext(ctx, s.q, &cols, `SELECT DISTINCT m.name FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type = 'table' AND c.name IN ('account_id', 'user_id')`)
		}
	} else {
		err = sqlx.SelectContext(ctx, s.q, &refs, `SELECT c.conrelid::regclass::text AS t, c.confrelid::regclass::text AS r FROM pg_constraint c
			JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema()`)
		if err == nil {
			err = sqlx.SelectContext(ctx, s.q, &cols, `SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name IN ('account_id', 'user_id')`)
		}
	}
	if err != nil {
		return nil, s.dialect.wrap(err, "read the schema")
	}
	found := map[string]bool{"accounts": true, "users": true}
	for _, t := range cols {
		found[t] = true
	}
	for grew := true; grew; {
		grew = false
		for _, r := range refs {
			if found[r.To] && !found[r.Table] {
				found[r.Table], grew = true, true
			}
		}
	}
	delete(found, "accounts")
	out := make([]string, 0, len(found))
	for t := range found {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}
