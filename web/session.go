package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

// SessionCookie is the cookie that carries a session token. Password
// sign-in and single sign-on both open sessions, so both set it here.
type SessionCookie struct {
	// Secure marks the cookie Secure and gives it the __Host- prefix.
	Secure bool
}

// Name is the cookie's name.
func (c SessionCookie) Name() string {
	if c.Secure {
		return "__Host-admit_session"
	}
	return "admit_session"
}

// Set gives the browser the session token until expires.
func (c SessionCookie) Set(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: c.Name(), Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// Clear removes the session cookie.
func (c SessionCookie) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: c.Name(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

// Token returns the session token the request carries, or "".
func (c SessionCookie) Token(r *http.Request) string {
	if ck, err := r.Cookie(c.Name()); err == nil {
		return ck.Value
	}
	return ""
}

// LocalPath keeps a return_to on this site: only a path, never another
// origin (no open redirect). Anything else gives fallback.
func LocalPath(s, fallback string) string {
	u, err := url.Parse(s)
	if s == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(s, "//") || strings.Contains(s, "\\") || strings.ContainsAny(s, "\r\n\t") {
		return fallback
	}
	return u.RequestURI()
}

// PasswordChangePath is where a person whose password someone else set
// goes first, coming back to returnTo (a local path, as LocalPath keeps
// it) once they have chosen their own: an app's sign-in step, say, whose
// request would otherwise be lost. The home page (/me) is where the change
// lands anyway, so it is not carried.
func PasswordChangePath(returnTo string) string {
	const path = "/password/change"
	if returnTo = LocalPath(returnTo, "/me"); returnTo == "/me" {
		return path
	}
	return path + "?" + url.Values{"return_to": {returnTo}}.Encode()
}

// Authenticator finds the visit of a session token (directory.Service).
type Authenticator interface {
	AuthenticatePage(ctx context.Context, token string) (directory.Visit, error)
}

// SignedIn returns the person signed in on r, for a page only they may
// see. Otherwise it answers for itself and returns nil: the signed-out go
// to sign in and come back (a GET), and a password someone else set is
// changed first, as on /me.
func (c SessionCookie) SignedIn(w http.ResponseWriter, r *http.Request, dir Authenticator) (*directory.Visit, error) {
	return c.signedIn(w, r, dir, true)
}

// SignedInAsIs is SignedIn for the pages a person whose password someone
// else set may still see: where they change it, and where they choose an
// account.
func (c SessionCookie) SignedInAsIs(w http.ResponseWriter, r *http.Request, dir Authenticator) (*directory.Visit, error) {
	return c.signedIn(w, r, dir, false)
}

func (c SessionCookie) signedIn(w http.ResponseWriter, r *http.Request, dir Authenticator, gated bool) (*directory.Visit, error) {
	v, err := dir.AuthenticatePage(r.Context(), c.Token(r))
	if directory.KindOf(err) == directory.Unauthenticated {
		c.Clear(w)
		target := "/login"
		if r.Method == http.MethodGet {
			target += "?return_to=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if gated && v.User.PasswordMustChange {
		target := PasswordChangePath("")
		if r.Method == http.MethodGet {
			target = PasswordChangePath(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil, nil
	}
	return &v, nil
}
