package login

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

//go:embed templates
var templates embed.FS

// SSOOption is an account's single sign-on, offered (or, when Required,
// enforced) instead of the password form for the emails of its domains.
type SSOOption struct {
	AccountName string
	URL         string // where the SSO login starts: /sso/{account}/login
	Required    bool
	// OwnersMayUsePassword keeps the password form for a Required account
	// whose owners have a break-glass password; the directory refuses
	// everyone else's password.
	OwnersMayUsePassword bool
}

// Realms finds the SSO of an email's domain: home realm discovery. The SSO
// packages provide it; without one, everyone signs in with a password.
type Realms interface {
	SSOFor(ctx context.Context, email string) (SSOOption, bool, error)
}

// Onward names where a sign-in continues past admit: for a return_to that
// is the sign-in step of an app of admit's OpenID provider, the app's
// redirect URI. A browser applies the CSP's form-action to the redirects
// that follow a form, so the sign-in forms must allow it, for that sign-in
// only.
//
// ChoosesAccount reports whether the step at returnTo shows the account
// chooser itself to a person with several accounts (an app that asked
// them to choose, prompt=select_account): a first sign-in, which shows it
// to a person who never chose one, then goes straight on, so that the
// person is asked once.
type Onward interface {
	Origins(ctx context.Context, returnTo string) []string
	ChoosesAccount(ctx context.Context, returnTo string) bool
}

// SingleLogout continues a sign-out at the identity provider whose
// sign-in opened the session (SAML single logout, package sso). The
// session has ended before it is called. It reports whether it answered
// the request; false leaves the answer, admit's signed-out page, to the
// caller.
type SingleLogout interface {
	ContinueLogout(w http.ResponseWriter, r *http.Request, out directory.SignedOut) bool
}

// Config configures the sign-in pages.
type Config struct {
	Directory *directory.Service
	Pages     *web.Renderer
	Realms    Realms       // optional
	Onward    Onward       // optional
	Logout    SingleLogout // optional
	// Secure marks the session cookie Secure and gives it the __Host- prefix.
	Secure bool
	Logger *slog.Logger
	// Apart counts the work that runs after an answer, apart from its
	// request (afterAnswer), for the server to wait for when it stops: a
	// reset mail asked for just before is still queued. Nil counts none.
	Apart *sync.WaitGroup
}

// Handler serves the sign-in and self-service pages.
type Handler struct {
	dir    *directory.Service
	pages  *web.Renderer
	realms Realms
	onward Onward
	logout SingleLogout
	secure bool
	log    *slog.Logger
	cookie web.SessionCookie
	device deviceCookie
	tmpl   map[string]*template.Template
	// afterSlots bounds the work running after answers (afterAnswer).
	afterSlots chan struct{}
	apart      *sync.WaitGroup
}

// New parses the pages.
func New(cfg Config) (*Handler, error) {
	h := &Handler{dir: cfg.Directory, pages: cfg.Pages, realms: cfg.Realms, onward: cfg.Onward, logout: cfg.Logout, secure: cfg.Secure, log: cfg.Logger,
		cookie: web.SessionCookie{Secure: cfg.Secure}, device: deviceCookie{secure: cfg.Secure}, tmpl: map[string]*template.Template{},
		afterSlots: make(chan struct{}, maxAfterAnswer), apart: cfg.Apart}
	if h.apart == nil {
		h.apart = &sync.WaitGroup{}
	}
	for _, name := range []string{"login", "choose", "me", "password_change", "logout", "reset_request", "reset"} {
		t, err := web.ParsePage(templates, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.tmpl[name] = t
	}
	return h, nil
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	protect := func(fn web.HandlerFunc) http.Handler { return h.pages.Protect(h.pages.Handler(fn)) }
	mux.Handle("GET /login", h.pages.Handler(h.handleLoginForm))
	mux.Handle("POST /login", protect(h.handleLogin))
	mux.Handle("GET /login/account", h.pages.Handler(h.signedIn(h.handleChoose, false)))
	mux.Handle("POST /login/account", protect(h.signedIn(h.handleSwitch, false)))
	mux.Handle("GET /logout", h.pages.Handler(h.handleLogoutForm))
	mux.Handle("POST /logout", protect(h.handleLogout))
	mux.Handle("POST /logout/everywhere", protect(h.signedIn(h.handleLogoutEverywhere, false)))
	mux.Handle("GET /me", h.pages.Handler(h.signedIn(h.handleMe, true)))
	mux.Handle("POST /me", protect(h.signedIn(h.handleUpdateName, true)))
	mux.Handle("GET /password/change", h.pages.Handler(h.signedIn(h.handlePasswordForm, false)))
	mux.Handle("POST /password/change", protect(h.signedIn(h.handlePasswordChange, false)))
	mux.Handle("GET /password/reset", h.pages.Handler(h.handleResetRequestForm))
	mux.Handle("POST /password/reset", protect(h.handleResetRequest))
	mux.Handle("GET /password/reset/{token}", h.pages.Handler(h.handleResetForm))
	mux.Handle("POST /password/reset/{token}", protect(h.handleReset))
}

// visitHandler is a page for signed-in people.
type visitHandler func(w http.ResponseWriter, r *http.Request, v directory.Visit) error

// signedIn runs fn for a signed-in person, sending anyone else to /login
// (and back here afterwards). With gated, a person whose password was set
// by someone else is sent to change it first: nothing else is reachable
// until they have.
func (h *Handler) signedIn(fn visitHandler, gated bool) web.HandlerFunc {
	gate := h.cookie.SignedInAsIs
	if gated {
		gate = h.cookie.SignedIn
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		v, err := gate(w, r, h.dir)
		if v == nil {
			return err
		}
		return fn(w, r, *v)
	}
}

func (h *Handler) visit(r *http.Request) (directory.Visit, error) {
	token := h.cookie.Token(r)
	if token == "" {
		return directory.Visit{}, directory.UnauthenticatedError("Please sign in.")
	}
	return h.dir.AuthenticatePage(r.Context(), token)
}

func (h *Handler) setCookie(w http.ResponseWriter, token string, s directory.Session) {
	h.cookie.Set(w, token, s.ExpiresAt)
}

func (h *Handler) clearCookie(w http.ResponseWriter) { h.cookie.Clear(w) }

// withReturnTo sends a person on to their single sign-on with where they
// were going (an app's sign-in step, say), unless that is the default.
func withReturnTo(ssoURL, returnTo string) string {
	u, err := url.Parse(ssoURL)
	if err != nil || returnTo == localPath("") {
		return ssoURL
	}
	q := u.Query()
	q.Set("return_to", returnTo)
	u.RawQuery = q.Encode()
	return u.String()
}

// onwardChooses reports whether the step at returnTo shows the account
// chooser itself (Onward.ChoosesAccount).
func (h *Handler) onwardChooses(r *http.Request, returnTo string) bool {
	return h.onward != nil && h.onward.ChoosesAccount(r.Context(), returnTo)
}

// onwardOf is where the forms of a sign-in that returns to returnTo may
// lead besides admit.
func (h *Handler) onwardOf(r *http.Request, returnTo string) []string {
	if h.onward == nil {
		return nil
	}
	return h.onward.Origins(r.Context(), returnTo)
}

// localPath keeps return_to on this site; anything else lands on /me.
func localPath(s string) string { return web.LocalPath(s, "/me") }

// loginForm is the sign-in page, which has two steps. The first asks for
// the email alone. The second (Step2) shows what the address's domain offers:
// the password form, its account's SSO beside it, or, when the account
// requires SSO, the SSO alone (with a small password route for owners where
// they keep a break-glass password). What the second step offers depends on
// the domain only, never on whether the address has an account, so the
// page tells nobody who has one.
type loginForm struct {
	Email    string
	ReturnTo string
	Error    string
	Notice   string
	Step2    bool
	SSO      *SSOOption
	// Password is whether the second step has a password form, and
	// OwnersOnly whether that form is the break-glass route of an account
	// that requires SSO (folded away, for its owners).
	Password, OwnersOnly bool
	// Preview is the console's Branding preview, in a sandboxed frame
	// where autofocus is refused.
	Preview bool
	// AnotherEmail is the first step again, keeping return_to.
	AnotherEmail string
}

// secondStep is the form's second step for an address whose domain offers
// sso (nil: no SSO).
func (f loginForm) secondStep(sso *SSOOption) loginForm {
	if sso != nil {
		// The SSO goes on to where the person was going (an app's
		// sign-in step, say), as the password form does.
		withReturn := *sso
		withReturn.URL = withReturnTo(sso.URL, f.ReturnTo)
		sso = &withReturn
	}
	f.Step2, f.SSO = true, sso
	f.Password = sso == nil || !sso.Required || sso.OwnersMayUsePassword
	f.OwnersOnly = sso != nil && sso.Required
	f.AnotherEmail = "/login?" + url.Values{"return_to": {f.ReturnTo}}.Encode()
	return f
}

// ssoFor is home realm discovery: the SSO of the email's domain, or nil.
func (h *Handler) ssoFor(ctx context.Context, email string) (*SSOOption, error) {
	if h.realms == nil {
		return nil, nil
	}
	opt, ok, err := h.realms.SSOFor(ctx, email)
	if err != nil || !ok {
		return nil, err
	}
	return &opt, nil
}

// PreviewSignIn writes the sign-in page in branding b, as the console's
// Branding page previews it.
func (h *Handler) PreviewSignIn(w http.ResponseWriter, r *http.Request, b web.Branding) {
	h.pages.Render(w, r, http.StatusOK, h.tmpl["login"], web.Page{Title: "Sign in", Branding: b, Data: loginForm{Preview: true}})
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, f loginForm) {
	h.pages.Render(w, r, status, h.tmpl["login"], web.Page{Title: "Sign in", Data: f, FormTargets: h.onwardOf(r, f.ReturnTo)})
}

// handleLoginForm shows the first step, or the second when the link names
// an email (the reset page and invitations send people here with theirs).
func (h *Handler) handleLoginForm(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.visit(r); err == nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("return_to")), http.StatusSeeOther)
		return nil
	}
	q := r.URL.Query()
	f := loginForm{ReturnTo: localPath(q.Get("return_to")), Email: strings.TrimSpace(q.Get("email"))}
	switch {
	case q.Get("reset") == "done":
		f.Notice = "Your new password is saved. Sign in with it."
	case q.Get("signed_out") == "everywhere":
		f.Notice = "You are signed out everywhere: on every device, in every account, and in the apps you signed in to through admit."
	}
	if _, err := directory.NormalizeEmail(f.Email); err == nil {
		sso, err := h.ssoFor(r.Context(), f.Email)
		if err != nil {
			return err
		}
		f = f.secondStep(sso)
	}
	h.renderLogin(w, r, http.StatusOK, f)
	return nil
}

// handleLogin is both steps. A post without a password field is the
// first step and answers with the second; a post with one signs in, also
// straight from the first step, as scripts and password managers that
// post email and password together do.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) error {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	_, withPassword := r.PostForm["password"]
	form := loginForm{Email: email, ReturnTo: localPath(r.PostFormValue("return_to"))}
	if !withPassword {
		if _, err := directory.NormalizeEmail(email); err != nil {
			form.Error = "Enter your email address, like name@example.com."
			h.renderLogin(w, r, http.StatusBadRequest, form)
			return nil
		}
	}
	sso, err := h.ssoFor(r.Context(), email)
	if err != nil {
		return err
	}
	form = form.secondStep(sso)
	// A password for an address whose account requires its SSO (a script,
	// or a password manager that filled a field the page does not have)
	// gets the SSO step, not a redirect: the identity provider is on
	// another site, and a browser's CSP form-action refuses a form post
	// redirected there.
	if !withPassword || !form.Password {
		h.renderLogin(w, r, http.StatusOK, form)
		return nil
	}
	if password == "" {
		form.Error = "Enter your password."
		h.renderLogin(w, r, http.StatusBadRequest, form)
		return nil
	}
	in, err := h.dir.SignIn(r.Context(), email, password, directory.Client{Addr: clientAddr(r), Device: h.device.token(r)})
	switch kind := directory.KindOf(err); {
	case err == nil:
	case kind == directory.Unauthenticated, kind == directory.Throttled, kind == directory.Forbidden:
		status := http.StatusUnauthorized
		if kind == directory.Throttled {
			status = http.StatusTooManyRequests
		} else if kind == directory.Forbidden {
			status = http.StatusForbidden
		}
		form.Error = directory.Message(err)
		h.renderLogin(w, r, status, form)
		// The audit of a wrong password for a person's address comes
		// after the answer: only such an address costs it, and the
		// answer's timing must not tell which addresses those are.
		h.afterAnswer(w, r, "record failed sign-in", func(ctx context.Context) error {
			return h.dir.RecordFailedSignIn(ctx, err)
		})
		return nil
	default:
		return fmt.Errorf("sign in: %w", err)
	}
	accountID := in.Preferred
	if accountID == "" {
		accountID = in.Accounts[0].ID
	}
	// A browser that was signed in before gets a new session, and the old
	// one ends: no session outlives a sign-in on the same browser.
	if token := h.cookie.Token(r); token != "" {
		if err := h.dir.EndSession(r.Context(), token); err != nil {
			return err
		}
	}
	token, sess, err := h.dir.StartSession(r.Context(), in.User.ID, accountID, directory.ByPassword)
	if err != nil {
		return err
	}
	h.setCookie(w, token, sess)
	h.device.set(w, in.Device, sess.CreatedAt)
	h.log.InfoContext(r.Context(), "signed in", "user_id", in.User.ID, "account_id", accountID)
	switch {
	case in.User.PasswordMustChange:
		http.Redirect(w, r, web.PasswordChangePath(form.ReturnTo), http.StatusSeeOther)
	case in.Preferred == "" && !h.onwardChooses(r, form.ReturnTo):
		http.Redirect(w, r, "/login/account?return_to="+url.QueryEscape(form.ReturnTo), http.StatusSeeOther)
	default:
		http.Redirect(w, r, form.ReturnTo, http.StatusSeeOther)
	}
	return nil
}

// clientAddr is the address throttling counts against: the connection's
// peer, or behind the proxies of ADMIT_TRUSTED_PROXIES the client they
// name (web.TrustedProxies.RealClient); package directory decides which
// addresses count as one. Behind a proxy not named there it is the proxy,
// and the per-address bound holds for everyone behind it as a whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (h *Handler) handleChoose(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	accounts, err := h.dir.AccountsOf(r.Context(), v)
	if err != nil {
		return err
	}
	returnTo := localPath(r.URL.Query().Get("return_to"))
	h.pages.Render(w, r, http.StatusOK, h.tmpl["choose"], web.Page{
		Title: "Choose an account", FormTargets: h.onwardOf(r, returnTo),
		Data: struct {
			Accounts []directory.Account
			ReturnTo string
		}{accounts, returnTo},
	})
	return nil
}

func (h *Handler) handleSwitch(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	if err := h.dir.SwitchAccount(r.Context(), v, r.PostFormValue("account")); err != nil {
		return err
	}
	target := localPath(r.PostFormValue("return_to"))
	if v.User.PasswordMustChange {
		target = web.PasswordChangePath(target)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// logoutPage is what the sign-out page shows.
type logoutPage struct {
	SignedOut bool
	// IdPUnconfirmed: the person signed out of admit, and their identity
	// provider did not confirm signing them out there (single logout).
	IdPUnconfirmed bool
}

// handleLogoutForm asks to confirm a sign-out. ?signed_out=1 is where a
// single logout at the identity provider lands (package sso), with
// idp=unconfirmed when the provider did not confirm: it says "signed out"
// only to a browser that is, so a link cannot tell someone signed in that
// they are not.
func (h *Handler) handleLogoutForm(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("signed_out") != "" {
		if _, err := h.dir.Authenticate(r.Context(), h.cookie.Token(r)); directory.KindOf(err) == directory.Unauthenticated {
			h.pages.Render(w, r, http.StatusOK, h.tmpl["logout"], web.Page{Title: "Signed out", Data: logoutPage{SignedOut: true, IdPUnconfirmed: q.Get("idp") == "unconfirmed"}})
			return nil
		} else if err != nil {
			return err
		}
	}
	h.pages.Render(w, r, http.StatusOK, h.tmpl["logout"], web.Page{Title: "Sign out", Data: logoutPage{}})
	return nil
}

// handleLogout ends the browser's session; one a SAML sign-in opened goes
// on to sign out at its identity provider too (SingleLogout), after
// admit's has ended, whatever becomes of that.
func (h *Handler) handleLogout(w http.ResponseWriter, r *http.Request) error {
	out, err := h.dir.SignOut(r.Context(), h.cookie.Token(r))
	if err != nil {
		return err
	}
	h.clearCookie(w)
	if h.logout != nil && h.logout.ContinueLogout(w, r, out) {
		return nil
	}
	h.pages.Render(w, r, http.StatusOK, h.tmpl["logout"], web.Page{Title: "Signed out", Data: logoutPage{SignedOut: true}})
	return nil
}

// handleLogoutEverywhere ends every session of the person, this one too,
// and shows the sign-in page saying so.
func (h *Handler) handleLogoutEverywhere(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	if err := h.dir.SignOutEverywhere(r.Context(), v); err != nil {
		return err
	}
	h.clearCookie(w)
	http.Redirect(w, r, "/login?signed_out=everywhere", http.StatusSeeOther)
	return nil
}

type mePage struct {
	User     directory.User
	Account  directory.Account
	Accounts []directory.Account
	// Console is the path of the open account's admin console, for an
	// owner or admin of it: /me is where a sign-in lands and where the
	// console's "Your home" leads, so the way back starts here.
	Console  string
	Notice   string
	Problems []string
}

func branding(a directory.Account) web.Branding {
	return web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor}
}

func (h *Handler) renderMe(w http.ResponseWriter, r *http.Request, status int, v directory.Visit, notice string, problems []string) error {
	accounts, err := h.dir.AccountsOf(r.Context(), v)
	if err != nil {
		return err
	}
	consoles, err := h.dir.Consoles(r.Context(), v)
	if err != nil {
		return err
	}
	console := ""
	if slices.ContainsFunc(consoles, func(a directory.Account) bool { return a.ID == v.Account.ID }) {
		console = "/admin/" + url.PathEscape(v.Account.Slug)
	}
	h.pages.Render(w, r, status, h.tmpl["me"], web.Page{
		Title: "Your home", Branding: branding(v.Account),
		Data: mePage{User: v.User, Account: v.Account, Accounts: accounts, Console: console, Notice: notice, Problems: problems},
	})
	return nil
}

func (h *Handler) handleMe(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	notice := ""
	if r.URL.Query().Get("changed") == "password" {
		notice = "Your password has been changed. You were signed out everywhere else."
	}
	return h.renderMe(w, r, http.StatusOK, v, notice, nil)
}

func (h *Handler) handleUpdateName(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	u, err := h.dir.UpdateName(r.Context(), v, r.PostFormValue("first_name"), r.PostFormValue("last_name"))
	if directory.KindOf(err) == directory.Invalid {
		return h.renderMe(w, r, http.StatusBadRequest, v, "", directory.ProblemsOf(err))
	}
	if err != nil {
		return err
	}
	v.User = u
	return h.renderMe(w, r, http.StatusOK, v, "Your name has been saved.", nil)
}

// renderPassword is the password change form. returnTo is where the
// person goes on to afterwards (an app's sign-in step, when a password
// someone else set stopped a sign-in on its way), "" for their home page;
// the form allows what follows it there, as the sign-in form does.
func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, status int, v directory.Visit, returnTo string, problems []string) error {
	policy, _, err := h.dir.PolicyForUser(r.Context(), v.User.ID)
	if err != nil {
		return err
	}
	h.pages.Render(w, r, status, h.tmpl["password_change"], web.Page{
		Title: "Change your password", Branding: branding(v.Account), FormTargets: h.onwardOf(r, returnTo),
		Data: struct {
			Forced   bool
			ReturnTo string
			Policy   directory.PasswordPolicy
			Problems []string
		}{v.User.PasswordMustChange, returnTo, policy, problems},
	})
	return nil
}

// passwordReturnTo is where a password change goes on to: a local path
// (never another site), or "" for the home page, which says the password
// was changed.
func passwordReturnTo(s string) string {
	if s = localPath(s); s == localPath("") {
		return ""
	}
	return s
}

func (h *Handler) handlePasswordForm(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	return h.renderPassword(w, r, http.StatusOK, v, passwordReturnTo(r.URL.Query().Get("return_to")), nil)
}

func (h *Handler) handlePasswordChange(w http.ResponseWriter, r *http.Request, v directory.Visit) error {
	returnTo := passwordReturnTo(r.PostFormValue("return_to"))
	next := r.PostFormValue("password")
	if next != r.PostFormValue("confirm") {
		return h.renderPassword(w, r, http.StatusBadRequest, v, returnTo, []string{"the two new passwords are not the same"})
	}
	token, sess, err := h.dir.ChangePassword(r.Context(), v, r.PostFormValue("current"), next)
	if directory.KindOf(err) == directory.Invalid {
		return h.renderPassword(w, r, http.StatusBadRequest, v, returnTo, directory.ProblemsOf(err))
	}
	if err != nil {
		return err
	}
	h.setCookie(w, token, sess)
	target := "/me?changed=password"
	if returnTo != "" {
		target = returnTo
	}
	// A person with several accounts who never chose one chooses now,
	// unless the next step asks them.
	if accounts, err := h.dir.AccountsOf(r.Context(), v); err == nil && len(accounts) > 1 && v.User.LastAccountID == "" && !h.onwardChooses(r, target) {
		target = "/login/account?return_to=" + url.QueryEscape(target)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

type resetRequest struct {
	Email string
	Sent  bool
	// SSO is the company sign-in of an address whose account requires
	// it: such people get no reset link, and the page says where to go.
	// It depends on the address's domain only, as on the sign-in page, so
	// it tells nothing about whether the person has an account.
	SSO *SSOOption
}

func (h *Handler) handleResetRequestForm(w http.ResponseWriter, r *http.Request) error {
	h.pages.Render(w, r, http.StatusOK, h.tmpl["reset_request"], web.Page{Title: "Reset your password", Data: resetRequest{Email: r.URL.Query().Get("email")}})
	return nil
}

// handleResetRequest answers the same whether or not the email has an
// account: the page must not tell anyone who does. It answers before the
// work, which only a known address costs (a link, its email, the audit
// event: about ten times the reads of an unknown one), so the answer's
// timing does not tell either. A failure of that work is logged; the
// person, told to check their email, asks again.
func (h *Handler) handleResetRequest(w http.ResponseWriter, r *http.Request) error {
	email := strings.TrimSpace(r.PostFormValue("email"))
	data := resetRequest{Email: email, Sent: true}
	sso, err := h.ssoFor(r.Context(), email)
	if err != nil {
		return err
	}
	if sso != nil && sso.Required {
		data.SSO = sso
	}
	h.pages.Render(w, r, http.StatusOK, h.tmpl["reset_request"], web.Page{Title: "Check your email", Data: data})
	h.afterAnswer(w, r, "password reset request", func(ctx context.Context) error {
		return h.dir.RequestPasswordReset(ctx, email)
	})
	return nil
}

// maxAfterAnswer bounds how many afterAnswer works run at once.
const maxAfterAnswer = 16

// afterAnswer sends what was rendered and then does work that must not
// show in the answer's timing (work only a known address costs), apart
// from the request. Done in the handler after the answer, it still held
// the connection: HTTP/1.1 serves a connection's requests one after
// another, so the next request on it waited for the work, and its answer's
// timing told what the first one's no longer did.
//
// The work runs on a context that outlives the client's hang-up, for at
// most a minute; its failure is logged (the person, told to check their
// email, asks again). At most maxAfterAnswer run apart at once, so a flood
// of anonymous requests starts no unbounded goroutines (DESIGN rule 12);
// past that the work runs in the handler, as before, where a flood's own
// load blurs its timing. The server waits for the work running apart when
// it stops (Config.Apart).
func (h *Handler) afterAnswer(w http.ResponseWriter, r *http.Request, what string, work func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
	run := func() {
		defer cancel()
		if err := work(ctx); err != nil {
			h.log.ErrorContext(ctx, what, "err", err)
		}
	}
	select {
	case h.afterSlots <- struct{}{}:
		// Counted before the answer goes: whoever waits for Config.Apart
		// once the answer has come sees this work.
		h.apart.Add(1)
		web.Answered(w)
		go func() {
			defer h.apart.Done()
			defer func() { <-h.afterSlots }()
			// Out of the request, no middleware recovers a panic: one
			// here would end the process.
			defer func() {
				if p := recover(); p != nil {
					h.log.ErrorContext(ctx, what, "panic", p, "stack", string(debug.Stack()))
				}
			}()
			run()
		}()
	default:
		web.Answered(w)
		run()
	}
}

func (h *Handler) renderReset(w http.ResponseWriter, r *http.Request, status int, link directory.ResetLink, problems []string) {
	h.pages.Render(w, r, status, h.tmpl["reset"], web.Page{
		Title: "Choose a new password", Branding: branding(link.Account),
		Data: struct {
			Email, Action string
			Policy        directory.PasswordPolicy
			Problems      []string
		}{link.User.Email, r.URL.Path, link.Policy, problems},
	})
}

func (h *Handler) handleResetForm(w http.ResponseWriter, r *http.Request) error {
	link, err := h.dir.OpenResetLink(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	h.renderReset(w, r, http.StatusOK, link, nil)
	return nil
}

func (h *Handler) handleReset(w http.ResponseWriter, r *http.Request) error {
	token := r.PathValue("token")
	link, err := h.dir.OpenResetLink(r.Context(), token)
	if err != nil {
		return err
	}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("confirm") {
		h.renderReset(w, r, http.StatusBadRequest, link, []string{"the two passwords are not the same"})
		return nil
	}
	done, err := h.dir.CompletePasswordReset(r.Context(), token, password)
	if directory.KindOf(err) == directory.Invalid {
		h.renderReset(w, r, http.StatusBadRequest, link, directory.ProblemsOf(err))
		return nil
	}
	if err != nil {
		return err
	}
	h.clearCookie(w)
	// This browser proved the address: a stranger's lockout of it does
	// not hold it, as for a browser that signed in before.
	h.device.set(w, done.Device, time.Now())
	http.Redirect(w, r, "/login?reset=done&email="+url.QueryEscape(done.User.Email), http.StatusSeeOther)
	return nil
}
