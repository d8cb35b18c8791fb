package admin

import (
	"net/http"

	"github.com/admit-dev/admit/directory"
)

func (h *Handler) registerBranding(mux *http.ServeMux) {
	mux.Handle("GET /admin/{account}/branding", h.pages.Handler(h.console(h.handleBranding)))
	mux.Handle("POST /admin/{account}/branding", h.pages.Protect(h.pages.Handler(h.console(h.handleSetBranding))))
}

type brandingPage struct {
	Branding  directory.Branding
	MayChange bool
}

func (h *Handler) handleBranding(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "branding"
	if r.URL.Query().Get("done") == "saved" {
		v.Notice, v.Done = "The branding has been saved.", "saved"
	}
	v.Page = brandingPage{Branding: v.Admin.Account.Branding, MayChange: v.Admin.Can(directory.ManageBranding)}
	h.render(w, r, http.StatusOK, "branding", "Branding", v)
	return nil
}

func (h *Handler) handleSetBranding(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "branding"
	b := v.Admin.Account.Branding
	b.DisplayName, b.LogoURL, b.PrimaryColor, b.SenderName = r.PostFormValue("display_name"), r.PostFormValue("logo_url"), r.PostFormValue("color"), r.PostFormValue("sender_name")
	_, err := h.dir.Rebrand(r.Context(), v.Admin, b.DisplayName, b.LogoURL, b.PrimaryColor, b.SenderName)
	if directory.KindOf(err) == directory.Invalid {
		v.Page, v.Problems = brandingPage{Branding: b, MayChange: true}, directory.ProblemsOf(err)
		h.render(w, r, http.StatusBadRequest, "branding", "Branding", v)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/branding?done=saved", http.StatusSeeOther)
	return nil
}
