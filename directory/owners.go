package directory

import (
	"context"
	"fmt"
	"slices"
)

// OwnerStore is the persistence the last-owner rule needs.
type OwnerStore interface {
	// LockOwners returns the user ids of the account's active owners, in
	// user id order, their memberships held until the transaction ends
	// (PostgreSQL; SQLite's transactions hold the write lock already).
	LockOwners(ctx context.Context, accountID string) ([]string, error)
	// CountOwners returns the number of active owners of every account
	// that has one, by account id, reading the owners only (not every
	// membership of every account).
	CountOwners(ctx context.Context) (map[string]int, error)
}

// OwnerCounts returns how many active owners each account has, by account
// id; an account without one is absent (0). An account may have none: an
// identity provider's deprovisioning (SCIM) may remove the last owner on
// purpose (keep), and only an operator then names the next one.
func (s *Service) OwnerCounts(ctx context.Context) (map[string]int, error) {
	n, err := s.store.CountOwners(ctx)
	if err != nil {
		return nil, fmt.Errorf("count owners: %w", err)
	}
	return n, nil
}

// owners are an account's active owners, their memberships locked by
// lockOwners: none of them stops being one before the transaction ends.
type owners []string

// lockOwners locks the account's active owners for a change by an admin
// that may take one of them away (a demotion, a deactivation, a removal).
//
// It runs before the transaction locks any other membership, and locks
// them in one order (user id): two admins each taking away one of the last
// two owners then take turns, and the second finds one owner left, rather
// than each counting on the other (or the two deadlocking, as when each
// locked their target first). A deletion's mark of the account (FOR UPDATE
// on its row) takes no membership lock, and record's hold of the account
// (FOR KEY SHARE) comes after, as it did: no new wait turns into a cycle.
func lockOwners(ctx context.Context, tx Store, accountID string) (owners, error) {
	ids, err := tx.LockOwners(ctx, accountID)
	return owners(ids), err
}

// lockOwnersFor is lockOwners for a change to the member peek reads
// (without a lock), only when they are an active owner: nil, locking
// nothing, when they are not, or not found. Most changes are to members
// who are no owner, and they need not wait on the owners' locks (nor make
// an owner's change wait on theirs); finding the owners is cheap since
// migration 00057's index of them (it read every active membership of the
// account before: 100 ms and more in one of 100,000 members on SQLite).
// The change checks the member again once locked (lockOwnersAgain).
func lockOwnersFor(ctx context.Context, tx Store, accountID string, peek func() (Member, error)) (owners, error) {
	m, err := peek()
	if KindOf(err) == NotFound || (err == nil && !activeOwner(m)) {
		return nil, nil // the change finds the member, or says who is not found
	}
	if err != nil {
		return nil, err
	}
	return lockOwners(ctx, tx, accountID)
}

// lockOwnersAgain locks the owners for the member m, read and locked,
// when lockOwnersFor did not: m became an active owner in between (made
// one, or reactivated). Locking after m breaks the one order, so two such
// changes at once may deadlock; PostgreSQL then ends one, and Tx runs it
// again, which locks the owners first.
func (o owners) lockOwnersAgain(ctx context.Context, tx Store, accountID string, m Member) (owners, error) {
	if o != nil || !activeOwner(m) {
		return o, nil
	}
	return lockOwners(ctx, tx, accountID)
}

func activeOwner(m Member) bool {
	return m.Membership.Role == RoleOwner && m.Membership.Status == StatusActive
}

// keep refuses (Conflict) the change that would take m, read and locked
// after lockOwners, out of the account's active owners (what says how)
// when no other active owner is left. The account would have no one to
// answer for it, nor to name the next owner but an operator.
//
// Only admins' changes ask (console, API keys, operators, the command
// line). An identity provider's deprovisioning (SCIM) always goes through,
// as do a person's own choices and the account's deletion; erasure asks
// with its own override (ErasePerson's OrphanOK).
func (o owners) keep(m Member, what string) error {
	if !activeOwner(m) {
		return nil
	}
	if slices.ContainsFunc(o, func(id string) bool { return id != m.User.ID }) {
		return nil
	}
	return ConflictError(fmt.Sprintf("%s is the last active owner of this account: %s them would leave it without one. Make another member an owner first, or delete the account.", m.User.Email, what))
}
