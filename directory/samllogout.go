package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SAML single logout (saml-core 3.7, saml-profiles 4.4). When a person
// signs out at their identity provider, it sends a LogoutRequest to each
// service provider it signed them in to: package sso verifies it, and
// EndSAMLSessions ends the sessions it names, with the apps' sessions that
// came through them. When a person signs out of admit, SignOut ends the
// session and names the connection that opened it, whose provider package
// sso then sends them on to.

// SAMLLogout is what a LogoutRequest ended.
type SAMLLogout struct {
	// Sessions is how many live sign-ins ended (each with the sessions
	// that hand-offs made of it on apps' hosts).
	Sessions int
	// Emails are the people whose sessions ended, each once, sorted.
	Emails []string
}

// SAMLLogoutStore finds the sessions a LogoutRequest names.
type SAMLLogoutStore interface {
	// FindSAMLSessions returns the sessions that the connection's SAML
	// sign-ins opened for the NameID, in any account (a session may have
	// switched to another of the person's accounts since), hand-offs'
	// included.
	FindSAMLSessions(ctx context.Context, connectionID, nameID string) ([]Session, error)
}

// EndSAMLSessions ends the sessions that connection c's SAML sign-ins
// opened for nameID: those of the given SessionIndexes, or all of them when
// none is given (saml-core 3.7.3.2). Only this connection's: a NameID is
// looked up nowhere else, so an identity provider ends only sessions it
// signed in, never another connection's or another account's people, even
// those it knows by the same NameID. A session that has switched to another
// of the person's accounts since is still the provider's sign-in, and ends.
//
// The apps hear of it as they do when a membership ends (endAppAccess),
// for these sessions only: the tokens the sessions gave end, and every app
// a session signed in to with a back-channel logout URI is told. Each
// account where sessions ended records it (user.signed_out_by_idp). Nothing
// found is no error: the person may have signed out of admit already.
func (s *Service) EndSAMLSessions(ctx context.Context, c Connection, nameID string, sessionIndexes []string) (SAMLLogout, error) {
	if c.Protocol != ProtocolSAML || strings.TrimSpace(nameID) == "" {
		return SAMLLogout{}, InvalidError("the logout request names no one")
	}
	var out SAMLLogout
	err := s.store.Tx(ctx, func(tx Store) error {
		out = SAMLLogout{}
		found, err := tx.FindSAMLSessions(ctx, c.ID, nameID)
		if err != nil {
			return err
		}
		now := s.clock()
		type member struct{ accountID, userID string }
		ended := map[member]int{}
		var order []member
		families := map[string]bool{}
		for _, sess := range found {
			if len(sessionIndexes) > 0 && !slices.Contains(sessionIndexes, sess.Credential.SAML.SessionIndex) {
				continue
			}
			if sess.FamilyHash != "" {
				// A hand-off's session ends with its family; the sign-in is
				// its root's.
				families[sess.FamilyHash] = true
				continue
			}
			families[sess.IDHash] = true
			if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= SessionIdleTimeout {
				continue // over already: swept, not ended
			}
			// The apps' sessions of this sign-in carry its start as their
			// auth_time (AppLogout.AuthTime).
			if err := s.endSessionAppAccess(ctx, tx, sess.UserID, sess.CreatedAt); err != nil {
				return err
			}
			m := member{sess.AccountID, sess.UserID}
			if ended[m] == 0 {
				order = append(order, m)
			}
			ended[m]++
			out.Sessions++
		}
		for root := range families {
			if err := tx.DeleteSessionFamily(ctx, root); err != nil {
				return err
			}
		}
		for _, m := range order {
			u, err := tx.FindUser(ctx, m.userID)
			if err != nil {
				return err
			}
			if !slices.Contains(out.Emails, u.Email) {
				out.Emails = append(out.Emails, u.Email)
			}
			if err := s.record(ctx, tx, change{
				accountID: m.accountID, actor: sso(c), action: "user.signed_out_by_idp", targetType: "user", targetID: u.ID,
				data: map[string]any{"email": u.Email, "connection_id": c.ID, "connection": c.Name, "sessions": ended[m]},
			}); err != nil {
				return err
			}
		}
		slices.Sort(out.Emails)
		return nil
	})
	if err != nil {
		return SAMLLogout{}, fmt.Errorf("end SAML sessions: %w", err)
	}
	return out, nil
}

// AcceptLogoutRequestOnce records that the connection's LogoutRequest id
// was acted on; the same id again, on any replica, until the request could
// no longer be accepted, is a Conflict. The caller records it only once the
// request's signature was verified, so only the provider writes rows here.
func (s *Service) AcceptLogoutRequestOnce(ctx context.Context, c Connection, requestID string, until time.Time) error {
	if requestID == "" {
		return InvalidError("the logout request has no ID")
	}
	// "logout:" keeps these apart from assertion ids (an xs:ID has no
	// colon) and from admit's own requests (FinishSSO's "request:").
	until = maxTime(until, s.clock()).Add(c.ClockSkew())
	if err := s.store.AddSSOReplay(ctx, c.ID, "logout:"+requestID, until); KindOf(err) == Conflict {
		return ConflictError("this logout request was already used")
	} else if err != nil {
		return fmt.Errorf("remember logout request: %w", err)
	}
	return nil
}

// SignedOut is a session SignOut ended, with the SAML connection that
// opened it, whose identity provider the person is to be sent on to.
type SignedOut struct {
	Session Session
	// Connection is the SAML connection whose sign-in opened the session,
	// and Account its account; zero when no SAML sign-in did, or the
	// connection is gone.
	Connection Connection
	Account    Account
}

// SignOut ends the browser's session, as EndSession does, and returns it,
// with the SAML connection that opened it when one did (single logout
// continues at its identity provider, saml-profiles 4.4). The session ends
// first, whatever becomes of the rest. A token of no session is no error:
// the zero SignedOut.
func (s *Service) SignOut(ctx context.Context, token string) (SignedOut, error) {
	if token == "" {
		return SignedOut{}, nil
	}
	sess, err := s.store.FindSession(ctx, hashToken(token))
	if KindOf(err) == NotFound {
		return SignedOut{}, nil
	}
	if err != nil {
		return SignedOut{}, err
	}
	if err := s.EndSession(ctx, token); err != nil {
		return SignedOut{}, err
	}
	out := SignedOut{Session: sess}
	if sess.Credential.Method != MethodSSO || sess.Credential.SAML.NameID == "" {
		return out, nil
	}
	c, err := s.connectionOfSession(ctx, sess)
	if KindOf(err) == NotFound {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	a, err := s.store.FindAccount(ctx, c.AccountID)
	if KindOf(err) == NotFound {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Connection, out.Account = c, a
	return out, nil
}

// connectionOfSession finds the connection that opened the session: in
// the session's account, or, for a session that switched accounts since,
// in another of the person's (connections are reached through their
// account only).
func (s *Service) connectionOfSession(ctx context.Context, sess Session) (Connection, error) {
	c, err := s.store.FindConnection(ctx, sess.AccountID, sess.Credential.ConnectionID)
	if KindOf(err) != NotFound {
		return c, err
	}
	ms, err := s.store.FindMembershipsOfUser(ctx, sess.UserID)
	if err != nil {
		return Connection{}, err
	}
	for _, m := range ms {
		if m.AccountID == sess.AccountID {
			continue
		}
		if c, err := s.store.FindConnection(ctx, m.AccountID, sess.Credential.ConnectionID); KindOf(err) != NotFound {
			return c, err
		}
	}
	return Connection{}, NotFoundError("the connection that signed the session in is gone")
}
