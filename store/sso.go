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

type connectionRow struct {
	ID                string       `db:"id"`
	AccountID         string       `db:"account_id"`
	Protocol          string       `db:"protocol"`
	Name              string       `db:"name"`
	Domains           []byte       `db:"domains"`
	JITMode           string       `db:"jit_mode"`
	Settings          []byte       `db:"settings"`
	Metadata          string       `db:"metadata"`
	MetadataURL       string       `db:"metadata_url"`
	MetadataFetchedAt sql.NullTime `db:"metadata_fetched_at"`
	MetadataError     string       `db:"metadata_error"`
	SealedSecret      string       `db:"sealed_secret"`
	CreatedAt         time.Time    `db:"created_at"`
	UpdatedAt         time.Time    `db:"updated_at"`
	// Signing and SigningChangedAt are the IdP's signing certificates'
	// fingerprints (a JSON list) and when they last changed.
	Signing          []byte       `db:"signing_certificates"`
	SigningChangedAt sql.NullTime `db:"signing_certificates_changed_at"`
}

const connectionColumns = `id, account_id, protocol, name, domains, jit_mode, settings, metadata, metadata_url,
	metadata_fetched_at, metadata_error, sealed_secret, created_at, updated_at, signing_certificates, signing_certificates_changed_at`

func (r connectionRow) connection() (directory.Connection, error) {
	c := directory.Connection{
		ID: r.ID, AccountID: r.AccountID, Protocol: directory.Protocol(r.Protocol), Name: r.Name,
		JITMode: directory.JITMode(r.JITMode), Metadata: r.Metadata, MetadataURL: r.MetadataURL,
		MetadataFetchedAt: optionalTime(r.MetadataFetchedAt), MetadataError: r.MetadataError,
		SealedSecret: r.SealedSecret, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		SigningCertificatesChangedAt: optionalTime(r.SigningChangedAt),
	}
	if err := json.Unmarshal(r.Signing, &c.SigningCertificates); err != nil {
		return c, fmt.Errorf("decode signing certificates of connection %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.Domains, &c.Domains); err != nil {
		return c, fmt.Errorf("decode domains of connection %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.Settings, &c.Settings); err != nil {
		return c, fmt.Errorf("decode settings of connection %s: %w", r.ID, err)
	}
	return c, nil
}

// connectionJSON encodes a connection's domains and settings. JSON goes
// in as text: lib/pq sends []byte as bytea, which PostgreSQL will not take
// for jsonb.
func connectionJSON(c directory.Connection) (domains, settings string, err error) {
	d, err := json.Marshal(nonNil(c.Domains))
	if err != nil {
		return "", "", err
	}
	st, err := json.Marshal(c.Settings)
	if err != nil {
		return "", "", err
	}
	return string(d), string(st), nil
}

// CreateConnection stores a connection.
func (s *Store) CreateConnection(ctx context.Context, c directory.Connection) error {
	domains, settings, err := connectionJSON(c)
	if err != nil {
		return err
	}
	signing, err := json.Marshal(nonNil(c.SigningCertificates))
	if err != nil {
		return err
	}
	_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO connections (`+connectionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		c.ID, c.AccountID, string(c.Protocol), c.Name, domains, string(c.JITMode), settings, c.Metadata, c.MetadataURL,
		c.MetadataFetchedAt, c.MetadataError, c.SealedSecret, c.CreatedAt, c.UpdatedAt, string(signing), c.SigningCertificatesChangedAt)
	return s.dialect.wrap(err, "insert connection")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Store) findConnections(ctx context.Context, where string, args ...any) ([]directory.Connection, error) {
	var rows []connectionRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+connectionColumns+` FROM connections `+where+` ORDER BY created_at, id`), args...); err != nil {
		return nil, s.dialect.wrap(err, "find connections")
	}
	out := make([]directory.Connection, len(rows))
	for i, r := range rows {
		c, err := r.connection()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// FindConnection returns one of the account's connections.
func (s *Store) FindConnection(ctx context.Context, accountID, id string) (directory.Connection, error) {
	cs, err := s.findConnections(ctx, `WHERE account_id = ? AND id = ?`, accountID, id)
	if err != nil {
		return directory.Connection{}, err
	}
	if len(cs) == 0 {
		return directory.Connection{}, directory.NotFoundError("connection not found")
	}
	return cs[0], nil
}

// FindConnections lists the account's connections, oldest first.
func (s *Store) FindConnections(ctx context.Context, accountID string) ([]directory.Connection, error) {
	return s.findConnections(ctx, `WHERE account_id = ?`, accountID)
}

// FindAllConnections lists every connection.
func (s *Store) FindAllConnections(ctx context.Context) ([]directory.Connection, error) {
	return s.findConnections(ctx, ``)
}

// UpdateConnectionMetadata saves a connection's metadata, where it is
// refreshed from, its fetch time and error, and its signing certificates.
func (s *Store) UpdateConnectionMetadata(ctx context.Context, c directory.Connection) error {
	signing, err := json.Marshal(nonNil(c.SigningCertificates))
	if err != nil {
		return err
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE connections SET metadata = ?, metadata_url = ?, metadata_fetched_at = ?, metadata_error = ?,
		signing_certificates = ?, signing_certificates_changed_at = ?, updated_at = ? WHERE account_id = ? AND id = ?`),
		c.Metadata, c.MetadataURL, c.MetadataFetchedAt, c.MetadataError, string(signing), c.SigningCertificatesChangedAt, c.UpdatedAt, c.AccountID, c.ID)
	if err != nil {
		return s.dialect.wrap(err, "update connection metadata")
	}
	return expectOne(res, "connection")
}

// UpdateConnection saves a connection's domains, mode and settings.
func (s *Store) UpdateConnection(ctx context.Context, c directory.Connection) error {
	domains, settings, err := connectionJSON(c)
	if err != nil {
		return err
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE connections SET domains = ?, jit_mode = ?, settings = ?, updated_at = ? WHERE account_id = ? AND id = ?`),
		domains, string(c.JITMode), settings, c.UpdatedAt, c.AccountID, c.ID)
	if err != nil {
		return s.dialect.wrap(err, "update connection")
	}
	return expectOne(res, "connection")
}

// UpdateConnectionSecret replaces an OIDC connection's sealed client secret.
func (s *Store) UpdateConnectionSecret(ctx context.Context, accountID, id, sealed string, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE connections SET sealed_secret = ?, updated_at = ? WHERE account_id = ? AND id = ?`), sealed, at, accountID, id)
	if err != nil {
		return s.dialect.wrap(err, "update connection secret")
	}
	return expectOne(res, "connection")
}

// ResealConnectionSecret replaces a sealed client secret that still holds
// old (see directory.SecretKeyStore); updated_at stays, as the connection
// did not change.
func (s *Store) ResealConnectionSecret(ctx context.Context, accountID, id, old, resealed string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE connections SET sealed_secret = ? WHERE account_id = ? AND id = ? AND sealed_secret = ?`), resealed, accountID, id, old)
	if err != nil {
		return s.dialect.wrap(err, "reseal connection secret")
	}
	return expectResealed(res, "connection "+id)
}

// ResealCertificateKey replaces a sealed private key that still holds old.
func (s *Store) ResealCertificateKey(ctx context.Context, id, old, resealed string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE certificates SET sealed_key = ? WHERE id = ? AND sealed_key = ?`), resealed, id, old)
	if err != nil {
		return s.dialect.wrap(err, "reseal certificate key")
	}
	return expectResealed(res, "key "+id)
}

func expectResealed(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("reseal %s: %w", what, err)
	}
	if n != 1 {
		return directory.ConflictError(fmt.Sprintf("the secret of %s changed or went while it was being sealed anew; nothing was changed: run the command again", what))
	}
	return nil
}

// DeleteConnection deletes a connection with its replay records and login
// log.
func (s *Store) DeleteConnection(ctx context.Context, accountID, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM connections WHERE account_id = ? AND id = ?`), accountID, id)
	if err != nil {
		return s.dialect.wrap(err, "delete connection")
	}
	return expectOne(res, "connection")
}

// UpdateSSOMembership saves a login's role and, when groups is not nil,
// the groups it sent: as the membership's list and as one row per group for
// role mappings to find. It reports whether anything changed. The role
// changes only from the role the login read, from.
func (s *Store) UpdateSSOMembership(ctx context.Context, accountID, userID string, from, role directory.Role, groups []string, at time.Time) (bool, error) {
	changed := false
	if groups != nil {
		g, err := json.Marshal(groups)
		if err != nil {
			return false, err
		}
		res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET sso_groups = ?, updated_at = ?
			WHERE account_id = ? AND user_id = ? AND sso_groups <> `+s.dialect.jsonArg), string(g), at, accountID, userID, string(g))
		if err != nil {
			return false, s.dialect.wrap(err, "update SSO groups")
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = true
			if err := s.replaceSSOGroupMembers(ctx, accountID, userID, groups); err != nil {
				return false, err
			}
		}
	}
	if role == from {
		return changed, nil
	}
	// Only from the role the login read: an admin's change since (a
	// promotion to owner, a demotion) is not written over.
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET role = ?, updated_at = ? WHERE account_id = ? AND user_id = ? AND role = ?`),
		string(role), at, accountID, userID, string(from))
	if err != nil {
		return false, s.dialect.wrap(err, "update membership from SSO")
	}
	n, err := res.RowsAffected()
	return changed || n > 0, err
}

// replaceSSOGroupMembers makes the person's rows in sso_group_members the
// keys of groups (lowercased, trimmed, as role mappings key groups).
func (s *Store) replaceSSOGroupMembers(ctx context.Context, accountID, userID string, groups []string) error {
	if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sso_group_members WHERE account_id = ? AND user_id = ?`), accountID, userID); err != nil {
		return s.dialect.wrap(err, "clear SSO groups")
	}
	var keys []string
	for _, g := range groups {
		if k := strings.ToLower(strings.TrimSpace(g)); k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for batch := range slices.Chunk(keys, 200) {
		query := `INSERT INTO sso_group_members (account_id, group_key, user_id) VALUES ` + strings.TrimSuffix(strings.Repeat(`(?, ?, ?), `, len(batch)), ", ")
		args := make([]any, 0, 3*len(batch))
		for _, k := range batch {
			args = append(args, accountID, k, userID)
		}
		if _, err := s.q.ExecContext(ctx, s.rebind(query), args...); err != nil {
			return s.dialect.wrap(err, "save SSO groups")
		}
	}
	return nil
}

// AddSSOReplay remembers an accepted assertion id.
func (s *Store) AddSSOReplay(ctx context.Context, connectionID, assertionID string, expiresAt time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO sso_replays (connection_id, assertion_id, expires_at) VALUES (?, ?, ?)`),
		connectionID, assertionID, expiresAt)
	return s.dialect.wrap(err, "insert SSO replay record")
}

// AddLoginAttempt adds to a connection's login log and trims the
// attempt's class (verified or not) to its newest keep, in one
// transaction: the log never grows past its caps, however many junk
// answers arrive between sweeps.
func (s *Store) AddLoginAttempt(ctx context.Context, a directory.LoginAttempt, keep int) error {
	return s.within(ctx, func(s *Store) error {
		_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO sso_attempts (id, connection_id, created_at, outcome, reason, reference, email, detail, verified)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), a.ID, a.ConnectionID, a.CreatedAt, a.Outcome, a.Reason, a.Reference, a.Email, string(a.Detail), a.Verified)
		if err != nil {
			return s.dialect.wrap(err, "insert login attempt")
		}
		// Older than the keep-th newest, found through the index: attempts
		// of the same instant as that one stay, so a tie keeps a row more,
		// never one less.
		_, err = s.q.ExecContext(ctx, s.rebind(`DELETE FROM sso_attempts WHERE connection_id = ? AND verified = ? AND created_at < (
			SELECT created_at FROM sso_attempts WHERE connection_id = ? AND verified = ? ORDER BY created_at DESC LIMIT 1 OFFSET ?)`),
			a.ConnectionID, a.Verified, a.ConnectionID, a.Verified, keep-1)
		return s.dialect.wrap(err, "trim login log")
	})
}

// FindLoginAttempts returns a connection's newest login attempts: up to
// limit verified ones and up to limit unverified ones, newest first.
func (s *Store) FindLoginAttempts(ctx context.Context, connectionID string, limit int) ([]directory.LoginAttempt, error) {
	var rows []struct {
		ID           string    `db:"id"`
		ConnectionID string    `db:"connection_id"`
		CreatedAt    time.Time `db:"created_at"`
		Outcome      string    `db:"outcome"`
		Reason       string    `db:"reason"`
		Reference    string    `db:"reference"`
		Email        string    `db:"email"`
		Detail       []byte    `db:"detail"`
		Verified     bool      `db:"verified"`
	}
	const class = `SELECT id, connection_id, created_at, outcome, reason, reference, email, detail, verified
		FROM sso_attempts WHERE connection_id = ? AND verified = ? ORDER BY created_at DESC, id DESC LIMIT ?`
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT * FROM (`+class+`) AS verified_attempts
		UNION ALL SELECT * FROM (`+class+`) AS unverified_attempts ORDER BY created_at DESC, id DESC`),
		connectionID, true, limit, connectionID, false, limit)
	if err != nil {
		return nil, s.dialect.wrap(err, "find login attempts")
	}
	out := make([]directory.LoginAttempt, len(rows))
	for i, r := range rows {
		out[i] = directory.LoginAttempt{ID: r.ID, ConnectionID: r.ConnectionID, CreatedAt: r.CreatedAt.UTC(), Outcome: r.Outcome,
			Reason: r.Reason, Reference: r.Reference, Email: r.Email, Detail: json.RawMessage(r.Detail), Verified: r.Verified}
	}
	return out, nil
}

// DeleteExpiredSSO deletes expired replay records and trims each
// connection's login log to its newest keep attempts of each class.
func (s *Store) DeleteExpiredSSO(ctx context.Context, now time.Time, keep int) (int64, error) {
	var total int64
	for _, d := range []struct {
		query string
		args  []any
	}{
		{`DELETE FROM sso_replays WHERE expires_at <= ?`, []any{now}},
		{`DELETE FROM sso_attempts WHERE id IN (SELECT id FROM (
			SELECT id, row_number() OVER (PARTITION BY connection_id, verified ORDER BY created_at DESC, id DESC) AS n FROM sso_attempts) ranked
			WHERE ranked.n > ?)`, []any{keep}},
	} {
		res, err := s.q.ExecContext(ctx, s.rebind(d.query), d.args...)
		if err != nil {
			return total, s.dialect.wrap(err, "delete expired SSO rows")
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

type certificateRow struct {
	ID          string       `db:"id"`
	Kind        string       `db:"kind"`
	State       string       `db:"state"`
	CertPEM     string       `db:"cert_pem"`
	SealedKey   string       `db:"sealed_key"`
	NotBefore   time.Time    `db:"not_before"`
	NotAfter    time.Time    `db:"not_after"`
	CreatedAt   time.Time    `db:"created_at"`
	ActivatedAt sql.NullTime `db:"activated_at"`
}

// CreateCertificate stores a key pair (SAML when no kind is given);
// Conflict when one of its kind in its state (next, active) exists.
func (s *Store) CreateCertificate(ctx context.Context, c directory.Certificate) error {
	kind := c.Kind
	if kind == "" {
		kind = directory.KeySAML
	}
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO certificates (id, kind, state, cert_pem, sealed_key, not_before, not_after, created_at, activated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), c.ID, string(kind), string(c.State), c.CertPEM, c.SealedKey, c.NotBefore, c.NotAfter, c.CreatedAt, c.ActivatedAt)
	return s.dialect.wrap(err, "insert certificate")
}

// FindCertificates lists the key pairs, newest first.
func (s *Store) FindCertificates(ctx context.Context) ([]directory.Certificate, error) {
	var rows []certificateRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT id, kind, state, cert_pem, sealed_key, not_before, not_after, created_at, activated_at
		FROM certificates ORDER BY created_at DESC, id DESC`); err != nil {
		return nil, s.dialect.wrap(err, "find certificates")
	}
	out := make([]directory.Certificate, len(rows))
	for i, r := range rows {
		out[i] = directory.Certificate{ID: r.ID, Kind: directory.KeyKind(r.Kind), State: directory.CertificateState(r.State), CertPEM: r.CertPEM, SealedKey: r.SealedKey,
			NotBefore: r.NotBefore.UTC(), NotAfter: r.NotAfter.UTC(), CreatedAt: r.CreatedAt.UTC(), ActivatedAt: optionalTime(r.ActivatedAt)}
	}
	return out, nil
}

// SetCertificateState moves a key pair on in its life.
func (s *Store) SetCertificateState(ctx context.Context, id string, state directory.CertificateState, at time.Time) error {
	query := `UPDATE certificates SET state = ? WHERE id = ?`
	args := []any{string(state), id}
	if state == directory.CertActive {
		query, args = `UPDATE certificates SET state = ?, activated_at = ? WHERE id = ?`, []any{string(state), at, id}
	}
	res, err := s.q.ExecContext(ctx, s.rebind(query), args...)
	if err != nil {
		return s.dialect.wrap(err, "update certificate")
	}
	return expectOne(res, "certificate")
}

// DeleteCertificate deletes a key pair.
func (s *Store) DeleteCertificate(ctx context.Context, id string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM certificates WHERE id = ?`), id)
	if err != nil {
		return s.dialect.wrap(err, "delete certificate")
	}
	return expectOne(res, "certificate")
}

// FindSSOLink returns the person the connection's subject, read from
// attribute ("" for the NameID or OIDC sub), signed in as last; NotFound
// when it never did.
func (s *Store) FindSSOLink(ctx context.Context, connectionID, attribute, subject string) (directory.User, error) {
	// One round trip with the person: every login of a lasting subject asks.
	var row userRow
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+userReadColumns+` FROM users
		WHERE id = (SELECT user_id FROM sso_links WHERE connection_id = ? AND subject_attribute = ? AND subject = ?)`), connectionID, attribute, subject)
	if err != nil {
		return directory.User{}, s.dialect.wrap(err, "find SSO link")
	}
	return row.user(), nil
}

// LinkSSOSubject records that the connection's subject, read from
// attribute, is the person userID, replacing the person's earlier subject
// there (from whichever attribute) and the subject's earlier person. A
// link that a concurrent login of the person (or of the subject) made
// since the delete stays: one row a person and connection holds either
// way, and the next login links again.
func (s *Store) LinkSSOSubject(ctx context.Context, connectionID, attribute, subject, userID string, at time.Time) error {
	return s.within(ctx, func(s *Store) error {
		if _, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM sso_links WHERE connection_id = ? AND ((subject_attribute = ? AND subject = ?) OR user_id = ?)`), connectionID, attribute, subject, userID); err != nil {
			return s.dialect.wrap(err, "unlink SSO subject")
		}
		_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO sso_links (connection_id, subject_attribute, subject, user_id, linked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`), connectionID, attribute, subject, userID, at)
		return s.dialect.wrap(err, "link SSO subject")
	})
}
