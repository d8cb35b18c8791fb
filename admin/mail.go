package admin

import (
	"net/http"

	"github.com/admit-dev/admit/directory"
)

// mailPageSize is how many of the newest messages the Mail page lists.
const mailPageSize = 100

func (h *Handler) registerMail(mux *http.ServeMux) {
	mux.Handle("GET /admin/{account}/mail", h.pages.Handler(h.console(h.handleMail)))
}

func (h *Handler) handleMail(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "mail"
	msgs, err := h.dir.AccountMail(r.Context(), v.Admin, mailPageSize)
	if err != nil {
		return err
	}
	v.Page = struct{ Messages []directory.MailMessage }{msgs}
	h.render(w, r, http.StatusOK, "mail", "Mail", v)
	return nil
}
