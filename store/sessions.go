package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type sessionRow struct {
	IDHash     string    `db:"id_hash"`
	UserID     string    `db:"user_id"`
	AccountID  string    `db:"account_id"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`
	Method     string    `db:"method"`
	Connection string    `db:"connection_id"`
	FamilyHash string    `db:"family_hash"`
	Host       string    `db:"host"`
	// What a SAML sign-in's assertion said of the session at the
	// identity provider; '' otherwise.
	SAMLNameID          string `db:"saml_name_id"`
	SAMLFormat          string `db:"saml_name_id_format"`
	SAMLNameQualifier   string `db:"saml_name_qualifier"`
	SAMLSPNameQualifier string `db:"saml_sp_name_qualifier"`
	SAMLSessionIndex    string `db:"saml_session_index"`
}

const sessionColumns = `id_hash, user_id, account_id, created_at, last_seen_at, expires_at, method, connection_id, family_hash, host,
	saml_name_id, saml_name_id_format, saml_name_qualifier, saml_sp_name_qualifier, saml_session_index`

func (r sessionRow) session() directory.Session {
	return directory.Session{IDHash: r.IDHash, UserID: r.UserID, AccountID: r.AccountID,
		CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		Credential: directory.Credential{Method: directory.SignInMethod(r.Method), ConnectionID: r.Connection, SAML: directory.SAMLSubject{
			NameID: r.SAMLNameID, Format: r.SAMLFormat, NameQualifier: r.SAMLNameQualifier, SPNameQualifier: r.SAMLSPNameQualifier, SessionIndex: r.SAMLSessionIndex,
		}},
		FamilyHash: r.FamilyHash, Host: r.Host}
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess directory.Session) error {
	sub := sess.Credential.SAML
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		sess.IDHash, sess.UserID, sess.AccountID, sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt, string(sess.Credential.Method), sess.Credential.ConnectionID, sess.FamilyHash, sess.Host,
		sub.NameID, sub.Format, sub.NameQualifier, sub.SPNameQualifier, sub.SessionIndex)
	return s.dialect.wrap(err, "insert session")
}

// FindSession returns the session with the given hash.
func (s *Store) FindSession(ctx context.Context, idHash string) (directory.Session, error) {
	var r sessionRow
	err := sqlx.GetContext(ctx, s.q, &r, s.rebind(`SELECT `+sessionColumns+` FROM sessions WHERE id_hash = ?`), idHash)
	if err != nil {
		return directory.Session{}, s.dialect.wrap(err, "find session")
	}
	return r.session(), nil
}

// FindSAMLSessions returns the sessions the connection's SAML sign-ins
// opened for the NameID (sessions_saml_name_id).
func (s *Store) FindSAMLSessions(ctx context.Context, connectionID, nameID string) ([]directory.Session, error) {
	var rows []sessionRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+sessionColumns+` FROM sessions
		WHERE connection_id = ? AND saml_name_id = ? AND saml_name_id <> '' ORDER BY created_at, id_hash`), connectionID, nameID); err != nil {
		return nil, s.dialect.wrap(err, "find SAML sessions")
	}
	out := make([]directory.Session, len(rows))
	for i, r := range rows {
		out[i] = r.session()
	}
	return out, nil
}

// TouchSession records activity on a session.
func (s *Store) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`), at, idHash)
	return s.dialect.wrap(err, "touch session")
}

// UpdateSessionAccount moves a session to another account.
func (s *Store) UpdateSessionAccount(ctx context.Context, idHash, accountID string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE sessions SET account_id = ? WHERE id_hash = ?`), accountID, idHash)
	if err != nil {
		return s.dialect.wrap(err, "switch session account")
	}
	return expectOne(res, "session")
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE id_hash = ?`), idHash)
	return s.dialect.wrap(err, "delete session")
}

// DeleteSessionFamily deletes the session rootHash and every session of
// its family (the hand-offs it made).
func (s *Store) DeleteSessionFamily(ctx context.Context, rootHash string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE id_hash = ? OR family_hash = ?`), rootHash, rootHash)
	return s.dialect.wrap(err, "delete session family")
}

// DeleteSessionsOfUser ends the user's sessions but the one named except.
func (s *Store) DeleteSessionsOfUser(ctx context.Context, userID, except string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?`), userID, except)
	return s.dialect.wrap(err, "delete sessions of user")
}

// DeleteSessionsOfMembership ends the user's sessions in one account.
func (s *Store) DeleteSessionsOfMembership(ctx context.Context, accountID, userID string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sessions WHERE account_id = ? AND user_id = ?`), accountID, userID)
	return s.dialect.wrap(err, "delete sessions of membership")
}

// EndMembershipSessions ends the user's sessions in one account, and
// records when, so that a session signed in before then enters it no more.
func (s *Store) EndMembershipSessions(ctx context.Context, accountID, userID string, at time.Time) error {
	if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET sessions_ended_at = ? WHERE account_id = ? AND user_id = ?`), at, accountID, userID); err != nil {
		return s.dialect.wrap(err, "record sessions ended")
	}
	return s.DeleteSessionsOfMembership(ctx, accountID, userID)
}

// SetMembershipStatus changes a membership's status.
func (s *Store) SetMembershipStatus(ctx context.Context, accountID, userID string, status directory.Status, at time.Time) (directory.Membership, error) {
	// RETURNING: the membership as changed, in the same round trip.
	var row membershipRow
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`UPDATE memberships SET status = ?, updated_at = ? WHERE account_id = ? AND user_id = ?
		RETURNING `+membershipReadColumns), string(status), at, accountID, userID)
	if err != nil {
		err = s.dialect.wrap(err, "set membership status")
		if directory.KindOf(err) == directory.NotFound {
			return directory.Membership{}, directory.NotFoundError("membership not found")
		}
		return directory.Membership{}, err
	}
	return row.membership(), nil
}

// AddSignInFailure records one failed sign-in (or one attempt, counted
// before its outcome is known) for key.
func (s *Store) AddSignInFailure(ctx context.Context, key, attempt string, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO sign_in_failures (key, attempt, failed_at) VALUES (?, ?, ?)`), key, attempt, at)
	return s.dialect.wrap(err, "record sign-in failure")
}

// DeleteSignInAttempt takes back what AddSignInFailure counted for key
// under attempt.
func (s *Store) DeleteSignInAttempt(ctx context.Context, key, attempt string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sign_in_failures WHERE key = ? AND attempt = ?`), key, attempt)
	return s.dialect.wrap(err, "take back sign-in attempt")
}

// CountSignInFailures counts key's failures since a time and finds the
// oldest of them; older rows are deleted on the way, so the table holds
// only the current window.
func (s *Store) CountSignInFailures(ctx context.Context, key string, since time.Time) (int, time.Time, error) {
	if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sign_in_failures WHERE key = ? AND failed_at <= ?`), key, since); err != nil {
		return 0, time.Time{}, s.dialect.wrap(err, "expire sign-in failures")
	}
	// One statement for the count and the oldest, so that both are of
	// one snapshot: as two, a success clearing the key between them (the
	// person signing in twice at once) left the second nothing to find,
	// an error for an attempt that had done nothing wrong. Not
	// MIN(failed_at): SQLite returns an aggregate of a timestamp column as
	// text, while the column itself reads as a time.
	var row struct {
		Oldest time.Time `db:"failed_at"`
		N      int       `db:"n"`
	}
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT failed_at, COUNT(*) OVER () AS n FROM sign_in_failures WHERE key = ? AND failed_at > ? ORDER BY failed_at LIMIT 1`), key, since)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, s.dialect.wrap(err, "count sign-in failures")
	}
	return row.N, row.Oldest.UTC(), nil
}

// ClearSignInFailures forgets key's failures after a successful sign-in.
func (s *Store) ClearSignInFailures(ctx context.Context, key string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sign_in_failures WHERE key = ?`), key)
	return s.dialect.wrap(err, "clear sign-in failures")
}

// DeleteExpired deletes expired sessions, sign-in failures and resets.
func (s *Store) DeleteExpired(ctx context.Context, now, idleBefore, failuresBefore, resetsBefore time.Time) (int64, error) {
	var total int64
	for _, d := range []struct {
		query string
		args  []any
	}{
		{`DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?`, []any{now, idleBefore}},
		{`DELETE FROM sign_in_failures WHERE failed_at <= ?`, []any{failuresBefore}},
		{`DELETE FROM password_resets WHERE expires_at <= ?`, []any{resetsBefore}},
		{`DELETE FROM scim_cursors WHERE expires_at <= ?`, []any{now}},
	} {
		res, err := s.q.ExecContext(ctx, s.rebind(d.query), d.args...)
		if err != nil {
			return total, s.dialect.wrap(err, "delete expired rows")
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
