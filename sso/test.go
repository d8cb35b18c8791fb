package sso

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// The login log's outcomes of an admin's Test sign-in.
const (
	// OutcomeTested: the answer was verified and the directory would let
	// the person in; the reason says what the login would have done.
	OutcomeTested = "tested"
	// OutcomeTestRefused: the answer or the person would be refused; the
	// reason says why.
	OutcomeTestRefused = "test refused"
)

// handleTest starts a Test sign-in: a real login at the connection, for an
// owner or admin of its account who may set up single sign-on, whose
// answer is verified as any other's and then shown to them (at return_to,
// a page of theirs) instead of signing anyone in. The mark that it is a
// test travels sealed in the pending sign-in, which only this handler
// makes, and only for a signed-in admin.
func (h *Handler) handleTest(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	visit, err := h.dir.AuthenticatePage(ctx, h.session.Token(r))
	if directory.KindOf(err) == directory.Unauthenticated {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	adm, err := h.dir.Console(ctx, visit, r.PathValue("account"))
	if err != nil {
		return err
	}
	if err := adm.Allowed(directory.ManageSSO); err != nil {
		return err
	}
	q := r.URL.Query()
	all, err := h.dir.Connections(ctx, adm.Account.ID)
	if err != nil {
		return err
	}
	for _, c := range all {
		if !strings.EqualFold(c.Name, q.Get("connection")) {
			continue
		}
		if !c.Ready() {
			return directory.ConflictError(fmt.Sprintf("Connection %s is waiting for its identity provider's metadata: give it first, then test.", c.Name))
		}
		returnTo := web.LocalPath(q.Get("return_to"), "/admin/"+url.PathEscape(adm.Account.Slug))
		h.log.InfoContext(ctx, "test sign-in started", "account", adm.Account.Slug, "connection", c.Name, "admin", adm.User.ID)
		if c.Protocol == directory.ProtocolOIDC {
			return h.startOIDC(w, r, adm.Account, c, returnTo, "", adm.User.ID)
		}
		return h.startSAML(w, r, adm.Account, c, returnTo, adm.User.ID)
	}
	return directory.NotFoundError(fmt.Sprintf("%s has no connection named %q.", adm.Account.Title(), q.Get("connection")))
}

// trySignIn ends a Test sign-in: the directory says what the login would
// do (directory.TrySignInWithSSO, which changes nothing), the login log
// keeps what arrived and that answer, and the admin is sent to see it. No
// session is started or ended.
func (h *Handler) trySignIn(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, id directory.Identity, at attempt) *refusal {
	ctx := r.Context()
	ref := web.RequestIDFrom(ctx)
	at.Identity = &id
	in, err := h.dir.TrySignInWithSSO(ctx, c, id)
	switch {
	case directory.KindOf(err) == directory.Forbidden:
		h.recordAttempt(ctx, c, OutcomeTestRefused, directory.Message(err), ref, id.Email, at)
	case err != nil:
		return refuse(http.StatusInternalServerError, ourFault, "", err)
	default:
		at.Outcome, at.Role, at.RoleFrom = in.Outcome, in.Member.Membership.Role, in.RoleFrom
		h.recordAttempt(ctx, c, OutcomeTested, in.Outcome, ref, id.Email, at)
	}
	h.log.InfoContext(ctx, "test sign-in answered", "account", a.Slug, "connection", c.Name, "reference", ref)
	http.Redirect(w, r, withReference(at.testReturn, ref), http.StatusSeeOther)
	return nil
}

// withReference adds ?ref= to a local path.
func withReference(path, ref string) string {
	u, err := url.Parse(web.LocalPath(path, "/me"))
	if err != nil {
		return "/me"
	}
	q := u.Query()
	q.Set("ref", ref)
	u.RawQuery = q.Encode()
	return u.String()
}
