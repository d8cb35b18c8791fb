package directory

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
)

// AppLogout is a back-channel logout to deliver: the app is to be told
// that the person's session for the account has ended (OpenID Back-Channel
// Logout 1.0). It is written in the transaction that ends the membership,
// so no deactivation goes untold, and deleted once delivered.
type AppLogout struct {
	ID        string
	ClientID  string
	AccountID string
	UserID    string
	// AuthTime names the person's session at the app that ends: the start
	// of the admit session it came through (Session.CreatedAt, as stored),
	// of which the provider makes the sid of its ID tokens. Zero names the
	// person alone: a sign-in recorded by an earlier version.
	AuthTime      time.Time
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int
	LastError     string
}

// AppSignIns are a person's live sign-ins to one app in an account.
type AppSignIns struct {
	App App
	// AuthTimes are the starts of the admit sessions they came through (as
	// AppLogout.AuthTime), one for each session the app may hold; none when
	// only an earlier version recorded the sign-in.
	AuthTimes []time.Time
}

// AppSessionID is the public name of a person's session at an app: the
// sid of the ID tokens of a sign-in (OpenID Connect Back-Channel Logout
// 1.0, section 2.1), and of the logout tokens that end it. It names the
// admit session the sign-in came through, which is told apart by its
// person and its start, to the microsecond as stored (the authorization,
// its tokens and the app's sign-in all keep the session's CreatedAt), and
// the account the sign-in is in, hashed so that apps take it for the
// opaque string it is. "" when the start is unknown.
//
// An app may keep one session per sid (mod_auth_openidc maps each sid to
// one session, and a logout token with a sub alone ends only the latest
// of the person's): each of the person's sessions has its own, also two
// begun within the same second, which share their auth_time. And each
// account its own: a person in two accounts signs in to an app that serves
// both through one admit session, and the logout that ends their
// membership in one account must not name the app's session in the other.
func AppSessionID(userID, accountID string, authTime time.Time) string {
	if userID == "" || authTime.IsZero() {
		return ""
	}
	sum := sha256.Sum256([]byte("admit sid\x00" + userID + "\x00" + accountID + "\x00" + strconv.FormatInt(authTime.UnixMicro(), 10)))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// AppSessionSignIn is a person's sign-in to an app, in an account, made
// through one admit session.
type AppSessionSignIn struct {
	App       App
	AccountID string
}

// AppLogoutStore keeps who signed in to which app, and the logouts due.
type AppLogoutStore interface {
	// RecordAppSignIn remembers (or renews) that the person signed in to
	// the app in the account, through the admit session that began at
	// authTime (zero: unknown), until expiresAt.
	RecordAppSignIn(ctx context.Context, clientID, accountID, userID string, authTime, at, expiresAt time.Time) error
	// FindAppSignIns returns the person's sign-ins in the account that
	// have not expired at now, app by app.
	FindAppSignIns(ctx context.Context, accountID, userID string, now time.Time) ([]AppSignIns, error)
	// DeleteAppSignIns forgets the person's sign-ins to the app (to every
	// app when clientID is empty) in the account (every account when
	// accountID is empty).
	DeleteAppSignIns(ctx context.Context, accountID, userID, clientID string) error
	// DeleteAppTokensOfMembership ends the person's tokens in the account,
	// and the authorizations they have in flight there: a code not yet
	// exchanged opens nothing afterwards.
	DeleteAppTokensOfMembership(ctx context.Context, accountID, userID string) error
	// FindAppSignInsOfSession returns the person's sign-ins, in any
	// account, made through their admit session that began at authTime
	// (as stored), that have not expired at now.
	FindAppSignInsOfSession(ctx context.Context, userID string, authTime, now time.Time) ([]AppSessionSignIn, error)
	// DeleteAppSignInsOfSession forgets those sign-ins, and the person's
	// sign-in to an app that then has no session left.
	DeleteAppSignInsOfSession(ctx context.Context, userID string, authTime time.Time) error
	// DeleteAppTokensOfSession ends the person's tokens, and their
	// authorizations in flight, that their admit session begun at
	// authTime gave, in any account.
	DeleteAppTokensOfSession(ctx context.Context, userID string, authTime time.Time) error
	CreateAppLogout(ctx context.Context, l AppLogout) error
	// ClaimAppLogouts locks up to limit logouts due at now until
	// lockedUntil, counting an attempt on each; no two callers get the same.
	ClaimAppLogouts(ctx context.Context, now, lockedUntil time.Time, limit int) ([]AppLogout, error)
	RetryAppLogout(ctx context.Context, id, lastError string, next time.Time) error
	DeleteAppLogout(ctx context.Context, id string) error
}

// Delivery of back-channel logouts.
const (
	// AppLogoutAttempts is how often a logout is tried before it is given
	// up (and the giving up audited).
	AppLogoutAttempts = 6
	// appLogoutLock is how long a claimed logout is left to the replica
	// that claimed it: longer than one delivery can take.
	appLogoutLock = time.Minute
)

// endAppAccess is called, inside the transaction, wherever a membership
// ends (deactivated or deleted): the person's tokens in the account end,
// and every app they signed in to there with a back-channel logout URI is
// to be told, once for each of their sessions there: an app that keeps
// its sessions by sid (mod_auth_openidc keeps one session for a sub
// alone) ends each one.
func (s *Service) endAppAccess(ctx context.Context, tx Store, accountID, userID string) error {
	now := s.clock()
	// The tokens first: this waits for an exchange or a refresh storing
	// tokens at this moment (on PostgreSQL), whose tokens and app sign-in
	// then end with the rest.
	if err := tx.DeleteAppTokensOfMembership(ctx, accountID, userID); err != nil {
		return err
	}
	signIns, err := tx.FindAppSignIns(ctx, accountID, userID, now)
	if err != nil {
		return err
	}
	for _, in := range signIns {
		authTimes := in.AuthTimes
		if len(authTimes) == 0 {
			authTimes = []time.Time{{}} // the person alone
		}
		if err := s.queueAppLogouts(ctx, tx, in.App, accountID, userID, authTimes); err != nil {
			return err
		}
	}
	return tx.DeleteAppSignIns(ctx, accountID, userID, "")
}

// endSessionAppAccess is endAppAccess for one admit session of the person
// rather than their membership (single logout, EndSAMLSessions): the
// tokens and authorizations its sign-ins gave apps end, in whichever
// account they were given, and each app it signed in to is told of that
// session (its sid). authTime is the session's start as stored.
func (s *Service) endSessionAppAccess(ctx context.Context, tx Store, userID string, authTime time.Time) error {
	if err := tx.DeleteAppTokensOfSession(ctx, userID, authTime); err != nil {
		return err
	}
	signIns, err := tx.FindAppSignInsOfSession(ctx, userID, authTime, s.clock())
	if err != nil {
		return err
	}
	for _, in := range signIns {
		if err := s.queueAppLogouts(ctx, tx, in.App, in.AccountID, userID, []time.Time{authTime}); err != nil {
			return err
		}
	}
	return tx.DeleteAppSignInsOfSession(ctx, userID, authTime)
}

// queueAppLogouts queues the back-channel logouts that tell the app the
// person's sessions begun at authTimes (a zero one: the person alone) have
// ended in the account; nothing for an app without a back-channel logout
// URI.
func (s *Service) queueAppLogouts(ctx context.Context, tx Store, app App, accountID, userID string, authTimes []time.Time) error {
	if app.BackchannelLogoutURI == "" {
		return nil
	}
	now := s.clock()
	for _, at := range authTimes {
		if err := tx.CreateAppLogout(ctx, AppLogout{ID: newID(), ClientID: app.ClientID, AccountID: accountID, UserID: userID,
			AuthTime: at, CreatedAt: now, NextAttemptAt: now}); err != nil {
			return err
		}
	}
	return nil
}

// DueAppLogout is a logout to send now, with the app it goes to.
type DueAppLogout struct {
	AppLogout
	App App
}

// ClaimAppLogouts returns up to limit logouts to send now; the caller
// reports each with FinishAppLogout.
func (s *Service) ClaimAppLogouts(ctx context.Context, limit int) ([]DueAppLogout, error) {
	now := s.clock()
	claimed, err := s.store.ClaimAppLogouts(ctx, now, now.Add(appLogoutLock), limit)
	if err != nil {
		return nil, fmt.Errorf("claim app logouts: %w", err)
	}
	out := make([]DueAppLogout, 0, len(claimed))
	for _, l := range claimed {
		app, err := s.store.FindAppByClientID(ctx, l.ClientID)
		if KindOf(err) == NotFound {
			// Removed since: nobody to tell.
			if err := s.store.DeleteAppLogout(ctx, l.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, DueAppLogout{AppLogout: l, App: app})
	}
	return out, nil
}

// FinishAppLogout records how a delivery went: delivered, it is deleted;
// failed, it is tried again later (after 5 s, 20 s, 45 s, ...), until
// AppLogoutAttempts, when it is given up and the giving up audited in the
// account.
func (s *Service) FinishAppLogout(ctx context.Context, l DueAppLogout, failure error) error {
	if failure == nil {
		return s.store.DeleteAppLogout(ctx, l.ID)
	}
	if l.Attempts < AppLogoutAttempts {
		wait := time.Duration(l.Attempts*l.Attempts) * 5 * time.Second
		return s.store.RetryAppLogout(ctx, l.ID, failure.Error(), s.clock().Add(wait))
	}
	return s.store.Tx(ctx, func(tx Store) error {
		if err := tx.DeleteAppLogout(ctx, l.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: l.AccountID, actor: Actor{Source: SourceSystem}, action: "app.backchannel_logout_failed",
			targetType: "user", targetID: l.UserID,
			data: map[string]any{"client_id": l.ClientID, "app": l.App.Name, "attempts": l.Attempts, "error": failure.Error()},
		})
	})
}
