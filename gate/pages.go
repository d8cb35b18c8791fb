package gate

import (
	"net/http"
	"strings"

	"github.com/admit-dev/admit/directory"
)

// KeepPagesHome keeps admit's own pages (sign-in, the person's pages,
// password and invitation pages, the console) on admit's host. An app's
// host behind forward-auth passes /login/... to admit for the hand-off,
// and its proxy, and the app, see every cookie set there: a session made
// by signing in on the app's host would be a full admit session in the
// app's hands. So on a host registered for an app (other than admit's
// own), those pages send the browser to admit's host (a GET) or refuse
// (a form posted there). Any other host, and every other path, passes.
func (h *Handler) KeepPagesHome(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !admitPage(r.URL.Path) || strings.EqualFold(r.Host, h.host) {
			next.ServeHTTP(w, r)
			return
		}
		app, err := h.dir.ForwardAuthHostName(r.Context(), r.Host)
		if err == nil && !app {
			next.ServeHTTP(w, r)
			return
		}
		h.pages.Handler(func(w http.ResponseWriter, r *http.Request) error {
			if err != nil {
				return err
			}
			w.Header().Set("Cache-Control", "no-store")
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, h.issuer+r.URL.RequestURI(), http.StatusSeeOther)
				return nil
			}
			return directory.ForbiddenError("Sign in at " + h.issuer + ", not on an app's address.")
		}).ServeHTTP(w, r)
	})
}

// admitPage reports whether p is one of admit's pages that a session
// opens or makes. The hand-off (under /login/handoff) and sign-out are
// the app host's to reach.
func admitPage(p string) bool {
	if p == HandoffPath || strings.HasPrefix(p, HandoffPath+"/") {
		return false
	}
	for _, prefix := range []string{"/login", "/me", "/password", "/invite", "/admin", "/sso"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}
