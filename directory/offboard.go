package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Offboarding: erasing a person (the right to erasure) and deleting an
// account that left the platform. Both are the operators' (the command
// line, or an operator's API key).

// EventUserDeleted announces that a person was erased: every account
// where they held a membership gets one, after its membership.deleted.
const EventUserDeleted = "user.deleted"

// Reasons a user.deleted event gives.
const (
	DeletedByErasure   = "erasure"         // an operator erased the person
	DeletedWithAccount = "account_deleted" // their home account was deleted
)

// DefaultAccountChunk is how many rows or members one transaction of an
// account's deletion takes. Erasing a member is the costliest step (a
// user row whose delete cascades through a dozen tables, three audit
// events, two outbox messages): about 3 ms on SQLite and 6 ms on
// PostgreSQL here, so a chunk holds its transaction for well under a
// second (docs/operations.md has the measurements).
const DefaultAccountChunk = 100

// MaxAccountChunk bounds a chunk: at about 6 ms a member on PostgreSQL,
// 10,000 hold one transaction for about a minute, and more would bring
// back the long transaction that chunks are there to avoid.
const MaxAccountChunk = 10_000

// OffboardStore is the persistence that offboarding needs beyond the
// rest of Store.
type OffboardStore interface {
	// FindAccountToDelete finds the account by slug, also when its
	// deletion has started (deleting), which no other Find does.
	FindAccountToDelete(ctx context.Context, slug string) (a Account, deleting bool, err error)
	// MarkAccountDeleting hides the account from every other Find; on
	// PostgreSQL it locks the account's row until the transaction ends.
	MarkAccountDeleting(ctx context.Context, accountID string, at time.Time) error
	// DeleteAccountRows deletes up to limit of the account's rows other
	// than its memberships, domains and own row, of the first kind from
	// the from'th on that has any; it returns that kind's place (from, for
	// the next call) and how many it deleted, 0 when none is left.
	DeleteAccountRows(ctx context.Context, accountID string, from, limit int) (at, deleted int, err error)
	// FindMemberIDs returns up to limit user ids of the account's members.
	FindMemberIDs(ctx context.Context, accountID string, limit int) ([]string, error)
	// FinishAccountDeletion deletes a deleting account's row and domains;
	// Conflict when a member is left (one arrived after the last chunk).
	FinishAccountDeletion(ctx context.Context, accountID string) error
	// DeleteUser deletes the user and everything that is theirs; where
	// their email names who did something, pseudonym replaces it.
	DeleteUser(ctx context.Context, u User, pseudonym string) error
	// FindEveryMembershipOfUser is FindMembershipsOfUser with the
	// memberships of accounts being deleted, which it leaves out.
	FindEveryMembershipOfUser(ctx context.Context, userID string) ([]Membership, error)
	// FindAuditEventsNaming returns the audit events, in every account,
	// whose target or actor is the user (ID, actor, target and data only).
	FindAuditEventsNaming(ctx context.Context, userID string) ([]AuditEvent, error)
	// HasOtherOwner reports whether the account has an active owner
	// other than the user; on PostgreSQL it locks the one it found, so
	// that two owners erased at once do not each count on the other.
	HasOtherOwner(ctx context.Context, accountID, userID string) (bool, error)
	RewriteAuditEvent(ctx context.Context, id, actorName string, data []byte) error
	// RedactImportRows replaces the email, in every import's stored rows,
	// by pseudonym, and the names on its lines, keeping every line and
	// outcome, and in file names of imports (and of their audit events)
	// that hold it. It reads every import's rows.
	RedactImportRows(ctx context.Context, email, pseudonym string) error
}

// Pseudonym is what stands for an erased person where the records keep
// what they did or what was done to them: their user id, which names no
// one once the user row is gone.
func Pseudonym(userID string) string { return "erased:" + userID }

// Erasure is what erasing a person did.
type Erasure struct {
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	Accounts    []string `json:"accounts"`     // slugs of the accounts they left
	AuditEvents int      `json:"audit_events"` // audit events pseudonymized
	// UploadsDiscarded counts the files uploaded for an import, in any
	// account, that were discarded before their import started.
	UploadsDiscarded int `json:"uploads_discarded"`
	// Orphaned are the accounts they were the last active owner of,
	// left without one (EraseOptions.OrphanOK).
	Orphaned []string `json:"orphaned,omitempty"`
}

// EraseOptions are an operator's choices for an erasure.
type EraseOptions struct {
	// OrphanOK erases the last active owner of an account too, leaving it
	// without one (an operator then names a new owner). Without it such an
	// erasure is refused: erasure is a legal duty and must stay possible,
	// but not leave an account that nobody administers unnoticed.
	OrphanOK bool
}

// ErasePerson erases the person with the email (GDPR Art. 17): their user
// row and everything that is theirs, in one transaction. Each account
// they belonged to gets membership.deleted and user.deleted (the events
// carry the email, so that receivers find their own copy to erase); the
// audit events that name them stay, with the email and name replaced by
// Pseudonym. Only operators erase: no account's admin answers for a person
// in every account (rule 10 is about changing a person, not ending them).
//
// who is the person's email, or their user id (what events carry). When
// they are the last active owner of an account (not one being deleted),
// the erasure is refused (Conflict, naming the accounts) unless
// opts.OrphanOK.
func (s *Service) ErasePerson(ctx context.Context, actor Actor, who string, opts EraseOptions) (Erasure, error) {
	find := func(tx Store) (User, error) { return tx.FindUser(ctx, strings.TrimSpace(who)) }
	missing := fmt.Sprintf("there is no user with id %q", truncate(strings.TrimSpace(who), 60))
	if strings.Contains(who, "@") {
		e, err := NormalizeEmail(who)
		if err != nil {
			return Erasure{}, err
		}
		find = func(tx Store) (User, error) { return tx.FindUserByEmail(ctx, e) }
		missing = fmt.Sprintf("there is no user %s", e)
	}
	if !lookupable(who) {
		// PostgreSQL refuses such text outright (an error, not no rows).
		return Erasure{}, NotFoundError(missing)
	}
	var out Erasure
	err := s.store.Tx(ctx, func(tx Store) error {
		u, err := find(tx)
		if KindOf(err) == NotFound {
			return NotFoundError(missing)
		}
		if err != nil {
			return err
		}
		out, err = s.erase(ctx, tx, actor, u, DeletedByErasure, opts.OrphanOK)
		return err
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("erase person: %w", err)
	}
	return out, nil
}

// erase erases u inside tx; see ErasePerson. orphanOK lets it erase the
// last active owner of an account.
func (s *Service) erase(ctx context.Context, tx Store, actor Actor, u User, reason string, orphanOK bool) (Erasure, error) {
	out := Erasure{UserID: u.ID, Email: u.Email, Accounts: []string{}}
	pseudonym := Pseudonym(u.ID)
	ms, err := lockPerson(ctx, tx, u.ID)
	if err != nil {
		return out, err
	}
	for _, m := range ms {
		// An account being deleted is found by FindAccount no more; its
		// slug is only for the report, and it needs no owner.
		a, err := tx.FindAccount(ctx, m.AccountID)
		if KindOf(err) == NotFound {
			continue
		} else if err != nil {
			return out, err
		}
		out.Accounts = append(out.Accounts, a.Slug)
		if m.Role != RoleOwner || m.Status != StatusActive {
			continue
		}
		if other, err := tx.HasOtherOwner(ctx, m.AccountID, u.ID); err != nil {
			return out, err
		} else if !other {
			out.Orphaned = append(out.Orphaned, a.Slug)
		}
	}
	if len(out.Orphaned) > 0 && !orphanOK {
		return out, ConflictError(fmt.Sprintf("%s is the last active owner of %s: name another owner there first, or erase them anyway, leaving it without one (orphan_ok)",
			u.Email, strings.Join(out.Orphaned, ", ")))
	}
	for _, m := range ms {
		if err := s.endAppAccess(ctx, tx, m.AccountID, u.ID); err != nil {
			return out, err
		}
		// The audit events keep what happened and to whom (the user id),
		// never the email, like every older event of the person's below.
		if err := s.record(ctx, tx, change{
			accountID: m.AccountID, actor: actor, action: "membership.deleted", targetType: "membership", targetID: u.ID,
			data:   map[string]any{"email": pseudonym, "role": m.Role, "status": m.Status, "reason": reason},
			events: []publication{membershipEvent(EventMembershipDeleted, u.Email, m)},
			aside:  true,
		}); err != nil {
			return out, err
		}
		if err := s.record(ctx, tx, change{
			accountID: m.AccountID, actor: actor, action: EventUserDeleted, targetType: "user", targetID: u.ID,
			data:   map[string]any{"email": pseudonym, "reason": reason},
			events: []publication{userDeletedEvent(u, reason)},
			aside:  true,
		}); err != nil {
			return out, err
		}
	}
	events, err := tx.FindAuditEventsNaming(ctx, u.ID)
	if err != nil {
		return out, err
	}
	// SCIM's events are about the person; those recorded before they
	// were named the membership by its SCIM id instead.
	theirs := map[string]bool{u.ID: true}
	for _, m := range ms {
		theirs[m.ID] = true
	}
	for _, ev := range events {
		name, data, changed := pseudonymize(ev, u, theirs[ev.TargetID], pseudonym)
		if !changed {
			continue
		}
		if err := tx.RewriteAuditEvent(ctx, ev.ID, name, data); err != nil {
			return out, err
		}
		out.AuditEvents++
	}
	// Import reports keep the lines as uploaded. An operator's erasure
	// reads them all; an account's deletion, which erases many people a
	// chunk at a time, has deleted its own imports already and reads none
	// (a person whose only account and home it was is in another's report
	// only if that import refused them or they left it since).
	if reason == DeletedByErasure {
		// A file uploaded for an import that has not started is bytes
		// in a spreadsheet format only bulk reads, in any account (an
		// admin may be about to import someone who never was a member),
		// and the column holding the address is chosen only at the
		// preview. So every waiting upload goes: erasures are rare, a
		// waiting upload lives an hour at most, and uploading it again
		// takes seconds; the console tells its admin why it went. Discarded
		// before the reports are read: on PostgreSQL an import taking its
		// upload meanwhile holds the row (DeleteImportUpload) and the
		// discard waits for it, so the reports read next have its rows.
		n, err := tx.DiscardImportUploads(ctx, UploadErasure, time.Time{})
		if err != nil {
			return out, err
		}
		out.UploadsDiscarded = int(n)
		if err := tx.RedactImportRows(ctx, u.Email, pseudonym); err != nil {
			return out, err
		}
	}
	if err := tx.DeleteUser(ctx, u, pseudonym); err != nil {
		return out, err
	}
	// The installation's own record (no account), which outlives every
	// account the person was in.
	return out, s.record(ctx, tx, change{
		actor: actor, action: "user.erased", targetType: "user", targetID: u.ID,
		data: map[string]any{"email": pseudonym, "reason": reason, "accounts": out.Accounts, "orphaned": out.Orphaned, "uploads_discarded": out.UploadsDiscarded},
	})
}

// lockPerson locks the user's row and then each of their memberships, and
// returns the memberships as they are once locked. On PostgreSQL a
// change to the person under way (a SCIM PATCH holds their membership, an
// add to another account their user) finishes first, so that what it
// wrote is read after it (its audit event pseudonymized, its membership
// announced); and none starts until the erasure is done (then it finds
// them gone). Without it, an audit event that a SCIM PATCH committed
// while the erasure ran kept the erased email.
func lockPerson(ctx context.Context, tx Store, userID string) ([]Membership, error) {
	if _, err := tx.LockUser(ctx, userID); err != nil {
		return nil, err
	}
	ms, err := tx.FindEveryMembershipOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if _, err := tx.LockMembership(ctx, m.AccountID, userID); err != nil {
			return nil, err
		}
	}
	if len(ms) == 0 {
		return ms, nil
	}
	// Read again: a change that finished while we waited may have changed
	// a status, or ended a membership.
	return tx.FindEveryMembershipOfUser(ctx, userID)
}

func userDeletedEvent(u User, reason string) publication {
	return publication{typ: EventUserDeleted, subject: u.ID, data: map[string]any{
		"user_id": u.ID, "email": u.Email, "reason": reason,
	}}
}

// personalKeys are the audit data fields that hold a person's name or
// email: in an event about the erased person they are theirs.
var personalKeys = map[string]bool{
	"email": true, "previous_email": true, "first_name": true, "last_name": true,
	"given_name": true, "family_name": true, "display_name": true, "name": true,
	"user_name": true, "external_id": true, // SCIM's: the identity provider's names for them
}

// pseudonymize returns ev's actor name and data with the person u no
// longer named: their email anywhere becomes pseudonym; in an event about
// them (about: its target is them or one of their memberships) every
// name, email or identifier field does. changed is false when nothing
// named them.
func pseudonymize(ev AuditEvent, u User, about bool, pseudonym string) (string, []byte, bool) {
	name, changed := ev.Actor.Name, false
	if ev.Actor.ID == u.ID || strings.EqualFold(name, u.Email) {
		name, changed = pseudonym, name != pseudonym
	}
	var data any
	if len(ev.Data) == 0 || json.Unmarshal(ev.Data, &data) != nil {
		return name, ev.Data, changed
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch v := v.(type) {
		case string:
			if strings.EqualFold(v, u.Email) || (about && personalKeys[key] && v != "" && v != pseudonym) {
				changed = true
				if strings.Contains(key, "name") && !strings.EqualFold(v, u.Email) {
					return ""
				}
				return pseudonym
			}
		case map[string]any:
			for k, x := range v {
				v[k] = walk(k, x)
			}
		case []any:
			for i, x := range v {
				v[i] = walk(key, x)
			}
		}
		return v
	}
	data = walk("", data)
	if !changed {
		return name, ev.Data, false
	}
	out, err := json.Marshal(data)
	if err != nil {
		return name, ev.Data, changed
	}
	return name, out, true
}

// AccountDeletion is the progress of an account's deletion.
type AccountDeletion struct {
	AccountID    string `json:"account_id"`
	Slug         string `json:"slug"`
	Resumed      bool   `json:"resumed"`      // an earlier run had started it
	Rows         int    `json:"rows"`         // account-scoped rows deleted (besides memberships)
	Memberships  int    `json:"memberships"`  // memberships deleted, each announced
	Erased       int    `json:"erased"`       // people erased: the account was their only one, and their home or no one's
	Kept         int    `json:"kept"`         // people who keep their user (they belong elsewhere, answer to another account, or are operators)
	Done         bool   `json:"done"`         // the account's row is gone
	Transactions int    `json:"transactions"` // transactions it took
}

// DeleteAccount deletes the account with the slug and everything in it,
// a chunk (at most chunk rows or members) per transaction, so that an
// account of 100,000 members never holds one transaction for long. The
// first transaction marks it deleting: from then on nothing finds it (no
// sign-in, SCIM, API key or console reaches it) and running DeleteAccount
// again resumes where a stopped run left off. Credentials go first, then
// the account's webhooks (its events from then on reach only the
// platform's webhooks and the feed), then every other account-scoped row,
// then each membership with its membership.deleted event. A person whose
// only account it was is erased when it was their home (it verified their
// email's domain: rule 10), or when no account is and they are no
// operator (answersTo); everyone else keeps their user. progress,
// when set, hears after each transaction that deleted something; its
// error stops the deletion (which a later call resumes).
func (s *Service) DeleteAccount(ctx context.Context, actor Actor, slug string, chunk int, progress func(AccountDeletion) error) (AccountDeletion, error) {
	switch {
	case chunk == 0:
		chunk = DefaultAccountChunk
	case chunk < 0 || chunk > MaxAccountChunk:
		return AccountDeletion{}, InvalidError(fmt.Sprintf("a chunk is from 1 to %d rows or members, not %d", MaxAccountChunk, chunk))
	}
	if !lookupable(slug) {
		// PostgreSQL refuses such text outright (an error, not no rows).
		return AccountDeletion{}, NotFoundError(fmt.Sprintf("no account %q", truncate(slug, 60)))
	}
	var (
		out AccountDeletion
		a   Account
	)
	err := s.store.Tx(ctx, func(tx Store) error {
		var (
			deleting bool
			err      error
		)
		if a, deleting, err = tx.FindAccountToDelete(ctx, slug); err != nil {
			return err
		}
		out = AccountDeletion{AccountID: a.ID, Slug: a.Slug, Resumed: deleting, Transactions: 1}
		if err := tx.MarkAccountDeleting(ctx, a.ID, s.clock()); err != nil {
			return err
		}
		if deleting {
			return nil
		}
		return s.record(ctx, tx, change{
			actor: actor, action: "account.deletion_started", targetType: "account", targetID: a.ID,
			data: map[string]any{"slug": a.Slug, "name": a.Name},
		})
	})
	if err != nil {
		// Nothing was marked: the caller has no deletion to resume.
		return AccountDeletion{}, fmt.Errorf("delete account: %w", err)
	}
	// failed words a transaction's error: when another run finished the
	// deletion meanwhile (two at once: this one waited for the other's
	// last transaction), the account is gone, which is no reason to run
	// the command again.
	failed := func(err error) error {
		if KindOf(err) == NotFound {
			if b, _, ferr := s.store.FindAccountToDelete(ctx, a.Slug); (ferr == nil && b.ID != a.ID) || KindOf(ferr) == NotFound {
				return NotFoundError(fmt.Sprintf("account %s is deleted: another deletion of it finished first", a.Slug))
			}
		}
		return fmt.Errorf("delete account %s: %w", a.Slug, err)
	}
	step := func(fn func(tx Store) error) error {
		err := s.store.Tx(ctx, func(tx Store) error {
			// Marking again locks the account's row (PostgreSQL), so that
			// two runs take turns instead of announcing a member twice.
			if err := tx.MarkAccountDeleting(ctx, a.ID, s.clock()); err != nil {
				return err
			}
			return fn(tx)
		})
		if err != nil {
			return failed(err)
		}
		out.Transactions++
		return nil
	}
	// report hears of a transaction that deleted something (one that
	// found nothing left must not be what a stop interrupts: the next run
	// would stop at it again).
	report := func() error {
		if progress == nil {
			return nil
		}
		return progress(out)
	}
	for kind := 0; ; {
		n := 0
		if err := step(func(tx Store) (err error) {
			kind, n, err = tx.DeleteAccountRows(ctx, a.ID, kind, chunk)
			return err
		}); err != nil {
			return out, err
		}
		if n == 0 {
			break
		}
		out.Rows += n
		if err := report(); err != nil {
			return out, err
		}
	}
members:
	for {
		var erased, kept, n int
		if err := step(func(tx Store) error {
			erased, kept, n = 0, 0, 0
			ids, err := tx.FindMemberIDs(ctx, a.ID, chunk)
			if err != nil {
				return err
			}
			for _, id := range ids {
				gone, err := s.leaveDeletedAccount(ctx, tx, actor, a, id)
				if err != nil {
					return err
				}
				if gone {
					erased++
				} else {
					kept++
				}
			}
			n = len(ids)
			return nil
		}); err != nil {
			return out, err
		}
		if n == 0 {
			err := s.store.Tx(ctx, func(tx Store) error {
				if err := tx.FinishAccountDeletion(ctx, a.ID); err != nil {
					return err
				}
				return s.record(ctx, tx, change{
					actor: actor, action: "account.deleted", targetType: "account", targetID: a.ID,
					data: map[string]any{"slug": a.Slug, "name": a.Name},
				})
			})
			if KindOf(err) == Conflict {
				// A member arrived after the last chunk (a sign-in or SCIM
				// request that found the account before it was hidden):
				// announce them too, rather than let the account's row
				// take their membership without a word.
				out.Transactions++
				continue members
			}
			if err != nil {
				return out, failed(err)
			}
			break
		}
		out.Memberships += n
		out.Erased += erased
		out.Kept += kept
		if err := report(); err != nil {
			return out, err
		}
	}
	out.Transactions++
	out.Done = true
	return out, nil
}

// leaveDeletedAccount ends the user's membership of a, which is being
// deleted, and erases them when a was their only account and their home.
func (s *Service) leaveDeletedAccount(ctx context.Context, tx Store, actor Actor, a Account, userID string) (erased bool, err error) {
	u, err := tx.FindUser(ctx, userID)
	if err != nil {
		return false, err
	}
	// Locked, so that a membership of another account being made for them
	// now is seen before they are erased as having none.
	ms, err := lockPerson(ctx, tx, userID)
	if err != nil {
		return false, err
	}
	if len(ms) == 1 {
		answers, err := answersTo(ctx, tx, a, u)
		if err != nil {
			return false, err
		}
		if answers {
			_, err := s.erase(ctx, tx, actor, u, DeletedWithAccount, true)
			return true, err
		}
	}
	m, err := tx.FindMembership(ctx, a.ID, userID)
	if err != nil {
		return false, err
	}
	if err := s.endAppAccess(ctx, tx, a.ID, userID); err != nil {
		return false, err
	}
	if err := tx.DeleteMembership(ctx, a.ID, userID); err != nil {
		return false, err
	}
	return false, s.record(ctx, tx, change{
		accountID: a.ID, actor: actor, action: "membership.deleted", targetType: "membership", targetID: userID,
		data:   map[string]any{"email": u.Email, "role": m.Role, "status": m.Status, "reason": DeletedWithAccount},
		events: []publication{membershipEvent(EventMembershipDeleted, u.Email, m)},
		aside:  true,
	})
}

// answersTo reports whether the person u, whose only membership is in a
// (being deleted), goes with it: a was their home (it verified their
// email's domain: rule 10), or no account is their home and nothing else
// keeps them, since a user with no membership opens nothing and only keeps
// their name, email and password for no one. Kept are those whose home is
// another account (they answer to it: its SCIM or SSO may take them in
// again) and operators (their rights are the installation's, not an
// account's). An invitation elsewhere is a membership (invited), so such
// a person has two and is kept before this is asked.
func answersTo(ctx context.Context, tx Store, a Account, u User) (bool, error) {
	if isHome(a, u.Email) {
		return true, nil
	}
	if _, err := homeAccount(ctx, tx, u.Email); err == nil {
		return false, nil
	} else if KindOf(err) != NotFound {
		return false, err
	}
	op, err := isOperator(ctx, tx, u.ID)
	return !op, err
}
