package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/directory"
)

type invitationRow struct {
	ID           string    `db:"id"`
	AccountID    string    `db:"account_id"`
	UserID       string    `db:"user_id"`
	Email        string    `db:"email"`
	Role         string    `db:"role"`
	InviterID    string    `db:"inviter_id"`
	Status       string    `db:"status"`
	TokenHash    string    `db:"token_hash"`
	TokenNonce   string    `db:"token_nonce"`
	Sends        int       `db:"sends"`
	BounceReason string    `db:"bounce_reason"`
	ExpiresAt    time.Time `db:"expires_at"`
	CreatedAt    time.Time `db:"created_at"`
	UpdatedAt    time.Time `db:"updated_at"`
}

const invitationColumns = `id, account_id, user_id, email, role, inviter_id, status, token_hash, token_nonce, sends, bounce_reason, expires_at, created_at, updated_at`

func (r invitationRow) invitation() directory.Invitation {
	return directory.Invitation{
		ID: r.ID, AccountID: r.AccountID, UserID: r.UserID, Email: r.Email, Role: directory.Role(r.Role), InviterID: r.InviterID,
		Status: directory.InvitationStatus(r.Status), TokenHash: r.TokenHash, TokenNonce: r.TokenNonce, Sends: r.Sends,
		BounceReason: r.BounceReason, ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// CreateInvitation stores a new invitation.
func (s *Store) CreateInvitation(ctx context.Context, inv directory.Invitation) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`INSERT INTO invitations (`+invitationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		inv.ID, inv.AccountID, inv.UserID, inv.Email, string(inv.Role), inv.InviterID, string(inv.Status), inv.TokenHash, inv.TokenNonce,
		inv.Sends, inv.BounceReason, inv.ExpiresAt, inv.CreatedAt, inv.UpdatedAt)
	return s.dialect.wrap(err, "insert invitation")
}

// UpdateInvitation saves an invitation's status, token, sends, bounce and expiry.
func (s *Store) UpdateInvitation(ctx context.Context, inv directory.Invitation) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE invitations SET status = ?, token_hash = ?, token_nonce = ?, sends = ?,
		bounce_reason = ?, expires_at = ?, updated_at = ? WHERE id = ?`),
		string(inv.Status), inv.TokenHash, inv.TokenNonce, inv.Sends, inv.BounceReason, inv.ExpiresAt, inv.UpdatedAt, inv.ID)
	if err != nil {
		return s.dialect.wrap(err, "update invitation")
	}
	return expectOne(res, "invitation")
}

func (s *Store) findInvitation(ctx context.Context, where string, args ...any) (directory.Invitation, error) {
	var row invitationRow
	if err := sqlx.GetContext(ctx, s.q, &row, s.rebind(`SELECT `+invitationColumns+` FROM invitations WHERE `+where), args...); err != nil {
		return directory.Invitation{}, s.dialect.wrap(err, "find invitation")
	}
	return row.invitation(), nil
}

// FindInvitation returns the invitation with the given ID.
func (s *Store) FindInvitation(ctx context.Context, id string) (directory.Invitation, error) {
	return s.findInvitation(ctx, `id = ?`, id)
}

// FindInvitationByTokenHash returns the invitation whose current token has that hash.
func (s *Store) FindInvitationByTokenHash(ctx context.Context, hash string) (directory.Invitation, error) {
	return s.findInvitation(ctx, `token_hash = ?`, hash)
}

// FindOpenInvitation returns the person's pending or undeliverable invitation to the account.
func (s *Store) FindOpenInvitation(ctx context.Context, accountID, userID string) (directory.Invitation, error) {
	return s.findInvitation(ctx, `account_id = ? AND user_id = ? AND status IN ('pending', 'undeliverable')`, accountID, userID)
}

// FindOpenInvitationsOfUser returns the person's pending or undeliverable
// invitations, to every account.
func (s *Store) FindOpenInvitationsOfUser(ctx context.Context, userID string) ([]directory.Invitation, error) {
	var rows []invitationRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+invitationColumns+` FROM invitations
		WHERE user_id = ? AND status IN ('pending', 'undeliverable') ORDER BY created_at, id`), userID); err != nil {
		return nil, s.dialect.wrap(err, "find a person's open invitations")
	}
	out := make([]directory.Invitation, len(rows))
	for i, r := range rows {
		out[i] = r.invitation()
	}
	return out, nil
}

// FindUndeliverableInvitations returns the open invitations to the
// account of those of userIDs whose email bounced (invitations_open holds
// at most one open invitation a person, and serves the lookup).
func (s *Store) FindUndeliverableInvitations(ctx context.Context, accountID string, userIDs []string) ([]directory.Invitation, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	q, args, err := sqlx.In(`SELECT `+invitationColumns+` FROM invitations WHERE account_id = ? AND status = 'undeliverable' AND user_id IN (?)`, accountID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("build undeliverable invitations query: %w", err)
	}
	var rows []invitationRow
	if err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(q), args...); err != nil {
		return nil, s.dialect.wrap(err, "find undeliverable invitations")
	}
	out := make([]directory.Invitation, len(rows))
	for i, r := range rows {
		out[i] = r.invitation()
	}
	return out, nil
}

// FindInvitationIDs returns the ids of the person's invitations to the
// account, newest first, at most limit (the invitations_user index).
func (s *Store) FindInvitationIDs(ctx context.Context, accountID, userID string, limit int) ([]string, error) {
	var ids []string
	err := sqlx.SelectContext(ctx, s.q, &ids, s.rebind(`SELECT id FROM invitations WHERE user_id = ? AND account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`), userID, accountID, limit)
	if err != nil {
		return nil, s.dialect.wrap(err, "find invitation ids")
	}
	return ids, nil
}

// FindInvitations returns the account's invitations, newest first.
func (s *Store) FindInvitations(ctx context.Context, accountID string) ([]directory.Invitation, error) {
	var rows []invitationRow
	err := sqlx.SelectContext(ctx, s.q, &rows, s.rebind(`SELECT `+invitationColumns+` FROM invitations WHERE account_id = ? ORDER BY created_at DESC, id DESC`), accountID)
	if err != nil {
		return nil, s.dialect.wrap(err, "find invitations")
	}
	out := make([]directory.Invitation, len(rows))
	for i, r := range rows {
		out[i] = r.invitation()
	}
	return out, nil
}

// AcceptInvitation marks an open invitation accepted if its token is still
// the one given: two acceptances racing each other cannot both win.
func (s *Store) AcceptInvitation(ctx context.Context, id, tokenHash string, at time.Time) error {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE invitations SET status = 'accepted', updated_at = ?
		WHERE id = ? AND token_hash = ? AND status IN ('pending', 'undeliverable')`), at, id, tokenHash)
	if err != nil {
		return s.dialect.wrap(err, "accept invitation")
	}
	return expectOne(res, "open invitation")
}

// SetProfileAndPassword sets the name and first password of a user who has
// no password yet, and the name keys of all the user's memberships. The
// password is proven: it comes through an emailed link.
func (s *Store) SetProfileAndPassword(ctx context.Context, userID, firstName, lastName, hash string, at time.Time) error {
	return s.within(ctx, func(s *Store) error {
		res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE users SET first_name = ?, last_name = ?, password_hash = ?,
			password_must_change = ?, password_changed_at = ?, password_proven = ?, password_set_by = '', updated_at = ?
			WHERE id = ? AND password_hash = ''`),
			firstName, lastName, hash, false, at, true, at, userID)
		if err != nil {
			return s.dialect.wrap(err, "set profile and password")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return directory.ConflictError("this person has set a password in the meantime; sign in with it")
		}
		_, nameKey, lastKey := searchKeys(directory.User{FirstName: firstName, LastName: lastName})
		_, err = s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET name_key = ?, last_key = ? WHERE user_id = ?`), nameKey, lastKey, userID)
		return s.dialect.wrap(err, "update member search keys")
	})
}

// ActivateMembership makes an invited membership active.
func (s *Store) ActivateMembership(ctx context.Context, accountID, userID string, at time.Time) (directory.Membership, error) {
	res, err := s.q.ExecContext(ctx, s.rebind(`UPDATE memberships SET status = 'active', updated_at = ?
		WHERE account_id = ? AND user_id = ? AND status = 'invited'`), at, accountID, userID)
	if err != nil {
		return directory.Membership{}, s.dialect.wrap(err, "activate membership")
	}
	if err := expectOne(res, "invited membership"); err != nil {
		return directory.Membership{}, fmt.Errorf("activate membership: %w", err)
	}
	return s.FindMembership(ctx, accountID, userID)
}

// DeleteInvitedMembership removes a membership that is still only invited.
func (s *Store) DeleteInvitedMembership(ctx context.Context, accountID, userID string) error {
	_, err := s.q.ExecContext(ctx, s.rebind(`DELETE FROM memberships WHERE account_id = ? AND user_id = ? AND status = 'invited'`), accountID, userID)
	return s.dialect.wrap(err, "delete invited membership")
}
