package sso

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
)

// pending is a sign-in this browser started and the identity provider has
// not answered yet. The browser keeps it, sealed, in a cookie: starting a
// sign-in is anonymous, and so writes nothing to the database (DESIGN rule
// 12); any replica with the server key can read it when the answer comes.
// Its single use is recorded when it is consumed, after the answer was
// verified (directory.FinishSSO).
type pending struct {
	// ID is the SAML AuthnRequest id or the OIDC state.
	ID         string `json:"id"`
	Connection string `json:"connection"`
	ReturnTo   string `json:"return_to"`
	// OIDC only: the nonce the ID token must carry, the PKCE verifier the
	// code needs.
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier,omitempty"`
	// Test is the id of the admin who started this as a Test sign-in: its
	// answer is shown to them and changes nothing (trySignIn). Sealed
	// with the rest, so nobody can add it to, or strip it from, a
	// sign-in.
	Test string `json:"test,omitempty"`
	// Logout marks a LogoutRequest admit sent the provider as the person
	// signed out (ContinueLogout), not a sign-in: its answer comes to the
	// single logout endpoint, and neither answers the other's. RelayState
	// is what went with it, which the provider must return unchanged
	// (saml-bindings 3.4.3).
	Logout     bool   `json:"logout,omitempty"`
	RelayState string `json:"relay_state,omitempty"`
	// Expires is inside the sealed value: the cookie's Max-Age is only the
	// browser's housekeeping, and a copied cookie has none.
	Expires time.Time `json:"expires"`
}

// pendingPurpose binds the sealed value to its use: a value sealed by this
// key for anything else does not open as a pending sign-in.
const pendingPurpose = "admit sso pending sign-in"

// Pending sign-ins are one cookie each, named after the request: a person
// may start several at once (two tabs, two connections, a retry after the
// provider's page was left open), and each answer finds its own. A list in
// one cookie would be rewritten by every start, losing a tab's entry to a
// race, and would outgrow the 4 KB a cookie may hold with a few long
// return_to addresses. At most maxPending are kept; starting one more
// drops the oldest.
const (
	pendingCookiePrefix = "admit_sso_"
	maxPending          = 8
	// maxReturnTo keeps a pending cookie well under the 4 KB browsers
	// store: a longer destination falls back to /me.
	maxReturnTo = 1024
)

// pendingCookieName is the cookie of the request id: a hash, so that any
// id makes a valid cookie name of the same length.
func pendingCookieName(id string) string {
	sum := sha256.Sum256([]byte(pendingPurpose + "\x00" + id))
	return pendingCookiePrefix + base64.RawURLEncoding.EncodeToString(sum[:12])
}

// pendingState seals and opens pending sign-ins with a key of their own
// (derived from the server key), and sets their cookies.
type pendingState struct {
	sealer *certs.Sealer
	// secure is whether browsers treat admit's origin as secure.
	secure bool
}

// start seals p into its cookie, dropping the oldest pending sign-ins of
// this browser beyond maxPending, and unreadable or expired ones.
func (s pendingState) start(w http.ResponseWriter, r *http.Request, p pending, now time.Time) error {
	if len(p.ReturnTo) > maxReturnTo {
		p.ReturnTo = "/me"
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return err
	}
	type held struct {
		name    string
		expires time.Time
	}
	var others []held
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, pendingCookiePrefix) {
			continue
		}
		if q, err := s.open(c.Value); err == nil && q.Expires.After(now) {
			others = append(others, held{c.Name, q.Expires})
		} else {
			s.clear(w, c.Name)
		}
	}
	slices.SortFunc(others, func(a, b held) int { return cmp.Compare(a.expires.UnixNano(), b.expires.UnixNano()) })
	for len(others) >= maxPending {
		s.clear(w, others[0].name)
		others = others[1:]
	}
	s.set(w, pendingCookieName(p.ID), s.sealer.Seal(plain, pendingPurpose), int(p.Expires.Sub(now)/time.Second))
	return nil
}

// errNotPending is an answer to no sign-in pending in this browser at this
// connection: never started here, started in another browser or at another
// connection, expired, or altered.
var errNotPending = errors.New("answers no sign-in pending in this browser")

// take returns the pending sign-in id of connection c that the browser
// holds (a logout when logout is set), and clears its cookie: whatever
// comes of the answer, the browser does not offer it again. Single use
// across browsers and replicas is the caller's to record
// (directory.FinishSSO) once the answer is verified.
func (s pendingState) take(w http.ResponseWriter, r *http.Request, c directory.Connection, id string, logout bool, now time.Time) (pending, error) {
	if id == "" {
		return pending{}, errNotPending
	}
	name := pendingCookieName(id)
	ck, err := r.Cookie(name)
	if err != nil {
		return pending{}, errNotPending
	}
	s.clear(w, name)
	p, err := s.open(ck.Value)
	if err != nil || p.ID != id || p.Connection != c.ID || p.Logout != logout || !p.Expires.After(now) {
		return pending{}, errNotPending
	}
	return p, nil
}

func (s pendingState) open(sealed string) (pending, error) {
	var p pending
	plain, err := s.sealer.Open(sealed, pendingPurpose)
	if err != nil {
		return p, err
	}
	err = json.Unmarshal(plain, &p)
	return p, err
}

func (s pendingState) clear(w http.ResponseWriter, name string) { s.set(w, name, "", -1) }

// set writes a pending cookie. SameSite=None is what lets it ride along on
// the identity provider's cross-site POST to the ACS (Lax cookies are left
// behind there); the value is sealed, so it says nothing to whoever sees it
// and cannot be forged.
func (s pendingState) set(w http.ResponseWriter, name, value string, maxAge int) {
	cookie := &http.Cookie{Name: name, Value: value, Path: "/sso/", MaxAge: maxAge, HttpOnly: true}
	if s.secure {
		// SameSite=None needs Secure; browsers treat http://localhost as
		// secure, so development on this machine works the same.
		cookie.Secure, cookie.SameSite = true, http.SameSiteNoneMode
	}
	// Otherwise admit runs on plain http elsewhere (a test setup): a
	// Secure cookie would be dropped, so it goes without SameSite, which
	// Firefox sends on the IdP's POST and Chromium for two minutes after
	// setting it.
	http.SetCookie(w, cookie)
}
