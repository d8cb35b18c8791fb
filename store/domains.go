package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type domainRow struct {
	AccountID  string       `db:"account_id"`
	Name       string       `db:"domain"`
	Challenge  string       `db:"challenge"`
	VerifiedAt sql.NullTime `db:"verified_at"`
	VerifiedBy string       `db:"verified_by"`
	CreatedAt  time.Time    `db:"created_at"`
}

const domainColumns = `account_id, domain, challenge, verified_at, verified_by, created_at`

func (r domainRow) domain() directory.Domain {
	return directory.Domain{
		AccountID: r.AccountID, Name: r.Name, Challenge: r.Challenge, VerifiedAt: optionalTime(r.VerifiedAt),
		VerifiedBy: directory.DomainProof(r.VerifiedBy), CreatedAt: r.CreatedAt.UTC(),
	}
}

// AddDomain stores an account's claim of a domain. The unique index over
// verified domains makes a second verified holder a Conflict.
func (s *Store) AddDomain(ctx context.Context, d directory.Domain) error {
	var verifiedAt any
	if d.VerifiedAt != nil {
		verifiedAt = *d.VerifiedAt
	}
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO domains (`+domainColumns+`) VALUES (?, ?, ?, ?, ?, ?)`),
		d.AccountID, d.Name, d.Challenge, verifiedAt, string(d.VerifiedBy), d.CreatedAt)
	return s.dialect.wrap(err, "insert domain")
}

// FindDomain returns the account's claim of a domain.
func (s *Store) FindDomain(ctx context.Context, accountID, name string) (directory.Domain, error) {
	var row domainRow
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+domainColumns+` FROM domains WHERE account_id = ? AND domain = ?`), accountID, name)
	if err != nil {
		return directory.Domain{}, s.dialect.wrap(err, "find domain")
	}
	return row.domain(), nil
}

// FindDomains returns the account's domains ordered by name.
func (s *Store) FindDomains(ctx context.Context, accountID string) ([]directory.Domain, error) {
	var rows []domainRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+domainColumns+` FROM domains WHERE account_id = ? ORDER BY domain`), accountID); err != nil {
		return nil, s.dialect.wrap(err, "find domains")
	}
	out := make([]directory.Domain, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// VerifyDomain marks a pending claim verified.
func (s *Store) VerifyDomain(ctx context.Context, accountID, name string, proof directory.DomainProof, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE domains SET verified_at = ?, verified_by = ? WHERE account_id = ? AND domain = ?`),
		at, string(proof), accountID, name)
	if err != nil {
		return s.dialect.wrap(err, "verify domain")
	}
	return expectOne(res, "domain")
}

// FindMembersWithPlantedPasswords returns the account's members in the
// domain whose unproven password another account set. The suffix match
// scans the account's memberships, once, when a domain is verified.
func (s *Store) FindMembersWithPlantedPasswords(ctx context.Context, accountID, domain string) ([]directory.User, error) {
	var rows []userRow
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+prefixed("u.", userReadColumns)+` FROM users u
		JOIN memberships m ON m.user_id = u.id
		WHERE m.account_id = ? AND m.email_key LIKE ? AND u.password_hash <> '' AND u.password_proven = ? AND u.password_set_by <> ?`),
		accountID, "%@"+domain, false, accountID)
	if err != nil {
		return nil, s.dialect.wrap(err, "find planted passwords")
	}
	out := make([]directory.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// DeleteDomain removes the account's claim of a domain.
func (s *Store) DeleteDomain(ctx context.Context, accountID, name string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM domains WHERE account_id = ? AND domain = ?`), accountID, name)
	if err != nil {
		return s.dialect.wrap(err, "delete domain")
	}
	return expectOne(res, "domain")
}

// prefixed qualifies each of a comma-separated column list with p ("u.").
func prefixed(p, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
