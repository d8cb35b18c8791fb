package gate

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/admit-dev/admit/directory"
)

// HandoffPath is where a browser signed in on admit's host is handed to an
// app on another host: GET HandoffPath?to=URL on admit's host gives it a
// code, GET HandoffPath/{code} on the app's host (which passes /login/...
// to admit, as the proxy snippets do) turns the code into a session there.
// It sits under /login so that the snippets' list of admit's paths needs
// nothing more.
const HandoffPath = "/login/handoff"

// signInURL is where a browser without a session at the app of o goes.
// An app on admit's own host (a path prefix there, or admit as the proxy)
// shares admit's cookie: /login, coming back to the same path. An app on
// another host never sees admit's cookie, and single sign-on ends on
// admit's host: the browser signs in there (or is signed in already) and
// is handed back with a code.
func (h *Handler) signInURL(o original) string {
	if o.Host == h.host {
		return o.Proto + "://" + o.Host + "/login?" + url.Values{"return_to": {o.URI}}.Encode()
	}
	return h.issuer + HandoffPath + "?" + url.Values{"to": {o.Proto + "://" + o.Host + o.URI}}.Encode()
}

// handleHandoffStart runs on admit's host: a signed-in browser gets a code
// for the app that serves to (a registered forward-auth app, or a 400
// page: never an open redirect); anyone else signs in first and comes
// back here.
func (h *Handler) handleHandoffStart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	to := r.URL.Query().Get("to")
	if _, _, err := h.dir.HandoffTarget(ctx, to, h.cookie.Secure); err != nil {
		return err
	}
	v, err := h.dir.Authenticate(ctx, h.cookie.Token(r))
	if directory.KindOf(err) == directory.Unauthenticated {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {HandoffPath + "?" + url.Values{"to": {to}}.Encode()}}.Encode(), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	if v.User.PasswordMustChange {
		http.Redirect(w, r, "/password/change", http.StatusSeeOther)
		return nil
	}
	code, u, err := h.dir.StartHandoff(ctx, v, to, h.cookie.Secure)
	if err != nil {
		return err
	}
	http.Redirect(w, r, u.Scheme+"://"+u.Host+HandoffPath+"/"+code, http.StatusSeeOther)
	return nil
}

// handleHandoffFinish runs on the app's host: the code opens a session for
// this host (its own cookie, ending any session this browser had here) and
// the browser lands where it was going.
func (h *Handler) handleHandoffFinish(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	token, sess, target, err := h.dir.FinishHandoff(ctx, r.PathValue("token"), strings.ToLower(r.Host))
	if err != nil {
		return err
	}
	if old := h.cookie.Token(r); old != "" {
		if err := h.dir.EndSession(ctx, old); err != nil {
			return err
		}
	}
	h.cookie.Set(w, token, sess.ExpiresAt)
	h.log.InfoContext(ctx, "handed off", "user_id", sess.UserID, "account_id", sess.AccountID, "host", r.Host)
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// Origins is where a sign-in that returns to returnTo continues past
// admit: for a hand-off, the app's origin. A browser applies the sign-in
// form's CSP form-action to the redirects that follow it (see
// login.Onward), so the form must allow the app's host.
func (h *Handler) Origins(ctx context.Context, returnTo string) []string {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != HandoffPath || u.Host != "" {
		return nil
	}
	to, _, err := h.dir.HandoffTarget(ctx, u.Query().Get("to"), h.cookie.Secure)
	if err != nil {
		return nil
	}
	return []string{to.Scheme + "://" + to.Host}
}
