package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// contentSecurityPolicy allows nothing but admit's own scripts, styles and
// form targets, and https images (account logos live on the customer's
// CDN). Pages that need an inline style get a nonce for it (see Render).
// connect-src 'self' lets a page's own script poll admit (the import
// progress bar).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'%s; img-src 'self' https: data:; connect-src 'self'; " +
	"form-action 'self'%s; frame-ancestors 'none'; base-uri 'none'"

// csp is the policy with the nonce for inline styles and the extra form
// targets; a target that is not a plain http(s) origin is left out, so no
// value can add a directive.
func csp(nonce string, formTargets ...string) string {
	style := ""
	if nonce != "" {
		style = " 'nonce-" + nonce + "'"
	}
	var forms strings.Builder
	for _, t := range formTargets {
		if origin, ok := Origin(t); ok && !strings.Contains(forms.String(), " "+origin) {
			forms.WriteString(" " + origin)
		}
	}
	return fmt.Sprintf(contentSecurityPolicy, style, forms.String())
}

// Origin returns the origin (scheme://host[:port]) of an http or https
// URL, when it has a plain host.
func Origin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", false
	}
	for _, r := range u.Host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return "", false
		}
	}
	return u.Scheme + "://" + u.Host, true
}

// SecurityHeaders sets the headers every response carries. secure says
// admit is served over HTTPS, which adds Strict-Transport-Security.
func SecurityHeaders(secure bool) func(http.Handler) http.Handler {
	policy := csp("")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", policy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
			if secure {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}
