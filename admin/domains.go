package admin

import (
	"net/http"
	"net/url"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

func (h *Handler) registerDomains(mux *http.ServeMux) {
	mux.Handle("GET /admin/{account}/domains", h.pages.Handler(h.console(h.handleDomains)))
	mux.Handle("POST /admin/{account}/domains", h.pages.Protect(h.pages.Handler(h.console(h.handleDomainAction))))
}

type domainsPage struct {
	Domains   []directory.Domain
	MayChange bool
	Name      string // the domain typed in the add form
}

var domainNotices = map[string]string{
	"added":    "The domain is claimed. Publish its DNS record, then verify it.",
	"verified": "The domain is verified.",
	"removed":  "The claim has been withdrawn.",
}

func (h *Handler) domains(w http.ResponseWriter, r *http.Request, v view, status int, typed string) error {
	v.Section = "domains"
	ds, err := h.dir.AccountDomains(r.Context(), v.Admin)
	if err != nil {
		return err
	}
	if done := r.URL.Query().Get("done"); domainNotices[done] != "" && status == http.StatusOK {
		v.Notice, v.Done = domainNotices[done], done
	}
	v.Page = domainsPage{Domains: ds, MayChange: v.Admin.Can(directory.ManageDomains), Name: typed}
	h.render(w, r, status, "domains", "Domains", v)
	return nil
}

func (h *Handler) handleDomains(w http.ResponseWriter, r *http.Request, v view) error {
	return h.domains(w, r, v, http.StatusOK, "")
}

// handleDomainAction adds, verifies or removes a domain; a refusal (a
// name that is no domain, a record not found yet) shows the page again
// with the reason.
func (h *Handler) handleDomainAction(w http.ResponseWriter, r *http.Request, v view) error {
	ctx, name := r.Context(), r.PostFormValue("domain")
	var err error
	done := ""
	switch r.PostFormValue("action") {
	case "add":
		var d directory.Domain
		d, err = h.dir.ClaimDomain(ctx, v.Admin, name)
		name, done = d.Name, "added"
	case "verify":
		_, err = h.dir.ProveDomain(ctx, v.Admin, name)
		done = "verified"
	case "remove":
		err = h.dir.WithdrawDomain(ctx, v.Admin, name)
		done = "removed"
	default:
		err = directory.InvalidError("choose add, verify or remove")
	}
	switch directory.KindOf(err) {
	case directory.Invalid, directory.Conflict, directory.NotFound:
		v.Problems = directory.ProblemsOf(err)
		typed := ""
		if r.PostFormValue("action") == "add" {
			typed = r.PostFormValue("domain")
		}
		return h.domains(w, r, v, web.StatusOf(err), typed)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/domains?done="+done+"#"+url.QueryEscape(name), http.StatusSeeOther)
	return nil
}
