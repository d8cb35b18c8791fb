package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// registerAccounts adds /admin: the accounts whose console the person may
// open, and for an operator every account and the form to create one.
func (h *Handler) registerAccounts(mux *http.ServeMux) {
	mux.Handle("GET /admin", h.pages.Handler(h.handleAccounts))
	mux.Handle("GET /admin/{$}", h.pages.Handler(h.handleAccounts))
	mux.Handle("POST /admin/{$}", h.pages.Protect(h.pages.Handler(h.handleCreateAccount)))
}

type accountsPage struct {
	Operator bool
	Email    string
	Accounts []directory.Account
	// Owners counts each account's active owners, for an operator: an
	// account may have none (SCIM deprovisioning), and only they name one.
	Owners map[string]int
	// The create form, as typed.
	Slug, Name, Domains string
	Problems            []string
}

// visit is the signed-in person, or a redirect to sign in (nil, nil).
func (h *Handler) visit(w http.ResponseWriter, r *http.Request) (*directory.Visit, error) {
	v, err := h.cookie.SignedIn(w, r, h.dir)
	if v != nil && v.Handoff() {
		return nil, directory.HandedOff()
	}
	return v, err
}

func (h *Handler) accountsPage(r *http.Request, v *directory.Visit) (accountsPage, error) {
	ctx := r.Context()
	p := accountsPage{Email: v.User.Email}
	var err error
	if p.Operator, err = h.dir.IsOperator(ctx, v.User.ID); err != nil {
		return p, err
	}
	if p.Operator {
		if p.Accounts, err = h.dir.Accounts(ctx); err != nil {
			return p, err
		}
		p.Owners, err = h.dir.OwnerCounts(ctx)
	} else {
		p.Accounts, err = h.dir.Consoles(ctx, *v)
	}
	return p, err
}

func (h *Handler) handleAccounts(w http.ResponseWriter, r *http.Request) error {
	v, err := h.visit(w, r)
	if v == nil {
		return err
	}
	p, err := h.accountsPage(r, v)
	if err != nil {
		return err
	}
	h.renderAccounts(w, r, http.StatusOK, p)
	return nil
}

func (h *Handler) handleCreateAccount(w http.ResponseWriter, r *http.Request) error {
	v, err := h.visit(w, r)
	if v == nil {
		return err
	}
	p, err := h.accountsPage(r, v)
	if err != nil {
		return err
	}
	p.Slug, p.Name, p.Domains = r.PostFormValue("slug"), r.PostFormValue("name"), r.PostFormValue("domains")
	a, err := h.dir.CreateAccountAsOperator(r.Context(), *v, directory.NewAccount{Slug: p.Slug, Name: p.Name, Domains: strings.Fields(strings.ReplaceAll(p.Domains, ",", " "))})
	switch directory.KindOf(err) {
	case directory.Invalid, directory.Conflict:
		p.Problems = directory.ProblemsOf(err)
		if directory.KindOf(err) == directory.Conflict {
			p.Problems = []string{"an account with slug " + strings.TrimSpace(p.Slug) + " exists already"}
		}
		h.renderAccounts(w, r, web.StatusOf(err), p)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/"+url.PathEscape(a.Slug)+"/users", http.StatusSeeOther)
	return nil
}

func (h *Handler) renderAccounts(w http.ResponseWriter, r *http.Request, status int, p accountsPage) {
	h.pages.Render(w, r, status, h.tmpl["accounts"], web.Page{Title: "Accounts", Wide: true, Data: p})
}
