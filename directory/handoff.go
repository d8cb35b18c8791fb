package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
)

// A hand-off carries a signed-in browser from admit's host to the host of
// a forward-auth app. The session cookie is host-only, and single sign-on
// ends on admit's host (the ACS and the OIDC callback are there), so an
// app on another host would never see the session. Instead admit, on its
// own host, gives the browser a code bound to the app and to the URL it
// returns to; the app's host (which passes admit's /login paths to admit)
// redeems it once, within seconds, for a session of its own.
//
// What an attacker could send: a return URL anywhere (refused unless a
// registered forward-auth app serves it: no open redirect); a code
// replayed (claimed once, by deleting it); a code presented on another
// host (refused, and used up); a guessed code (256 bits, stored as its
// SHA-256); their own code, in a link for someone else's browser, to sign
// it in as themself (login CSRF): a code is bound to a nonce the app's
// host gave the browser before it left for admit's (a host-only cookie
// there), so only the browser that asked redeems it.

// Handoff is a code's passage, as stored.
type Handoff struct {
	CodeHash string
	// SessionHash is the session on admit's host it came from: the new
	// session needs it alive, keeps its credential and ends by its end.
	SessionHash string
	UserID      string
	AccountID   string
	AppID       string
	ReturnURL   string
	// Binding is the hash of the browser's nonce (HandoffBinding).
	Binding   string
	ExpiresAt time.Time
}

// HandoffBinding is what a hand-off keeps of the nonce the app's host gave
// the browser, and what admit's host is told of it: its SHA-256.
func HandoffBinding(nonce string) string { return hashToken(nonce) }

// NewHandoffNonce is a nonce for the app's host to give a browser.
func NewHandoffNonce() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validBinding(b string) bool {
	if len(b) != 64 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(b[i])) {
			return false
		}
	}
	return true
}

// HandoffLifetime is how long a hand-off code works: it is redeemed by the
// redirect that carries it, so seconds are plenty.
const HandoffLifetime = 30 * time.Second

// maxReturnURL bounds the URL a hand-off keeps.
const maxReturnURL = 2048

// HandoffStore keeps hand-off codes.
type HandoffStore interface {
	CreateHandoff(ctx context.Context, h Handoff) error
	// ClaimHandoff removes and returns the hand-off of a code hash: of two
	// redemptions of one code at the same moment, one gets it and the
	// other NotFound.
	ClaimHandoff(ctx context.Context, codeHash string) (Handoff, error)
	DeleteExpiredHandoffs(ctx context.Context, now time.Time) (int64, error)
}

// HandoffTarget checks a URL a signed-in browser is to be handed to and
// returns it parsed, with the app that serves it. Only http(s) URLs
// served by a registered forward-auth app pass (https only when
// httpsOnly): anything else is Invalid, never a redirect.
func (s *Service) HandoffTarget(ctx context.Context, returnURL string, httpsOnly bool) (*url.URL, App, error) {
	refuse := InvalidError("That address is not an app registered with admit.")
	u, ok := parseHandoffURL(returnURL, httpsOnly)
	if !ok {
		return nil, App{}, refuse
	}
	apps, err := s.ForwardAuthApps(ctx, u.Host)
	if err != nil {
		return nil, App{}, err
	}
	app, err := MatchForwardAuthApp(apps, u.EscapedPath())
	if k := KindOf(err); k == NotFound || k == Forbidden {
		return nil, App{}, refuse
	}
	return u, app, err
}

// parseHandoffURL reads a hand-off's return URL, which comes from outside
// (a query parameter): an absolute http(s) URL with a host and no user
// info, its host lower-cased, its fragment dropped, its path absolute,
// not starting with //, and without dot segments.
func parseHandoffURL(returnURL string, httpsOnly bool) (*url.URL, bool) {
	if returnURL == "" || len(returnURL) > maxReturnURL || hasControl(returnURL) || strings.Contains(returnURL, "\\") {
		return nil, false
	}
	u, err := url.Parse(returnURL)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" {
		return nil, false
	}
	if u.Scheme != "https" && (u.Scheme != "http" || httpsOnly) {
		return nil, false
	}
	u.Host, u.Fragment, u.RawFragment = strings.ToLower(u.Host), "", ""
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	// A path starting with two slashes would be a scheme-relative URL
	// where the hand-off lands (FinishHandoff redirects to the path and
	// query alone): //evil.example/x names another host. (/%2F stays: a
	// browser reads no host in it.)
	if !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.EscapedPath(), "//") || HasDotSegment(u.Path) || !validHost(u.Host) {
		return nil, false
	}
	return u, true
}

// HasDotSegment reports whether a (decoded) path has . or .. segments: a
// proxy or an app that routes on the raw path and admit's matching could
// disagree about it. A segment's ;parameters do not count: Tomcat and
// Spring drop them before resolving dot segments, so /public/..;/admin is
// /admin to them.
func HasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// StartHandoff gives the browser of v a code that opens a session on the
// host of returnURL (see HandoffTarget), for the app that serves it: in
// the app's account when it has one, else the session's. binding is the
// HandoffBinding of the nonce the app's host gave the browser.
func (s *Service) StartHandoff(ctx context.Context, v Visit, returnURL, binding string, httpsOnly bool) (string, *url.URL, error) {
	if v.Handoff() {
		// A session an app's host holds is not handed on to another.
		return "", nil, errHandedOff
	}
	u, app, err := s.HandoffTarget(ctx, returnURL, httpsOnly)
	if err != nil {
		return "", nil, err
	}
	if !validBinding(binding) {
		return "", nil, InvalidError("This sign-in link is incomplete. Go back to the app and open it again.")
	}
	if v.User.PasswordMustChange {
		return "", nil, ForbiddenError("Please change your password first.")
	}
	accountID := v.Account.ID
	if app.AccountID != "" && app.AccountID != accountID {
		if err := s.mayHandTo(ctx, v, app.AccountID); err != nil {
			return "", nil, err
		}
		accountID = app.AccountID
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b)
	h := Handoff{CodeHash: hashToken(code), SessionHash: v.Session.IDHash, UserID: v.User.ID, AccountID: accountID,
		AppID: app.ID, ReturnURL: u.String(), Binding: binding, ExpiresAt: s.clock().Add(HandoffLifetime)}
	if err := s.store.CreateHandoff(ctx, h); err != nil {
		return "", nil, err
	}
	return code, u, nil
}

// mayHandTo checks that the session of v opens accountID, the account of
// the app it is being handed to: an active membership, and the account's
// sign-in rules for the way the session signed in (mayEnter: its SSO
// required, a password another account set). The session on the app's
// host would be refused anyway when it opens (startSession enters the
// account), but there, on the app's host, after a code was made for it:
// the refusal belongs here, on admit's host, audited as a sign-in's.
func (s *Service) mayHandTo(ctx context.Context, v Visit, accountID string) error {
	m, err := s.store.FindMembership(ctx, accountID, v.User.ID)
	if KindOf(err) == NotFound || (err == nil && m.Status != StatusActive) {
		return ForbiddenError("This app is for an account you are not an active member of.")
	}
	if err != nil {
		return err
	}
	if sessionsEnded(m, v.Session.CreatedAt) {
		return errSessionsEnded
	}
	a, err := s.store.FindAccount(ctx, accountID)
	if err != nil {
		return err
	}
	verdict, err := checkEntry(ctx, s.store, a, v.User, m, v.Session.Credential)
	if err != nil {
		return err
	}
	if verdict.refusal != nil {
		if err := s.recordRefusals(ctx, v.User, v.Session.Credential, []refusal{{accountID: accountID, err: verdict.refusal}}); err != nil {
			return err
		}
		return verdict.refusal
	}
	return nil
}

// FinishHandoff redeems a code presented on host (host[:port], as the
// browser sent it) by the browser holding nonce, and opens the session
// there: it returns the session's token, the session, and the path and
// query to land on. The code works once, within HandoffLifetime, on the
// host it was made for, with the nonce it was bound to, while the session
// it came from lives; the new session has that session's credential and
// ends no later.
func (s *Service) FinishHandoff(ctx context.Context, code, host, nonce string) (string, Session, string, error) {
	gone := InvalidError("This sign-in link has expired or was used already. Go back to the app and open it again.")
	if code == "" || len(code) > 100 {
		return "", Session{}, "", gone
	}
	h, err := s.store.ClaimHandoff(ctx, hashToken(code))
	if KindOf(err) == NotFound {
		return "", Session{}, "", gone
	}
	if err != nil {
		return "", Session{}, "", err
	}
	now := s.clock()
	u, err := url.Parse(h.ReturnURL)
	if err != nil || !now.Before(h.ExpiresAt) || !strings.EqualFold(u.Host, host) {
		return "", Session{}, "", gone
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(HandoffBinding(nonce)), []byte(h.Binding)) != 1 {
		return "", Session{}, "", ForbiddenError("This sign-in link was made for another browser. Go back to the app and open it again.")
	}
	from, err := s.store.FindSession(ctx, h.SessionHash)
	if KindOf(err) == NotFound || (err == nil && (!now.Before(from.ExpiresAt) || now.Sub(from.LastSeenAt) >= SessionIdleTimeout)) {
		return "", Session{}, "", UnauthenticatedError("Your session has ended. Please sign in again.")
	}
	if err != nil {
		return "", Session{}, "", err
	}
	family := from.FamilyHash
	if family == "" {
		family = from.IDHash
	}
	token, sess, err := s.startSession(ctx, h.UserID, h.AccountID, from.Credential, from.ExpiresAt, from.CreatedAt, family, strings.ToLower(u.Host), map[string]any{"app_id": h.AppID, "host": u.Host})
	if err != nil {
		return "", Session{}, "", err
	}
	return token, sess, u.RequestURI(), nil
}
