package sso

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/web"
)

//go:embed templates
var templates embed.FS

// Config configures the SSO handler.
type Config struct {
	Directory *directory.Service
	Certs     *certs.Manager
	// Secrets opens OIDC client secrets.
	Secrets *certs.Sealer
	// StateKey (32 bytes, derived from the server key for this use alone)
	// seals the sign-ins a browser has in progress into its cookies. Every
	// replica needs the same.
	StateKey []byte
	// AcceptedStateKeys, during a rotation of the server key, are the
	// other keys' (ADMIT_SECRET_KEY_PREVIOUS, ADMIT_SECRET_KEY_NEXT):
	// sign-ins they sealed open, none is sealed with them.
	AcceptedStateKeys [][]byte
	Pages             *web.Renderer
	// Fetch is the guarded outbound client OpenID providers are reached
	// with (discovery, keys, token, userinfo); nil means one with the
	// default rules and nothing allowed beyond them.
	Fetch *fetch.Client
	// BaseURL is admit's public origin (ADMIT_BASE_URL): SP entity ids,
	// ACS URLs and redirect URIs are made from it.
	BaseURL string
	// Secure marks the session cookie Secure (admit served over HTTPS).
	Secure bool
	Logger *slog.Logger
	Now    func() time.Time
	// Metrics, when set, gets admit_sso_logins_total.
	Metrics prometheus.Registerer
}

// Handler serves the SSO routes.
type Handler struct {
	dir     *directory.Service
	certs   *certs.Manager
	secrets *certs.Sealer
	// client is the guarded outbound client's, for go-oidc and x/oauth2.
	client  *http.Client
	oidc    providers
	pages   *web.Renderer
	base    string
	session web.SessionCookie
	pending pendingState
	log     *slog.Logger
	now     func() time.Time
	tmpl    map[string]*template.Template
	logins  *prometheus.CounterVec
}

// New parses the pages.
func New(cfg Config) (*Handler, error) {
	h := &Handler{dir: cfg.Directory, certs: cfg.Certs, secrets: cfg.Secrets, pages: cfg.Pages, base: strings.TrimSuffix(cfg.BaseURL, "/"),
		session: web.SessionCookie{Secure: cfg.Secure}, log: cfg.Logger, now: cfg.Now, tmpl: map[string]*template.Template{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.Fetch == nil {
		cfg.Fetch = fetch.New(fetch.Config{Logger: h.log})
	}
	h.client = cfg.Fetch.HTTPClient()
	stateSealer, err := certs.NewSealer(cfg.StateKey, cfg.AcceptedStateKeys...)
	if err != nil {
		return nil, fmt.Errorf("SSO state key: %w", err)
	}
	h.pending = pendingState{sealer: stateSealer, secure: h.secureOrigin()}
	h.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "admit_sso_logins_total",
		Help: "Single sign-on logins by protocol and outcome: signed_in; refused (the answer or the person was not accepted); provider_error (the provider could not be read or refused the code); failed (admit's own error).",
	}, []string{"protocol", "outcome"})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(h.logins); err != nil {
			return nil, fmt.Errorf("register SSO metrics: %w", err)
		}
	}
	for _, name := range []string{"failure", "choose", "post", "waiting", "logout_post", "logout_redirect", "logout_failure"} {
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
	mux.Handle("GET /sso/{account}/login", h.pages.Handler(h.handleLogin))
	mux.Handle("GET /sso/{account}/test", h.pages.Handler(h.handleTest))
	mux.Handle("GET /sso/{account}/saml/{connection}/metadata", h.pages.Handler(h.handleMetadata))
	mux.Handle("POST /sso/{account}/saml/{connection}/acs", http.HandlerFunc(h.handleACS))
	// Single logout takes the HTTP-Redirect binding (GET) and HTTP-POST.
	mux.Handle("GET /sso/{account}/saml/{connection}/slo", http.HandlerFunc(h.handleSLO))
	mux.Handle("POST /sso/{account}/saml/{connection}/slo", http.HandlerFunc(h.handleSLO))
	mux.Handle("GET /sso/{account}/oidc/{connection}/callback", http.HandlerFunc(h.handleCallback))
	// Third-party initiated login may come as a GET or a form POST.
	mux.Handle("GET /sso/{account}/oidc/{connection}/initiate", h.pages.Handler(h.handleInitiate))
	mux.Handle("POST /sso/{account}/oidc/{connection}/initiate", h.pages.Handler(h.handleInitiate))
}

// URLs are what an identity provider's admin needs of a connection: the
// SAML service provider's, or the OIDC client's.
type URLs = directory.ConnectionURLs

// SAMLURLs returns the connection's SP URLs.
func SAMLURLs(baseURL, accountSlug, connectionName string) URLs {
	base := strings.TrimSuffix(baseURL, "/") + "/sso/" + url.PathEscape(accountSlug)
	conn := base + "/saml/" + url.PathEscape(connectionName)
	return URLs{EntityID: conn + "/metadata", ACS: conn + "/acs", SLO: conn + "/slo", Metadata: conn + "/metadata", IntranetURL: base + "/login"}
}

// secureOrigin says whether browsers treat admit's origin as secure:
// https, or http on localhost.
func (h *Handler) secureOrigin() bool {
	u, err := url.Parse(h.base)
	if err != nil {
		return false
	}
	host := u.Hostname()
	return u.Scheme == "https" || host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host).IsLoopback()
}

// handleLogin is the intranet link: it picks the account's connection
// (by ?connection=, by the email's domain, or the only one) and starts
// the login there.
func (h *Handler) handleLogin(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, err := h.dir.Account(ctx, r.PathValue("account"))
	if directory.KindOf(err) == directory.NotFound {
		return directory.NotFoundError("There is no single sign-on at this address. Check the link you followed.")
	}
	if err != nil {
		return err
	}
	all, err := h.dir.Connections(ctx, a.ID)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return web.WithHeading("Single sign-on is not set up", directory.NotFoundError(a.Title()+" has not set up single sign-on yet. Ask your administrator."))
	}
	q := r.URL.Query()
	// A connection still waiting for its identity provider is never
	// picked: only named, and then it says so.
	ready := slices.DeleteFunc(slices.Clone(all), func(c directory.Connection) bool { return !c.Ready() })
	var c directory.Connection
	switch name, email := q.Get("connection"), strings.TrimSpace(q.Get("email")); {
	case name != "":
		i := slices.IndexFunc(all, func(c directory.Connection) bool { return strings.EqualFold(c.Name, name) })
		if i < 0 {
			return directory.NotFoundError(fmt.Sprintf("%s has no single sign-on connection named %q.", a.Title(), name))
		}
		if c = all[i]; !c.Ready() {
			return h.renderWaiting(w, r, a, c)
		}
	case len(ready) == 0:
		return h.renderWaiting(w, r, a, all[0])
	case len(ready) == 1:
		c = ready[0]
	case email != "":
		if c, err = h.dir.ConnectionForEmail(ctx, a.ID, email); directory.KindOf(err) == directory.NotFound {
			return h.renderChoose(w, r, a, ready, http.StatusBadRequest, email, "No identity provider of "+a.Title()+" serves that address. Check it, or ask your administrator.")
		} else if err != nil {
			return err
		}
	default:
		return h.renderChoose(w, r, a, ready, http.StatusOK, "", "")
	}
	returnTo := h.returnTo(c, q.Get("return_to"))
	if c.Protocol == directory.ProtocolOIDC {
		return h.startOIDC(w, r, a, c, returnTo, q.Get("email"), "")
	}
	return h.startSAML(w, r, a, c, returnTo, "")
}

// LoginPath is where an email's single sign-on starts: the intranet link
// of the account, naming the connection and the address (passed on to the
// provider as a hint).
func LoginPath(accountSlug, connectionName, email string) string {
	return "/sso/" + url.PathEscape(accountSlug) + "/login?" + url.Values{"connection": {connectionName}, "email": {email}}.Encode()
}

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// connectionAt finds the account and its connection of the protocol named
// in the path.
func (h *Handler) connectionAt(ctx context.Context, r *http.Request, protocol directory.Protocol) (directory.Account, directory.Connection, error) {
	a, err := h.dir.Account(ctx, r.PathValue("account"))
	if err != nil {
		return directory.Account{}, directory.Connection{}, err
	}
	all, err := h.dir.Connections(ctx, a.ID)
	if err != nil {
		return a, directory.Connection{}, err
	}
	for _, c := range all {
		if c.Protocol == protocol && strings.EqualFold(c.Name, r.PathValue("connection")) && (protocol != directory.ProtocolOIDC || c.Settings.OIDC != nil) {
			return a, c, nil
		}
	}
	return a, directory.Connection{}, directory.NotFoundError(fmt.Sprintf("There is no %s connection at this address.", strings.ToUpper(string(protocol))))
}

// renderWaiting answers a login at a connection still waiting for its
// identity provider. 409, not 404: the link is right and will work once the
// connection is finished; not 5xx: nothing failed, and monitoring should
// not page anyone over a setup in progress.
func (h *Handler) renderWaiting(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection) error {
	h.log.InfoContext(r.Context(), "single sign-on not finished", "account", a.Slug, "connection", c.Name)
	h.pages.Render(w, r, http.StatusConflict, h.tmpl["waiting"], web.Page{
		Title: "Single sign-on not finished", Branding: branding(a),
		Data: map[string]string{"PasswordLogin": passwordLogin(r.URL.Query().Get("email"), r.URL.Query().Get("return_to"))},
	})
	return nil
}

func (h *Handler) renderChoose(w http.ResponseWriter, r *http.Request, a directory.Account, all []directory.Connection, status int, email, problem string) error {
	h.pages.Render(w, r, status, h.tmpl["choose"], web.Page{
		Title: "Sign in", Branding: branding(a), FormTargets: h.loginEndpoints(r.Context(), all),
		Data: map[string]string{"Action": "/sso/" + url.PathEscape(a.Slug) + "/login", "Email": email, "Error": problem,
			"ReturnTo": web.LocalPath(r.URL.Query().Get("return_to"), ""), "PasswordLogin": passwordLogin(email, r.URL.Query().Get("return_to"))},
	})
	return nil
}

// loginEndpoints are where the connections send a browser to sign in (the
// SAML single sign-on URL, the OIDC authorization endpoint): the choose
// page's form ends in a redirect there, which its CSP must allow. A
// provider that cannot be discovered now is left out; its login fails on
// admit's own failure page anyway.
func (h *Handler) loginEndpoints(ctx context.Context, all []directory.Connection) []string {
	var out []string
	for _, c := range all {
		switch {
		case c.Protocol == directory.ProtocolSAML:
			if md, err := ParseMetadata([]byte(c.Metadata)); err == nil {
				loc, _ := ssoEndpoint(md)
				out = append(out, loc)
			}
		case c.Settings.OIDC != nil:
			if p, err := h.provider(ctx, c); err == nil {
				out = append(out, p.Endpoint().AuthURL)
			}
		}
	}
	return out
}

// passwordLogin is the password sign-in page, keeping the typed address
// and the destination.
func passwordLogin(email, returnTo string) string {
	q := url.Values{}
	if email != "" {
		q.Set("email", email)
	}
	if p := web.LocalPath(returnTo, ""); p != "" {
		q.Set("return_to", p)
	}
	if len(q) == 0 {
		return "/login"
	}
	return "/login?" + q.Encode()
}

func branding(a directory.Account) web.Branding {
	return web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor}
}

// returnTo keeps a requested destination when it is a path on this site
// or on an origin the connection allows; anything else lands on /me.
func (h *Handler) returnTo(c directory.Connection, s string) string {
	if p := web.LocalPath(s, ""); p != "" {
		return p
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return "/me"
	}
	origin := u.Scheme + "://" + u.Host
	if slices.Contains(c.Settings.ReturnHosts, origin) {
		return u.String()
	}
	return "/me"
}

// refusal is a login that failed: what the person is told, what their IT
// admin should hear, and the reason for the log (never shown).
type refusal struct {
	status   int
	message  string
	forAdmin string
	reason   error
}

func (e *refusal) Error() string { return e.reason.Error() }

// Our failure because the directory is out of reach is a 503 that says to
// try again shortly, whatever the caller chose.
func refuse(status int, message, forAdmin string, reason error) *refusal {
	if status == http.StatusInternalServerError && directory.KindOf(reason) == directory.Unavailable {
		status, message = http.StatusServiceUnavailable, directory.Message(reason)
	}
	return &refusal{status: status, message: message, forAdmin: forAdmin, reason: reason}
}

// attempt is what the login log keeps of one login.
type attempt struct {
	Subject  string              `json:"subject,omitempty"`
	Claims   directory.Claims    `json:"claims,omitempty"`
	Identity *directory.Identity `json:"identity,omitempty"`
	Outcome  string              `json:"outcome,omitempty"`
	Role     directory.Role      `json:"role,omitempty"`
	RoleFrom string              `json:"role_from,omitempty"`
	IDPInit  bool                `json:"idp_initiated,omitempty"`
	// Test marks an admin's Test sign-in (see trySignIn).
	Test bool `json:"test,omitempty"`
	// Logout is, for a single logout, who started it: "idp-initiated"
	// (the provider's LogoutRequest) or "sp-initiated" (the answer to
	// admit's); Subject is then the NameID the request named.
	Logout         string   `json:"logout,omitempty"`
	SessionIndexes []string `json:"session_indexes,omitempty"`
	// MessageID is the LogoutRequest's id (InResponseTo, for an answer).
	MessageID string `json:"message_id,omitempty"`
	// Sessions is how many sessions the LogoutRequest ended.
	Sessions int `json:"sessions,omitempty"`
	// testReturn is where a Test sign-in's result is shown.
	testReturn string
	// verified: the provider's answer was verified (SAML signature, OIDC
	// ID token) and is not a copy of one seen before.
	verified bool
}

// fail logs a refused login, records it in the connection's login log
// (when there is a connection) and shows the failure page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, a directory.Account, c *directory.Connection, rf *refusal, at attempt) {
	ref := web.RequestIDFrom(r.Context())
	if at.Test && c != nil {
		// The admin testing the connection sees why, in their console.
		h.log.InfoContext(r.Context(), "test sign-in refused", "account", a.Slug, "connection", c.Name, "reason", rf.reason.Error(), "reference", ref)
		email := ""
		if at.Identity != nil {
			email = at.Identity.Email
		}
		reason := rf.reason.Error()
		if rf.forAdmin != "" {
			reason = rf.forAdmin + ": " + reason
		}
		h.recordAttempt(r.Context(), *c, OutcomeTestRefused, reason, ref, email, at)
		http.Redirect(w, r, withReference(at.testReturn, ref), http.StatusSeeOther)
		return
	}
	level := slog.LevelInfo
	if rf.status >= 500 {
		level = slog.LevelError // our failure, not the IdP's or the person's
	}
	h.log.Log(r.Context(), level, "single sign-on refused", "account", a.Slug, "connection", nameOf(c), "reason", rf.reason.Error(), "reference", ref)
	h.logins.WithLabelValues(protocolOf(c), outcomeOf(rf.status)).Inc()
	if c != nil {
		email := ""
		if at.Identity != nil {
			email = at.Identity.Email
		}
		h.recordAttempt(r.Context(), *c, "refused", rf.reason.Error(), ref, email, at)
	}
	if rf.status == http.StatusServiceUnavailable {
		web.SetRetryAfter(w)
	}
	retry := "/login"
	if a.Slug != "" {
		retry = "/sso/" + url.PathEscape(a.Slug) + "/login"
	}
	h.pages.Render(w, r, rf.status, h.tmpl["failure"], web.Page{
		Title: "Sign-in failed", Branding: branding(a),
		Data: map[string]string{"Message": rf.message, "ForAdmin": rf.forAdmin, "Retry": retry},
	})
}

// outcomeOf names a refusal's status for admit_sso_logins_total.
func outcomeOf(status int) string {
	switch {
	case status == http.StatusInternalServerError, status == http.StatusServiceUnavailable:
		return "failed" // ours (503: the directory was unavailable), not the provider's
	case status >= 500:
		return "provider_error"
	}
	return "refused"
}

func protocolOf(c *directory.Connection) string {
	if c == nil {
		return "unknown"
	}
	return string(c.Protocol)
}

func nameOf(c *directory.Connection) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func (h *Handler) recordAttempt(ctx context.Context, c directory.Connection, outcome, reason, ref, email string, at attempt) {
	detail, err := json.Marshal(at)
	if err != nil {
		detail = []byte(`{}`)
	}
	err = h.dir.RecordLoginAttempt(context.WithoutCancel(ctx), directory.LoginAttempt{
		ConnectionID: c.ID, Outcome: outcome, Reason: reason, Reference: ref, Email: email, Detail: detail, Verified: at.verified,
	})
	if err != nil {
		h.log.ErrorContext(ctx, "record login attempt", "connection", c.ID, "err", err)
	}
}

// signIn hands the verified identity to the directory and opens the
// session: the common end of every protocol's login.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, cred directory.Credential, id directory.Identity, at attempt, returnTo string) *refusal {
	ctx := r.Context()
	at.Identity = &id
	in, err := h.dir.SignInWithSSO(ctx, c, id)
	if directory.KindOf(err) == directory.Forbidden {
		return refuse(http.StatusForbidden, directory.Message(err), "", err)
	}
	if err != nil {
		return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
	}
	// A browser that was signed in before gets a new session: no session
	// outlives a sign-in on the same browser.
	if old := h.session.Token(r); old != "" {
		if err := h.dir.EndSession(ctx, old); err != nil {
			return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
		}
	}
	token, sess, err := h.dir.StartSession(ctx, in.Member.User.ID, a.ID, cred)
	if directory.KindOf(err) == directory.Forbidden {
		return refuse(http.StatusForbidden, directory.Message(err), "", err)
	}
	if err != nil {
		return refuse(http.StatusInternalServerError, "Something went wrong on our side. Please try again in a moment.", "", err)
	}
	at.Outcome, at.Role, at.RoleFrom = in.Outcome, in.Member.Membership.Role, in.RoleFrom
	h.recordAttempt(ctx, c, "signed in", in.Outcome, web.RequestIDFrom(ctx), id.Email, at)
	h.log.InfoContext(ctx, "signed in with SSO", "account", a.Slug, "connection", c.Name, "user_id", in.Member.User.ID, "outcome", in.Outcome)
	h.logins.WithLabelValues(string(c.Protocol), "signed_in").Inc()
	h.session.Set(w, token, sess.ExpiresAt)
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
	return nil
}
