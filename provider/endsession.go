package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// endSessionConfirmPath is where the person confirms a sign-out that no
// matching id_token_hint vouched for.
const endSessionConfirmPath = "/oauth/end_session/confirm"

// handleEndSession is RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0), through op's own request checks (validateEndSession):
// post_logout_redirect_uri registered for the app the id_token_hint or
// client_id names (by the rule of redirect URIs), id_token_hint signed by
// admit (expired ones too, as section 2 allows).
// The tokens the hint's own sign-in gave the app end at once
// (directory.Service.EndAppSignIn): only a holder of an ID token of that
// sign-in can ask for it, and an ID token of another sign-in (taken from
// a log) ends nothing else.
//
// The admit session of the browser ends at once only when the hint
// vouches for it (hintMatches). Otherwise the request may come from any
// site, a link or an image away (a logout CSRF, section 6): the person
// is asked, and signs out with a form post under admit's CSRF guard
// (handleConfirmEndSession). A browser with no session has nothing to
// lose and goes back to the app at once.
func (h *Handler) handleEndSession(w http.ResponseWriter, r *http.Request) error {
	ctx := op.ContextWithIssuer(r.Context(), h.issuer)
	r = r.WithContext(ctx)
	req, err := op.ParseEndSessionRequest(r, h.op.Decoder())
	if err != nil {
		return directory.InvalidError("the sign-out request cannot be read")
	}
	session, err := h.validateEndSession(ctx, req)
	if err != nil {
		return endSessionRefused(err)
	}
	if claims := session.IDTokenHintClaims; claims != nil && session.UserID != "" && session.ClientID != "" {
		if err := h.dir.EndAppSignIn(ctx, session.UserID, session.ClientID, claims.GetAuthTime()); err != nil {
			return err
		}
	}
	token := h.cookie.Token(r)
	v, err := h.dir.Authenticate(ctx, token)
	if directory.KindOf(err) == directory.Unauthenticated {
		http.Redirect(w, r, session.RedirectURI, http.StatusFound)
		return nil
	}
	if err != nil {
		return err
	}
	if hintMatches(session.IDTokenHintClaims, v) {
		if err := h.dir.EndSession(ctx, token); err != nil {
			return err
		}
		h.cookie.Clear(w)
		h.log.InfoContext(ctx, "app sign-out", "client_id", session.ClientID, "user_id", v.User.ID)
		http.Redirect(w, r, session.RedirectURI, http.StatusFound)
		return nil
	}
	data := endSessionData{Email: v.User.Email, ClientID: session.ClientID, State: req.State}
	if session.ClientID != "" {
		// op honoured it only for this app (ValidateEndSessionRequest).
		data.PostLogoutRedirectURI = req.PostLogoutRedirectURI
		app, err := h.dir.App(ctx, session.ClientID)
		if err != nil {
			return err
		}
		data.App = app.Name
	}
	h.pages.Render(w, r, http.StatusOK, h.endSessionPage, web.Page{
		Title: "Sign out of admit?", Data: data,
		// The form's answer redirects there: a browser holds the
		// redirects after a form to the CSP's form-action.
		FormTargets: []string{session.RedirectURI},
	})
	return nil
}

// endSessionData is what the confirmation page carries on to its form.
type endSessionData struct {
	App, Email                             string
	ClientID, PostLogoutRedirectURI, State string
}

// hintMatches says whether a verified id_token_hint vouches for the
// browser's session: issued to its person, in this sign-in. An ID token
// travels in logout URLs (browser history, server logs, Referer), so one
// from another sign-in, or of someone else, does not sign anybody out
// unasked: not from an earlier one, nor from a later one elsewhere (the
// person's phone, whose history a link can take to their laptop).
// auth_time is the session's start (CompleteAppAuthorization), in whole
// seconds, for every token of the session: a session is never renewed in
// place, so nothing else need be in the token to tell sessions apart.
func hintMatches(claims *oidc.IDTokenClaims, v directory.Visit) bool {
	if claims == nil || claims.Subject == "" || claims.Subject != v.User.ID {
		return false
	}
	return claims.GetAuthTime().Equal(v.Session.CreatedAt.Truncate(time.Second))
}

// handleConfirmEndSession signs the browser out after the person said so
// on the confirmation page, and goes back to the app's
// post_logout_redirect_uri, checked again as at the endpoint: the form's
// fields are the browser's word, not admit's. What ends at the app is
// this browser's sign-in, as with a hint: a confirmation is one
// browser's word too (of the person, or of whoever talked them into the
// click), and forgetting all their sign-ins spared their other browsers'
// sessions at the app the back-channel logout when the membership ends.
func (h *Handler) handleConfirmEndSession(w http.ResponseWriter, r *http.Request) error {
	ctx := op.ContextWithIssuer(r.Context(), h.issuer)
	r = r.WithContext(ctx)
	session, err := h.validateEndSession(ctx, &oidc.EndSessionRequest{
		ClientID: r.PostFormValue("client_id"), PostLogoutRedirectURI: r.PostFormValue("post_logout_redirect_uri"), State: r.PostFormValue("state"),
	})
	if err != nil {
		return endSessionRefused(err)
	}
	if token := h.cookie.Token(r); token != "" {
		v, err := h.dir.Authenticate(ctx, token)
		switch {
		case err == nil:
			if session.ClientID != "" {
				// This browser's sign-in only, and it stays recorded for
				// the back-channel logout (EndAppSignIn): the person's
				// other browsers keep their sessions at the app, and an
				// admin who ends the membership later still reaches them.
				if err := h.dir.EndAppSignIn(ctx, v.User.ID, session.ClientID, v.Session.CreatedAt); err != nil {
					return err
				}
			}
			if err := h.dir.EndSession(ctx, token); err != nil {
				return err
			}
			h.log.InfoContext(ctx, "app sign-out confirmed", "client_id", session.ClientID, "user_id", v.User.ID)
		case directory.KindOf(err) != directory.Unauthenticated:
			return err
		}
		h.cookie.Clear(w)
	}
	http.Redirect(w, r, session.RedirectURI, http.StatusSeeOther)
	return nil
}

// validateEndSession is op's ValidateEndSessionRequest (the hint and the
// client_id) with the app's post_logout_redirect_uri matched by the
// directory's rule, as its redirect URIs are
// (directory.App.AllowsPostLogoutRedirectURI): op matches a web app's
// exactly, and a native app's loopback URI on any port and any loopback
// host, localhost and https included. As op does, a
// post_logout_redirect_uri is heeded only for an app named by the hint or
// client_id, and state goes back in the query.
func (h *Handler) validateEndSession(ctx context.Context, in *oidc.EndSessionRequest) (*op.EndSessionRequest, error) {
	req := *in
	req.PostLogoutRedirectURI, req.State = "", ""
	session, err := op.ValidateEndSessionRequest(ctx, &req, h.op)
	if err != nil {
		return nil, err
	}
	if in.PostLogoutRedirectURI != "" && session.ClientID != "" {
		app, err := h.dir.App(ctx, session.ClientID)
		if err != nil {
			return nil, err
		}
		if !app.AllowsPostLogoutRedirectURI(in.PostLogoutRedirectURI) {
			return nil, oidc.ErrInvalidRequest().WithDescription("the post_logout_redirect_uri is not one registered for the app")
		}
		session.RedirectURI = in.PostLogoutRedirectURI
	}
	if in.State != "" {
		u, err := url.Parse(session.RedirectURI)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		q.Add("state", in.State)
		u.RawQuery = q.Encode()
		session.RedirectURI = u.String()
	}
	return session, nil
}

// endSessionRefused is the answer to a sign-out request op refused with
// err: the app's mistake is Invalid (400, naming it); a database that
// cannot be reached (the app's client read to check its URI) stays
// Unavailable (503, try again), and another fault of admit's a server
// error, rather than telling the app its good request was bad.
func endSessionRefused(err error) error {
	var oe *oidc.Error
	if directory.KindOf(err) == directory.Unavailable || errors.As(err, &oe) && oe.ErrorType == oidc.ServerError && directory.KindOf(err) == directory.Internal {
		return err
	}
	return directory.InvalidError("the app's sign-out request cannot be accepted: " + describe(err))
}
