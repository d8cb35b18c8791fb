package admin

import (
	"net/http"
	"strings"

	"github.com/admit-dev/admit/directory"
)

func (h *Handler) registerProvisioning(mux *http.ServeMux) {
	mux.Handle("GET /admin/{account}/scim", h.pages.Handler(h.console(h.handleProvisioning)))
	mux.Handle("POST /admin/{account}/scim/tokens", h.pages.Protect(h.pages.Handler(h.console(h.handleCreateSCIMToken))))
	mux.Handle("POST /admin/{account}/scim/tokens/{id}/revoke", h.pages.Protect(h.pages.Handler(h.console(h.handleRevokeSCIMToken))))
}

type provisioningPage struct {
	BaseURL   string // the SCIM base URL identity providers are given
	MayChange bool
	directory.Provisioning
	// Token is a token just made: shown on this response only.
	Token, TokenName string
}

func (h *Handler) provisioning(w http.ResponseWriter, r *http.Request, v view, status int, token, name string) error {
	v.Section = "scim"
	p, err := h.dir.Provisioning(r.Context(), v.Admin)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("done") == "revoked" {
		v.Notice, v.Done = "The token has been revoked: it no longer works.", "revoked"
	}
	v.Page = provisioningPage{
		BaseURL: strings.TrimSuffix(h.baseURL, "/") + "/scim/v2", MayChange: v.Admin.Can(directory.ManageProvisioning),
		Provisioning: p, Token: token, TokenName: name,
	}
	h.render(w, r, status, "scim", "Provisioning (SCIM)", v)
	return nil
}

func (h *Handler) handleProvisioning(w http.ResponseWriter, r *http.Request, v view) error {
	return h.provisioning(w, r, v, http.StatusOK, "", "")
}

// handleCreateSCIMToken answers with the page itself, not a redirect:
// the token exists in this response only (and it is not cached: pages are
// sent no-store).
func (h *Handler) handleCreateSCIMToken(w http.ResponseWriter, r *http.Request, v view) error {
	token, t, err := h.dir.AddSCIMToken(r.Context(), v.Admin, r.PostFormValue("name"))
	if directory.KindOf(err) == directory.Invalid {
		v.Problems = directory.ProblemsOf(err)
		return h.provisioning(w, r, v, http.StatusBadRequest, "", "")
	}
	if err != nil {
		return err
	}
	return h.provisioning(w, r, v, http.StatusOK, token, t.Name)
}

func (h *Handler) handleRevokeSCIMToken(w http.ResponseWriter, r *http.Request, v view) error {
	if _, err := h.dir.EndSCIMToken(r.Context(), v.Admin, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/scim?done=revoked", http.StatusSeeOther)
	return nil
}
