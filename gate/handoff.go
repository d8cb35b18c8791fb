package gate

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// HandoffPath is where a browser is handed from admit's host to an app on
// another host, in three steps: GET HandoffPath?to=URL on the app's host
// gives the browser a nonce (a host-only cookie there) and sends it to
// admit's host with the nonce's hash; GET HandoffPath?to=URL&binding=H on
// admit's host, once signed in, gives it a code bound to the app, the URL
// and H; GET HandoffPath/{code} on the app's host turns the code into a
// session there, for the browser holding the nonce. The proxy passes
// /login/... on the app's host to admit, as the snippets do: the path sits
// under /login so that their list of admit's paths needs nothing more.
const HandoffPath = "/login/handoff"

// handoffNonceLife bounds the nonce cookie: long enough for a sign-in at
// the company's identity provider.
const handoffNonceLife = 10 * time.Minute

// nonceCookie names the hand-off nonce's cookie, like the session's.
func (h *Handler) nonceCookie() string {
	if h.cookie.Secure {
		return "__Host-admit_handoff"
	}
	return "admit_handoff"
}

// signInURL is where a browser without a session at the app of o goes.
// An app on admit's own host (a path prefix there, or admit as the proxy)
// shares admit's cookie: /login, coming back to the same path. An app on
// another host never sees admit's cookie, and single sign-on ends on
// admit's host: the hand-off, starting on the app's host.
func (h *Handler) signInURL(o original) string {
	if o.Host == h.host {
		return o.Proto + "://" + o.Host + "/login?" + url.Values{"return_to": {o.URI}}.Encode()
	}
	return o.Proto + "://" + o.Host + HandoffPath + "?" + url.Values{"to": {o.Proto + "://" + o.Host + o.URI}}.Encode()
}

// handleHandoffStart is the hand-off's first step on the app's host, and
// its second on admit's. `to` must be served by a registered forward-auth
// app (else a 400 page: never an open redirect).
func (h *Handler) handleHandoffStart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	to := r.URL.Query().Get("to")
	target, _, err := h.dir.HandoffTarget(ctx, to, h.cookie.Secure)
	if err != nil {
		return err
	}
	if host := strings.ToLower(r.Host); host != h.host {
		// On the app's host: the nonce, then admit's host. A nonce the
		// browser holds already is kept, so that two tabs signing in at
		// once both finish.
		if target.Host != host {
			return directory.InvalidError("That address is not on this host.")
		}
		nonce := ""
		if c, err := r.Cookie(h.nonceCookie()); err == nil && len(c.Value) == 43 {
			nonce = c.Value
		} else {
			nonce = directory.NewHandoffNonce()
			http.SetCookie(w, &http.Cookie{Name: h.nonceCookie(), Value: nonce, Path: "/", MaxAge: int(handoffNonceLife / time.Second),
				HttpOnly: true, Secure: h.cookie.Secure, SameSite: http.SameSiteLaxMode})
		}
		http.Redirect(w, r, h.issuer+HandoffPath+"?"+url.Values{"to": {to}, "binding": {directory.HandoffBinding(nonce)}}.Encode(), http.StatusSeeOther)
		return nil
	}
	v, err := h.dir.Authenticate(ctx, h.cookie.Token(r))
	if directory.KindOf(err) == directory.Unauthenticated {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	if v.User.PasswordMustChange {
		// Back to this step afterwards, and so on to the app.
		http.Redirect(w, r, web.PasswordChangePath(r.URL.RequestURI()), http.StatusSeeOther)
		return nil
	}
	code, u, err := h.dir.StartHandoff(ctx, v, to, r.URL.Query().Get("binding"), h.cookie.Secure)
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
	nonce := ""
	if c, err := r.Cookie(h.nonceCookie()); err == nil {
		nonce = c.Value
	}
	token, sess, target, err := h.dir.FinishHandoff(ctx, r.PathValue("token"), strings.ToLower(r.Host), nonce)
	if err != nil {
		return err
	}
	if old := h.cookie.Token(r); old != "" {
		if err := h.dir.EndHostSession(ctx, old); err != nil {
			return err
		}
	}
	h.cookie.Set(w, token, sess.ExpiresAt)
	h.log.InfoContext(ctx, "handed off", "user_id", sess.UserID, "account_id", sess.AccountID, "host", r.Host)
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// ChoosesAccount is false: a hand-off goes on in the account the person
// is signed in to (see login.Onward).
func (h *Handler) ChoosesAccount(context.Context, string) bool { return false }

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
