package directory

import (
	"context"
	"fmt"
	"time"
)

// Ending sessions on demand, short of a password change or a deactivation:
// the person who left a session open on a shared computer ends all of
// theirs (SignOutEverywhere); an admin handling a compromised account ends
// the person's sessions in theirs (EndMemberSessions, EndSessions), and the
// membership stays. Either way the apps hear of it as of a deactivation
// (endAppAccess): their tokens end and back-channel logouts are queued.
//
// Sessions a hand-off opened on an app's host (forward-auth, proxy) are
// session rows of the person in the app's account, so the same deletes end
// them; a hand-off code not yet redeemed needs its session on admit's host
// alive (FinishHandoff), so it is refused too.
//
// Not an event: no directory state a platform reacts to changed (the
// membership, role and profile are as they were); the apps that hold the
// person's sessions are told by back-channel logout, and the account's
// audit log records who did it.

// SignOutEverywhere ends every session of the person of v, in every account
// (this browser's too, on every device and app host), and their app tokens
// and app sign-ins in each account, where it is audited.
func (s *Service) SignOutEverywhere(ctx context.Context, v Visit) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		ms, err := tx.FindMembershipsOfUser(ctx, v.User.ID)
		if err != nil {
			return err
		}
		if err := tx.DeleteSessionsOfUser(ctx, v.User.ID, ""); err != nil {
			return err
		}
		// The browsers signed out keep their device cookies, which would
		// still spare them (or whoever copied one from a shared computer)
		// the lockout: those end too.
		if err := tx.EndDevicesOfUser(ctx, v.User.ID, s.clock()); err != nil {
			return err
		}
		for _, m := range ms {
			if err := s.endAppAccess(ctx, tx, m.AccountID, v.User.ID); err != nil {
				return err
			}
			if err := s.record(ctx, tx, change{
				accountID: m.AccountID, actor: Actor{Source: SourceUser, ID: v.User.ID, Name: v.User.Email},
				action: "user.signed_out_everywhere", targetType: "user", targetID: v.User.ID,
				data: map[string]any{"email": v.User.Email},
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sign out everywhere: %w", err)
	}
	return nil
}

// errSessionsEnded refuses a session signed in before an admin ended the
// person's sessions in the account: the person signs in again to enter it.
var errSessionsEnded = ForbiddenError("Your sessions in this account were ended by its administrator. Sign out, then sign in again to enter it.")

// sessionsEnded reports whether a session signed in at signedIn (zero: a
// sign-in now) was ended by the membership's SessionsEndedAt.
func sessionsEnded(m Membership, signedIn time.Time) bool {
	return m.SessionsEndedAt != nil && !signedIn.IsZero() && signedIn.Before(*m.SessionsEndedAt)
}

// EndMemberSessions ends the member's sessions in the admin's account
// (endSessions). Whoever may manage members may, and on an owner only who
// may manage owners, as with a deactivation; on themself too (they sign in
// again). Another account's person is NotFound.
func (s *Service) EndMemberSessions(ctx context.Context, adm Admin, id string) (Member, error) {
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		m, err := s.target(ctx, tx, &adm, id, ManageMembers, true)
		if err != nil {
			return err
		}
		out = m
		return s.endSessions(ctx, tx, adm.Actor(), m)
	})
	if err != nil {
		return Member{}, fmt.Errorf("end sessions: %w", err)
	}
	return out, nil
}

// EndSessions is EndMemberSessions for the command line: the member of the
// account with that email, by actor.
func (s *Service) EndSessions(ctx context.Context, accountID string, actor Actor, email string) (Member, error) {
	var out Member
	err := s.store.Tx(ctx, func(tx Store) error {
		m, err := lockMemberByEmail(ctx, tx, accountID, email)
		if err != nil {
			return err
		}
		out = m
		return s.endSessions(ctx, tx, actor, out)
	})
	if err != nil {
		return Member{}, fmt.Errorf("end sessions: %w", err)
	}
	return out, nil
}

// endSessions ends, inside tx, the member's sessions in their membership's
// account only (rule 1: the person's sessions in their other accounts are
// those accounts' business), with the app tokens and app sign-ins there.
func (s *Service) endSessions(ctx context.Context, tx Store, actor Actor, m Member) error {
	accountID, u := m.Membership.AccountID, m.User
	// The time is kept, not only the rows deleted: the person's session
	// in another account of theirs could otherwise switch (or be handed,
	// or authorize an app) straight back in, though the admin ended their
	// sessions here, and a switch racing this transaction could land a
	// session here after the delete.
	if err := tx.EndMembershipSessions(ctx, accountID, u.ID, s.clock()); err != nil {
		return err
	}
	if err := s.endAppAccess(ctx, tx, accountID, u.ID); err != nil {
		return err
	}
	return s.record(ctx, tx, change{
		accountID: accountID, actor: actor, action: "membership.sessions_ended", targetType: "membership", targetID: u.ID,
		data: map[string]any{"email": u.Email},
	})
}
