package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"
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
