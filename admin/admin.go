package admin

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

//go:embed templates
var templates embed.FS

// Config configures the console.
type Config struct {
	Directory *directory.Service
	Pages     *web.Renderer
	// SSO sets up connections (sso.Setup); without it the Single sign-on
	// pages answer 404.
	SSO ConnectionSetup
	// Mail and SignIn render the Branding page's previews (mail.Renderer,
	// login.Handler); without them the previews answer 404.
	Mail   MailPreview
	SignIn SignInPreview
	// Secrets seals the signing secrets of the webhooks the Webhooks page
	// adds and rotates (events.Secrets); without it those are refused.
	Secrets WebhookSecrets
	// Sender sends the test events the webhook page sends
	// (events.Worker); without it those are refused.
	Sender WebhookSender
	// Secure is true behind HTTPS: the session cookie has the __Host- name.
	Secure bool
	// BaseURL is admit's public URL (ADMIT_BASE_URL), for the addresses
	// the console gives identity providers.
	BaseURL string
	Logger  *slog.Logger
}

// Handler serves the console's pages.
type Handler struct {
	dir     *directory.Service
	pages   *web.Renderer
	cookie  web.SessionCookie
	log     *slog.Logger
	tmpl    map[string]*template.Template
	setup   ConnectionSetup
	mail    MailPreview
	signIn  SignInPreview
	secrets WebhookSecrets
	sender  WebhookSender
	// baseURL is Config.BaseURL.
	baseURL string
}

// New parses the pages.
func New(cfg Config) (*Handler, error) {
	h := &Handler{dir: cfg.Directory, pages: cfg.Pages, cookie: web.SessionCookie{Secure: cfg.Secure}, log: cfg.Logger, tmpl: map[string]*template.Template{}, setup: cfg.SSO, baseURL: cfg.BaseURL, mail: cfg.Mail, signIn: cfg.SignIn, secrets: cfg.Secrets, sender: cfg.Sender}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range []string{"users", "person", "add", "invite", "bulk", "bulk_remove", "resend", "roles", "switch", "accounts", "security", "audit", "branding", "scim", "domains", "mail", "webhooks", "webhook", "refused"} {
		t, err := web.ParseConsolePage(templates, "templates/nav.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.tmpl[name] = t
	}
	if err := h.parseSSO(); err != nil {
		return nil, err
	}
	return h, nil
}

// Register adds the console's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	get := func(fn consoleFunc) http.Handler { return h.pages.Handler(h.console(fn)) }
	post := func(fn consoleFunc) http.Handler { return h.pages.Protect(h.pages.Handler(h.console(fn))) }
	mux.Handle("GET /admin/{account}", get(h.handleUsers))
	mux.Handle("GET /admin/{account}/{$}", get(h.handleUsers))
	mux.Handle("GET /admin/{account}/users", get(h.handleUsers))
	mux.Handle("POST /admin/{account}/users/bulk", post(h.handleBulk))
	mux.Handle("GET /admin/{account}/users/resend", get(h.handleResendForm))
	mux.Handle("POST /admin/{account}/users/resend", post(h.handleResendAll))
	mux.Handle("GET /admin/{account}/users/new", get(h.handleAddForm))
	mux.Handle("POST /admin/{account}/users/new", post(h.handleAdd))
	mux.Handle("GET /admin/{account}/invite", get(h.handleInviteForm))
	mux.Handle("POST /admin/{account}/invite", post(h.handleInvite))
	mux.Handle("GET /admin/{account}/users/{id}", get(h.handlePerson))
	mux.Handle("POST /admin/{account}/users/{id}/role", post(h.handleRole))
	mux.Handle("POST /admin/{account}/users/{id}/person", post(h.handlePersonChange))
	mux.Handle("POST /admin/{account}/users/{id}/{action}", post(h.handlePersonAction))
	mux.Handle("GET /admin/{account}/roles", get(h.handleRoles))
	h.registerSSO(mux, get, post)
	h.registerAccounts(mux)
	h.registerSecurity(mux)
	h.registerAudit(mux)
	h.registerBranding(mux)
	h.registerProvisioning(mux)
	h.registerDomains(mux)
	h.registerMail(mux)
	h.registerWebhooks(mux)
	// Anything else under an account's console is a 404 only for the
	// people who may see that the console exists.
	mux.Handle("/admin/{account}/", h.pages.Handler(h.console(func(http.ResponseWriter, *http.Request, view) error {
		return directory.NotFoundError("There is no page at this address.")
	})))
}

// view is what every console page is rendered with: the admin, where the
// page sits, and the page's own values in Page.
type view struct {
	Admin    directory.Admin
	Base     string // /admin/{slug}
	Section  string // the navigation entry of the page
	Consoles []directory.Account
	Notice   string
	Done     string // the key of the notice, after a change (doneNotices)
	Problems []string
	Page     any
}

type consoleFunc func(w http.ResponseWriter, r *http.Request, v view) error

// console runs fn for an owner or admin of the account in the path. The
// signed-out go to sign in (and come back), a password someone else set
// must be changed first (as on /me), and an admin whose session is in
// another account is offered the switch.
func (h *Handler) console(fn consoleFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		visit, err := h.cookie.SignedIn(w, r, h.dir)
		if visit == nil || err != nil {
			return err
		}
		adm, err := h.dir.Console(r.Context(), *visit, r.PathValue("account"))
		if err != nil {
			return err
		}
		consoles, err := h.dir.Consoles(r.Context(), *visit)
		if err != nil {
			return err
		}
		v := view{Admin: adm, Base: "/admin/" + url.PathEscape(adm.Account.Slug),
			Consoles: slices.DeleteFunc(consoles, func(a directory.Account) bool { return a.ID == adm.Account.ID })}
		if adm.Elsewhere {
			if r.Method != http.MethodGet {
				return directory.ForbiddenError("Your session is open in another account: switch to " + adm.Account.Title() + " first.")
			}
			v.Page = struct{ ReturnTo string }{web.LocalPath(r.URL.RequestURI(), v.Base)}
			h.render(w, r, http.StatusOK, "switch", "Switch account", v)
			return nil
		}
		err = fn(w, r, v)
		if r.Method == http.MethodPost && refusal(err) {
			return h.refused(w, r, v, err)
		}
		return err
	}
}

// refusal reports whether err is a change the directory refused for what
// the admin asked (a mistake, a rule, a clash), rather than our failure.
func refusal(err error) bool {
	switch directory.KindOf(err) {
	case directory.Invalid, directory.Forbidden, directory.Conflict, directory.NotFound, directory.Gone:
		return true
	}
	return false
}

// refused answers a change the directory refused inside the console, with
// the reason and a way back to the page the form was on: the forms that
// show their own page again with the reason (Add user, Domains…) do so
// before this; the others (a person's actions, the Users page's bulk
// actions…) would land on the bare error page, outside the console. The
// reason cannot ride a redirect: a notice in a link could say anything
// (doneNotices).
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, v view, err error) error {
	status := web.StatusOf(err)
	h.log.InfoContext(r.Context(), "request refused", "path", web.SafePath(r), "status", status, "err", err)
	section, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, v.Base+"/"), "/")
	v.Section, v.Problems = section, directory.ProblemsOf(err)
	v.Page = struct{ Back string }{backTo(r, v.Base, section)}
	h.render(w, r, status, "refused", "Not done", v)
	return nil
}

// backTo is the console page a form posted from r was on: the Referer,
// when it is one of this account's console pages on this site (browsers
// send it to the same origin: web.SecurityHeaders), else the section's
// first page.
func backTo(r *http.Request, base, section string) string {
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && (ref.Path == base || strings.HasPrefix(ref.Path, base+"/")) {
		if back := web.LocalPath(ref.RequestURI(), ""); back != "" {
			return back
		}
	}
	if consoleSections[section] {
		return base + "/" + section
	}
	return base + "/users"
}

// consoleSections are the first path segments under /admin/{account}/
// that are pages of their own.
var consoleSections = map[string]bool{
	"users": true, "invite": true, "security": true, "branding": true, "sso": true, "scim": true,
	"domains": true, "webhooks": true, "mail": true, "audit": true, "roles": true,
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, v view) {
	a := v.Admin.Account
	h.pages.Render(w, r, status, h.tmpl[name], web.Page{
		Title: title, Wide: true, Data: v,
		Branding: web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor},
	})
}

func (h *Handler) handleRoles(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "roles"
	type row struct {
		Description string
		Allowed     []bool
	}
	roles := directory.BuiltinRoles()
	var rows []row
	for _, p := range directory.Permissions() {
		allowed := make([]bool, len(roles))
		for i, role := range roles {
			allowed[i] = slices.Contains(p.Roles, role)
		}
		rows = append(rows, row{p.Description, allowed})
	}
	v.Page = struct {
		Roles []directory.Role
		Rows  []row
	}{roles, rows}
	h.render(w, r, http.StatusOK, "roles", "Roles and permissions", v)
	return nil
}
