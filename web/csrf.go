package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// csrf protects forms with a signed double-submit token: the browser holds a
// random value in an HttpOnly cookie, and every form carries an HMAC of it
// under the server key. A page of another site can make the browser send the
// cookie, but cannot read it or compute the token. Go's CrossOriginProtection
// (Sec-Fetch-Site and Origin) is checked as well: two independent guards.
type csrf struct {
	key        []byte
	accepted   [][]byte // the other keys of a rotation of the server key: verify only
	secure     bool
	cookieName string
	origin     *http.CrossOriginProtection
}

const csrfField = "csrf_token"

func newCSRF(key []byte, accepted [][]byte, secure bool) csrf {
	name := "admit_csrf"
	if secure {
		// __Host- cookies must be Secure, host-only and Path=/: no
		// subdomain can plant one.
		name = "__Host-admit_csrf"
	}
	return csrf{key: key, accepted: accepted, secure: secure, cookieName: name, origin: http.NewCrossOriginProtection()}
}

func (c csrf) token(cookieValue string) string { return csrfToken(c.key, cookieValue) }

// valid reports whether sent is the token of the cookie under the key, or
// under an accepted key while the server key is rotated: a form a replica
// with the other key served still goes through.
func (c csrf) valid(sent, cookieValue string) bool {
	if hmac.Equal([]byte(sent), []byte(c.token(cookieValue))) {
		return true
	}
	for _, k := range c.accepted {
		if hmac.Equal([]byte(sent), []byte(csrfToken(k, cookieValue))) {
			return true
		}
	}
	return false
}

func csrfToken(key []byte, cookieValue string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00" + cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CSRFToken makes sure the browser has the CSRF cookie and returns the
// token forms must send back in the csrf_token field.
func (rd *Renderer) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(rd.csrf.cookieName); err == nil && len(ck.Value) >= 32 {
		return rd.csrf.token(ck.Value)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	value := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{
		Name: rd.csrf.cookieName, Value: value, Path: "/",
		HttpOnly: true, Secure: rd.csrf.secure, SameSite: http.SameSiteLaxMode,
	})
	// Later handlers of this same request see the cookie too.
	r.AddCookie(&http.Cookie{Name: rd.csrf.cookieName, Value: value})
	return rd.csrf.token(value)
}

// MultipartMemory is how much of a multipart form Protect keeps in memory;
// the rest goes to temporary files. A handler that reads an upload's form
// before Protect (to answer one over its limit) reads it with the same.
const MultipartMemory = 1 << 20

// Protect refuses state-changing requests that do not carry the token of
// the browser's CSRF cookie or that come from another site.
func (rd *Renderer) Protect(next http.Handler) http.Handler {
	refuse := func(w http.ResponseWriter, r *http.Request) {
		rd.log.InfoContext(r.Context(), "CSRF check failed", "path", SafePath(r))
		rd.Error(w, r, http.StatusForbidden, "This form has expired or was sent from another site. Go back, reload the page and try again.")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if err := rd.csrf.origin.Check(r); err != nil {
			refuse(w, r)
			return
		}
		ck, err := r.Cookie(rd.csrf.cookieName)
		if err != nil || ck.Value == "" {
			refuse(w, r)
			return
		}
		sent := r.Header.Get("X-CSRF-Token")
		if sent == "" {
			// An upload is read before anyone is known (the token is one of
			// its fields): at most a MiB of it in memory, the rest in a
			// temporary file, so a stranger's large posts cannot fill
			// memory; the body limit bounds the file.
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				_ = r.ParseMultipartForm(MultipartMemory)
			}
			sent = r.PostFormValue(csrfField)
		}
		if !rd.csrf.valid(sent, ck.Value) {
			refuse(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
