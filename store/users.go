package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type userRow struct {
	ID                 string       `db:"id"`
	Email              string       `db:"email"`
	FirstName          string       `db:"first_name"`
	LastName           string       `db:"last_name"`
	PasswordHash       string       `db:"password_hash"`
	PasswordMustChange bool         `db:"password_must_change"`
	PasswordChangedAt  sql.NullTime `db:"password_changed_at"`
	PasswordProven     bool         `db:"password_proven"`
	PasswordSetBy      string       `db:"password_set_by"`
	LastAccountID      string       `db:"last_account_id"`
	DevicesEndedAt     sql.NullTime `db:"devices_ended_at"`
	CreatedAt          time.Time    `db:"created_at"`
	UpdatedAt          time.Time    `db:"updated_at"`
}

const userColumns = `id, email, first_name, last_name, password_hash, password_must_change, password_changed_at, password_proven, password_set_by, created_at, updated_at`

// userReadColumns adds what only reads need.
const userReadColumns = userColumns + `, last_account_id, devices_ended_at`

func (r userRow) user() directory.User {
	u := directory.User{
		ID: r.ID, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName,
		PasswordHash: r.PasswordHash, PasswordMustChange: r.PasswordMustChange, LastAccountID: r.LastAccountID,
		PasswordProven: r.PasswordProven, PasswordSetBy: r.PasswordSetBy,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), PasswordChangedAt: optionalTime(r.PasswordChangedAt),
		DevicesEndedAt: optionalTime(r.DevicesEndedAt),
	}
	return u
}

// FindOrCreateUser inserts u unless its email key is taken, then reads the
// stored user. ON CONFLICT DO NOTHING (rather than catching a unique
// violation) keeps a PostgreSQL transaction usable when another transaction
// creates the same email at the same moment: the insert waits for it and
// then does nothing, and the read sees its row.
func (s *Store) FindOrCreateUser(ctx context.Context, u directory.User) (directory.User, bool, error) {
	// RETURNING gives the new user as stored in the insert's round trip;
	// no row back means the email's user exists, and is read.
	var rows []userRow
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`INSERT INTO users (`+userColumns+`, email_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email_key) DO NOTHING RETURNING `+userReadColumns),
		u.ID, u.Email, u.FirstName, u.LastName, u.PasswordHash, u.PasswordMustChange, u.PasswordChangedAt,
		u.PasswordProven, u.PasswordSetBy, u.CreatedAt, u.UpdatedAt, directory.EmailKey(u.Email))
	if err != nil {
		return directory.User{}, false, s.dialect.wrap(err, "insert user")
	}
	if len(rows) == 1 {
		return rows[0].user(), true, nil
	}
	stored, err := s.FindUserByEmail(ctx, u.Email)
	return stored, false, err
}

// EndDevicesOfUser records that the user's device tokens issued before at
// are no longer honoured.
func (s *Store) EndDevicesOfUser(ctx context.Context, userID string, at time.Time) error {
	if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET devices_ended_at = ? WHERE id = ?`), at, userID); err != nil {
		return s.dialect.wrap(err, "end device tokens")
	}
	return nil
}

// FindUser returns the user with the given ID.
func (s *Store) FindUser(ctx context.Context, id string) (directory.User, error) {
	return s.findUser(ctx, `id = ?`, id)
}

// LockUser returns the user with the id, locking their row until the
// transaction ends (on PostgreSQL; SQLite's writers take turns already):
// what is read is what a change made in the transaction replaces.
func (s *Store) LockUser(ctx context.Context, id string) (directory.User, error) {
	var row userRow
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+userReadColumns+` FROM users u WHERE id = ?`+s.dialect.lockRows("u")), id); err != nil {
		return directory.User{}, s.dialect.wrap(err, "find user")
	}
	return row.user(), nil
}

// FindUserByEmail returns the user with the email, compared case-insensitively.
func (s *Store) FindUserByEmail(ctx context.Context, email string) (directory.User, error) {
	u, err := s.findUser(ctx, `email_key = ?`, directory.EmailKey(strings.TrimSpace(email)))
	if directory.KindOf(err) == directory.NotFound {
		return u, directory.NotFoundError(fmt.Sprintf("no user with email %s", email))
	}
	return u, err
}

func (s *Store) findUser(ctx context.Context, where string, arg any) (directory.User, error) {
	var row userRow
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+userReadColumns+` FROM users WHERE `+where), arg); err != nil {
		return directory.User{}, s.dialect.wrap(err, "find user")
	}
	return row.user(), nil
}

// UpdatePassword stores a new password hash for the user.
func (s *Store) UpdatePassword(ctx context.Context, userID, hash string, mustChange bool, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET password_hash = ?, password_must_change = ?, password_changed_at = ?, updated_at = ? WHERE id = ?`),
		hash, mustChange, at, at, userID)
	if err != nil {
		return s.dialect.wrap(err, "update password")
	}
	return expectOne(res, "user")
}

// SetPasswordOrigin records who vouches for the user's password.
func (s *Store) SetPasswordOrigin(ctx context.Context, userID string, proven bool, setBy string) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET password_proven = ?, password_set_by = ? WHERE id = ?`), proven, setBy, userID)
	if err != nil {
		return s.dialect.wrap(err, "set password origin")
	}
	return expectOne(res, "user")
}

// ReplacePassword stores a new password hash for the user if the stored
// one is still old: of a password change and anything that changed the
// password since old was read, the first wins and the other gets NotFound.
func (s *Store) ReplacePassword(ctx context.Context, userID, old, hash string, mustChange bool, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET password_hash = ?, password_must_change = ?, password_changed_at = ?, updated_at = ?
		WHERE id = ? AND password_hash = ?`), hash, mustChange, at, at, userID, old)
	if err != nil {
		return s.dialect.wrap(err, "replace password")
	}
	return expectOne(res, "user with that password")
}

func expectOne(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %s: %w", what, err)
	}
	if n == 0 {
		return directory.NotFoundError(what + " not found")
	}
	return nil
}

// SetLastAccount remembers the account the user chose.
func (s *Store) SetLastAccount(ctx context.Context, userID, accountID string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET last_account_id = ? WHERE id = ?`), accountID, userID)
	return s.dialect.wrap(err, "set last account")
}

// UpdateUserEmail changes the address a person signs in with, and the
// copies of it that follow the person: the email keys of their memberships
// and the address of their open invitations. Another person's address is
// a Conflict.
func (s *Store) UpdateUserEmail(ctx context.Context, userID, email string, at time.Time) error {
	return s.within(ctx, func(s *Store) error {
		key := directory.EmailKey(email)
		var old string
		if err := sqlx.GetContext(ctx, s.q, &old, s.rebind(`SELECT email_key FROM users WHERE id = ?`), userID); err != nil {
			return s.dialect.wrap(err, "find user email")
		}
		res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET email = ?, email_key = ?, updated_at = ? WHERE id = ?`), email, key, at, userID)
		if err != nil {
			return s.dialect.wrap(err, "update user email")
		}
		if err := expectOne(res, "user"); err != nil {
			return err
		}
		// Members are listed and paged in the order of their email key.
		if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET email_key = ? WHERE user_id = ?`), key, userID); err != nil {
			return s.dialect.wrap(err, "update member email keys")
		}
		// Where no identity provider described the member, their SCIM
		// userName and email are the address they joined with (SCIM shows
		// them so): left behind, the old address still found this person
		// by userName, and was taken for the next person given it. A
		// userName the account already has for someone else stays.
		if _, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET user_name = ?, user_name_key = ?, scim_email = ?, scim_email_key = ?, version = version + 1
			WHERE user_id = ? AND user_name_key = ? AND CAST(scim_attributes AS TEXT) IN ('', '{}')
			AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.account_id = memberships.account_id AND o.user_name_key = ?)`),
			email, key, email, key, userID, old, key); err != nil {
			return s.dialect.wrap(err, "update undescribed SCIM names")
		}
		// An open invitation is mailed, resent and found by its address:
		// left at the old one, a resend sent the link to whoever has that
		// address now, who accepted as this person.
		_, err = s.q.ExecContext(ctx, s.rebind(`UPDATE invitations SET email = ? WHERE user_id = ? AND status IN ('pending', 'undeliverable')`), email, userID)
		return s.dialect.wrap(err, "readdress open invitations")
	})
}

// UpdateUserName changes the user's name and the name keys of their memberships.
func (s *Store) UpdateUserName(ctx context.Context, userID, firstName, lastName string, at time.Time) error {
	return s.within(ctx, func(s *Store) error {
		res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET first_name = ?, last_name = ?, updated_at = ? WHERE id = ?`), firstName, lastName, at, userID)
		if err != nil {
			return s.dialect.wrap(err, "update user name")
		}
		if err := expectOne(res, "user"); err != nil {
			return err
		}
		_, nameKey, lastKey := searchKeys(directory.User{FirstName: firstName, LastName: lastName})
		_, err = s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET name_key = ?, last_key = ? WHERE user_id = ?`), nameKey, lastKey, userID)
		return s.dialect.wrap(err, "update member search keys")
	})
}
