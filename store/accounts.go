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

type accountRow struct {
	ID             string    `db:"id"`
	Slug           string    `db:"slug"`
	Name           string    `db:"name"`
	Branding       []byte    `db:"branding"`
	PasswordPolicy []byte    `db:"password_policy"`
	SignInPolicy   []byte    `db:"sign_in_policy"`
	CreatedAt      time.Time `db:"created_at"`
	UpdatedAt      time.Time `db:"updated_at"`
}

const accountColumns = `id, slug, name, branding, password_policy, sign_in_policy, created_at, updated_at`

func (s *Store) rebind(query string) string { return s.q.Rebind(query) }

// CreateAccount stores a new account; its domains are added with AddDomain.
func (s *Store) CreateAccount(ctx context.Context, a directory.Account) error {
	return s.within(ctx, func(s *Store) error {
		branding, policy, signIn, err := encodeAccount(a)
		if err != nil {
			return err
		}
		_, err = s.q.ExecContext(ctx, s.rebind(`INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			a.ID, a.Slug, a.Name, branding, policy, signIn, a.CreatedAt, a.UpdatedAt)
		if err != nil {
			return s.dialect.wrap(err, "insert account")
		}
		return nil
	})
}

// encodeAccount returns the JSON columns as strings: lib/pq would send
// []byte as bytea, which PostgreSQL will not take for jsonb.
func encodeAccount(a directory.Account) (branding, policy, signIn string, err error) {
	b, err := json.Marshal(a.Branding)
	if err != nil {
		return "", "", "", fmt.Errorf("encode branding: %w", err)
	}
	p, err := json.Marshal(a.PasswordPolicy)
	if err != nil {
		return "", "", "", fmt.Errorf("encode password policy: %w", err)
	}
	si, err := json.Marshal(a.SignIn)
	if err != nil {
		return "", "", "", fmt.Errorf("encode sign-in policy: %w", err)
	}
	return string(b), string(p), string(si), nil
}

// UpdateAccount saves the account's name, branding, password and sign-in policies.
func (s *Store) UpdateAccount(ctx context.Context, a directory.Account) error {
	branding, policy, signIn, err := encodeAccount(a)
	if err != nil {
		return err
	}
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE accounts SET name = ?, branding = ?, password_policy = ?, sign_in_policy = ?, updated_at = ? WHERE id = ?`),
		a.Name, branding, policy, signIn, a.UpdatedAt, a.ID)
	if err != nil {
		return s.dialect.wrap(err, "update account")
	}
	return expectOne(res, "account")
}

// FindAccount returns the account with the given ID. An account being
// deleted is found by none of the Find methods (FindAccountToDelete finds
// it): that is what keeps everyone out of it while its rows go.
func (s *Store) FindAccount(ctx context.Context, id string) (directory.Account, error) {
	return s.findAccount(ctx, `id = ?`, id)
}

// FindAccountBySlug returns the account with the given slug.
func (s *Store) FindAccountBySlug(ctx context.Context, slug string) (directory.Account, error) {
	a, err := s.findAccount(ctx, `slug = ?`, slug)
	if directory.KindOf(err) == directory.NotFound {
		return a, directory.NotFoundError(fmt.Sprintf("no account %q", slug))
	}
	return a, err
}

// findAccount reads one account with its verified domains in one query:
// many requests read their account (a SCIM create, every SCIM PATCH), and
// each round trip is most of a query's cost. string_agg is in PostgreSQL
// and in SQLite since 3.44.
func (s *Store) findAccount(ctx context.Context, where string, arg any) (directory.Account, error) {
	var row struct {
		accountRow
		Domains sql.NullString `db:"verified_domains"`
	}
	err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+accountColumns+`,
		(SELECT string_agg(d.domain, ',') FROM domains d WHERE d.account_id = accounts.id AND d.verified_at IS NOT NULL) AS verified_domains
		FROM accounts WHERE deleting_at IS NULL AND `+where), arg)
	if err != nil {
		return directory.Account{}, s.dialect.wrap(err, "find account")
	}
	a, err := row.account()
	if err != nil {
		return directory.Account{}, err
	}
	if row.Domains.Valid && row.Domains.String != "" {
		a.Domains = strings.Split(row.Domains.String, ",")
		slices.Sort(a.Domains)
	}
	return a, nil
}

// FindAccountByDomain returns the account that owns an email domain.
func (s *Store) FindAccountByDomain(ctx context.Context, domain string) (directory.Account, error) {
	return s.findAccount(ctx, `id = (SELECT account_id FROM domains WHERE domain = ? AND verified_at IS NOT NULL)`, domain)
}

// FindAccounts returns every account ordered by slug.
func (s *Store) FindAccounts(ctx context.Context) ([]directory.Account, error) {
	var rows []accountRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, `SELECT `+accountColumns+` FROM accounts WHERE deleting_at IS NULL ORDER BY slug`); err != nil {
		return nil, s.dialect.wrap(err, "find accounts")
	}
	return s.withDomains(ctx, rows)
}

// withDomains decodes rows and attaches their verified domains with one query.
// account decodes a row, without its domains.
func (r accountRow) account() (directory.Account, error) {
	a := directory.Account{ID: r.ID, Slug: r.Slug, Name: r.Name, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if err := json.Unmarshal(r.Branding, &a.Branding); err != nil {
		return a, fmt.Errorf("decode branding of account %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.PasswordPolicy, &a.PasswordPolicy); err != nil {
		return a, fmt.Errorf("decode password policy of account %s: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.SignInPolicy, &a.SignIn); err != nil {
		return a, fmt.Errorf("decode sign-in policy of account %s: %w", r.ID, err)
	}
	return a, nil
}

func (s *Store) withDomains(ctx context.Context, rows []accountRow) ([]directory.Account, error) {
	out := make([]directory.Account, len(rows))
	index := make(map[string]int, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		a, err := r.account()
		if err != nil {
			return nil, err
		}
		out[i], index[r.ID], ids[i] = a, i, r.ID
	}
	if len(ids) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In(`SELECT domain, account_id FROM domains WHERE account_id IN (?) AND verified_at IS NOT NULL ORDER BY domain`, ids)
	if err != nil {
		return nil, fmt.Errorf("build domain query: %w", err)
	}
	var domains []struct {
		Domain    string `db:"domain"`
		AccountID string `db:"account_id"`
	}
	if err := sqlx.SelectContext(ctx, s.q, &domains, s.rebind(query), args...); err != nil {
		return nil, s.dialect.wrap(err, "find account domains")
	}
	for _, d := range domains {
		a := &out[index[d.AccountID]]
		a.Domains = append(a.Domains, d.Domain)
	}
	return out, nil
}

// CreateRole adds one of the account's own roles.
func (s *Store) CreateRole(ctx context.Context, accountID string, role directory.Role, at time.Time) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO account_roles (account_id, name, created_at) VALUES (?, ?, ?)`), accountID, string(role), at)
	return s.dialect.wrap(err, "insert role")
}

// FindRoles returns the account's own roles ordered by name.
func (s *Store) FindRoles(ctx context.Context, accountID string) ([]directory.Role, error) {
	var roles []directory.Role
	err := sqlx.SelectContext(ctx, s.q, &roles, s.rebind(`SELECT name FROM account_roles WHERE account_id = ? ORDER BY name`), accountID)
	return roles, s.dialect.wrap(err, "find roles")
}
