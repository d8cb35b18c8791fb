package web

import (
	"fmt"
	"net/http"
)

// contentSecurityPolicy allows nothing but admit's own scripts, styles and
// form targets, and https images (account logos live on the customer's
// CDN). Pages that need an inline style get a nonce for it (see Render).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'%s; img-src 'self' https: data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func csp(nonce string) string {
	extra := ""
	if nonce != "" {
		extra = " 'nonce-" + nonce + "'"
	}
	return fmt.Sprintf(contentSecurityPolicy, extra)
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
