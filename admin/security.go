package admin

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/admit-dev/admit/directory"
)

func (h *Handler) registerSecurity(mux *http.ServeMux) {
	mux.Handle("GET /admin/{account}/security", h.pages.Handler(h.console(h.handleSecurity)))
	mux.Handle("POST /admin/{account}/security", h.pages.Protect(h.pages.Handler(h.console(h.handleSetSecurity))))
}

type securityPage struct {
	Security directory.Security
	// MinLength and InitialDays are the numbers as typed, shown again
	// after a mistake.
	MinLength, InitialDays string
	MayChange              bool
	Explain                string
	// The limits set for the whole installation.
	IdleHours, MaxDays int
	MinPassword        int
	MaxPassword        int
}

func (h *Handler) securityPage(v view, sec directory.Security) securityPage {
	return securityPage{
		Security: sec, MinLength: strconv.Itoa(sec.Password.MinLength), InitialDays: strconv.Itoa(initialDays(sec.Password)),
		MayChange: v.Admin.Can(directory.ManageSecurity), Explain: sec.Password.Explain(),
		IdleHours: int(directory.SessionIdleTimeout.Hours()), MaxDays: int(directory.SessionMaxAge.Hours() / 24),
		MinPassword: directory.MinPasswordLength, MaxPassword: directory.MaxPasswordLength,
	}
}

func initialDays(p directory.PasswordPolicy) int {
	return int(p.InitialPasswordTTL().Hours() / 24)
}

func (h *Handler) handleSecurity(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "security"
	a := v.Admin.Account
	if r.URL.Query().Get("done") == "saved" {
		v.Notice, v.Done = "The security settings have been saved.", "saved"
	}
	v.Page = h.securityPage(v, directory.Security{Password: a.PasswordPolicy, SignIn: a.SignIn})
	h.render(w, r, http.StatusOK, "security", "Security", v)
	return nil
}

func (h *Handler) handleSetSecurity(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "security"
	in := directory.Security{
		Password: directory.PasswordPolicy{
			RequireUpper: r.PostFormValue("require_upper") == "1", RequireLower: r.PostFormValue("require_lower") == "1",
			RequireDigit: r.PostFormValue("require_digit") == "1", RequireSymbol: r.PostFormValue("require_symbol") == "1",
		},
		SignIn: directory.SignInPolicy{SSORequired: r.PostFormValue("sso_required") == "1", BreakGlassOwners: r.PostFormValue("break_glass") == "1"},
	}
	minLength, initial := strings.TrimSpace(r.PostFormValue("min_length")), strings.TrimSpace(r.PostFormValue("initial_days"))
	var problems []string
	n, err := strconv.Atoi(minLength)
	if err != nil {
		problems = append(problems, "the minimum length must be a whole number")
	}
	in.Password.MinLength = n
	if in.Password.InitialPasswordDays, err = strconv.Atoi(initial); err != nil || in.Password.InitialPasswordDays < 1 {
		problems = append(problems, "an initial password may last from 1 to 90 days")
	}
	if len(problems) == 0 {
		_, err := h.dir.SetSecurity(r.Context(), v.Admin, in)
		if directory.KindOf(err) == directory.Invalid {
			problems = directory.ProblemsOf(err)
		} else if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		p := h.securityPage(v, in)
		p.MinLength, p.InitialDays = minLength, initial
		v.Page, v.Problems = p, problems
		h.render(w, r, http.StatusBadRequest, "security", "Security", v)
		return nil
	}
	http.Redirect(w, r, v.Base+"/security?done=saved", http.StatusSeeOther)
	return nil
}
