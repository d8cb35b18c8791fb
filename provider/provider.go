package provider

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

//go:embed templates
var templates embed.FS

// The provider's own paths beside op's.
const (
	continuePath = "/oauth/authorize/continue"
	// signedOutPath is where logout lands without a registered
	// post_logout_redirect_uri.
	signedOutPath = "/login"
)

// Config configures the provider.
type Config struct {
	Directory *directory.Service
	Keys      *certs.TokenKeys
	Pages     *web.Renderer
	// Issuer is ADMIT_BASE_URL.
	Issuer string
	// Key (32 bytes or more, from the server key) seals the access tokens
	// op hands out; every replica must have the same.
	Key []byte
	// AcceptedKeys, during a rotation of the server key, are the other
	// keys' (ADMIT_SECRET_KEY_PREVIOUS, ADMIT_SECRET_KEY_NEXT): access
	// tokens and authorization requests they sealed open, none is sealed
	// with them.
	AcceptedKeys [][]byte
	// Secure is as for the session cookie (https).
	Secure bool
	Logger *slog.Logger
}

// Handler serves the provider's routes.
type Handler struct {
	dir    *directory.Service
	store  *storage
	pages  *web.Renderer
	cookie web.SessionCookie
	op     *op.Provider
	// authorizer is op with admit's checks of an authorization request;
	// it answers them (authorize.go).
	authorizer authorizer
	issuer     string
	log        *slog.Logger
	// endSessionPage asks the person before a sign-out no
	// id_token_hint vouched for (handleEndSession).
	endSessionPage *template.Template
}

// New builds the provider.
func New(cfg Config) (*Handler, error) {
	if len(cfg.Key) < 32 {
		return nil, fmt.Errorf("provider key: want 32 bytes or more, got %d", len(cfg.Key))
	}
	derived, requestKey, err := providerKeys(cfg.Key)
	if err != nil {
		return nil, err
	}
	// Access tokens: op's own AES-GCM format, sealed with the key and
	// opened with it or an accepted one (op reads its older AES-CFB
	// format too, as its default does).
	var key [32]byte
	copy(key[:], derived)
	current := op.NewAES256GCMCrypto(key, "")
	decrypters := []op.Decrypter{current, op.NewAESDecrypter(key)}
	var acceptedRequests [][]byte
	for _, k := range cfg.AcceptedKeys {
		if len(k) < 32 {
			return nil, fmt.Errorf("accepted provider key: want 32 bytes or more, got %d", len(k))
		}
		d, r, err := providerKeys(k)
		if err != nil {
			return nil, err
		}
		copy(key[:], d)
		decrypters = append(decrypters, op.NewAES256GCMCrypto(key, ""))
		acceptedRequests = append(acceptedRequests, r)
	}
	requests, err := certs.NewSealer(requestKey, acceptedRequests...)
	if err != nil {
		return nil, err
	}
	st := &storage{dir: cfg.Directory, keys: cfg.Keys, requests: requests}
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	opts := []op.Option{
		op.WithCustomAuthEndpoint(op.NewEndpoint("oauth/authorize")),
		op.WithCustomTokenEndpoint(op.NewEndpoint("oauth/token")),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint("oauth/introspect")),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint("oauth/userinfo")),
		op.WithCustomRevocationEndpoint(op.NewEndpoint("oauth/revoke")),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint("oauth/end_session")),
		op.WithCustomKeysEndpoint(op.NewEndpoint("oauth/keys")),
		op.WithCrypto(op.NewCompositeCrypto(current, decrypters)),
	}
	if strings.HasPrefix(issuer, "http://") {
		// ADMIT_BASE_URL on http is for development on localhost.
		opts = append(opts, op.WithAllowInsecure())
	}
	conf := &op.Config{
		CodeMethodS256: true, AuthMethodPost: true, GrantTypeRefreshToken: true,
		BackChannelLogoutSupported: true, BackChannelLogoutSessionSupported: true,
		DefaultLogoutRedirectURI: signedOutPath,
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeOfflineAccess},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "at_hash", "c_hash", "sid",
			"name", "given_name", "family_name", "email", "email_verified", "account", "role", "groups"},
	}
	copy(conf.CryptoKey[:], derived) // WithCrypto above is what uses it
	p, err := op.NewProvider(conf, st, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("OpenID provider: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	endSessionPage, err := web.ParsePage(templates, "templates/end_session.html")
	if err != nil {
		return nil, err
	}
	return &Handler{dir: cfg.Directory, store: st, pages: cfg.Pages, cookie: web.SessionCookie{Secure: cfg.Secure}, op: p, authorizer: authorizer{Provider: p, issuer: issuer}, issuer: issuer, log: log,
		endSessionPage: endSessionPage}, nil
}

// providerKeys derives from the provider's key keys of their own for op's
// access tokens and for the requests in sign-in URLs, whatever else the
// given key is used for.
func providerKeys(k []byte) (accessTokens, requests []byte, err error) {
	if accessTokens, err = hkdf.Key(sha256.New, k, nil, "admit provider access tokens", 32); err != nil {
		return nil, nil, fmt.Errorf("provider key: %w", err)
	}
	if requests, err = hkdf.Key(sha256.New, k, nil, "admit provider authorization requests", 32); err != nil {
		return nil, nil, fmt.Errorf("provider key: %w", err)
	}
	return accessTokens, requests, nil
}

// authorizePath is the authorization endpoint, where a browser, not an
// app, is answered.
const authorizePath = "/oauth/authorize"

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+oidc.DiscoveryEndpoint, h.handleDiscovery)
	mux.Handle("/oauth/", h.opLog(h.appTransport(h.onceEach(h.advertisedGrants(h.redirectURIRequired(h.wellFormedVerifier(h.outageAware(h.introspectionFaults(readForm(h.op))))))))))
	mux.Handle(authorizePath, h.opLog(h.pageErrors(h.outageAware(http.HandlerFunc(h.handleAuthorize)))))
	mux.Handle("GET "+continuePath, h.opLog(h.pages.Handler(h.handleContinue)))
	// op's own callback would hand out the code of a finished
	// authorization to whoever knows its id; the code goes out only in
	// the answer to the browser that signed in (handleContinue).
	mux.Handle("/oauth/authorize/callback", h.pages.Handler(func(http.ResponseWriter, *http.Request) error {
		return directory.NotFoundError("There is no page at this address.")
	}))
	mux.Handle("/oauth/end_session", h.pages.Handler(h.handleEndSession))
	mux.Handle("POST "+endSessionConfirmPath, h.pages.Protect(h.pages.Handler(h.handleConfirmEndSession)))
}

// handleDiscovery is op's discovery document, saying only what admit
// does: op lists the implicit flow and the JWT bearer grant whatever the
// provider serves, and no response modes, which means query and fragment
// (OpenID Connect Discovery 1.0 section 3); it names a device
// authorization endpoint that admit does not route (op serves it only
// beside a DeviceAuthorizationStorage), and signing algorithms for
// private_key_jwt at introspection and revocation, which no app can use
// (apps have secrets, not keys). A library that picks from the document
// must not pick what is refused; TestDiscoveryEndpointsAnswer calls all
// of it.
func (h *Handler) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	cfg := op.CreateDiscoveryConfig(op.ContextWithIssuer(r.Context(), h.issuer), h.op, h.store)
	cfg.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	cfg.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	cfg.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken} // as advertisedGrants
	cfg.DeviceAuthorizationEndpoint = ""
	// client_secret_post too, as at the token endpoint (readForm).
	cfg.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	cfg.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	cfg.RevocationEndpointAuthSigningAlgValuesSupported = nil
	// Public, and read by single-page apps from their own origin.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	// op's document has no member for RFC 9207 section 3 (the authorizer
	// puts iss in every authorization response), nor for the prompt values
	// (OpenID Connect Prompt Create 1.0 section 4.1 defines
	// prompt_values_supported): admit honours none, login, consent (it asks
	// nothing: apps are the operator's) and select_account (TestPromptValues),
	// not create (people join by invitation, SCIM or their SSO).
	httphelper.MarshalJSON(w, &struct {
		*oidc.DiscoveryConfiguration
		IssParameter bool     `json:"authorization_response_iss_parameter_supported"`
		PromptValues []string `json:"prompt_values_supported"`
	}{cfg, true, []string{string(oidc.PromptNone), string(oidc.PromptLogin), string(oidc.PromptConsent), string(oidc.PromptSelectAccount)}})
}

// handleContinue is the sign-in step of an authorization: a browser
// without a session signs in first and comes back; then the directory
// decides the account and whether the person may use the app, and the app
// gets a code, or access_denied.
func (h *Handler) handleContinue(w http.ResponseWriter, r *http.Request) error {
	ctx := op.ContextWithIssuer(r.Context(), h.issuer)
	r = r.WithContext(ctx)
	id := r.URL.Query().Get("id")
	a, err := h.store.open(id)
	if err == nil {
		err = h.dir.CheckAppAuthorization(a)
	}
	if err != nil {
		return err
	}
	v, err := h.dir.Authenticate(ctx, h.cookie.Token(r))
	if err == nil && v.Handoff() {
		return directory.HandedOff()
	}
	if directory.KindOf(err) == directory.Unauthenticated && a.NoPrompt {
		// OIDC Core section 3.1.2.6: no page may be shown.
		op.AuthRequestError(w, r, &authRequest{AppAuthorization: a}, oidc.ErrLoginRequired(), h.authorizer)
		return nil
	}
	if directory.KindOf(err) == directory.Unauthenticated {
		h.cookie.Clear(w)
		target := "/login?return_to=" + url.QueryEscape(continuePath+"?id="+url.QueryEscape(id))
		if _, err := directory.NormalizeEmail(a.LoginHint); err == nil {
			// login_hint as an email fills in the sign-in form, whose home
			// realm discovery then offers the account's SSO.
			target += "&email=" + url.QueryEscape(a.LoginHint)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	if a.NoPrompt && a.HintSubject != "" && a.HintSubject != v.User.ID {
		// id_token_hint names another person than the one signed in here:
		// no code for someone the app did not ask about (OIDC Core section
		// 3.1.2.1).
		op.AuthRequestError(w, r, &authRequest{AppAuthorization: a}, oidc.ErrLoginRequired(), h.authorizer)
		return nil
	}
	if h.dir.AppNeedsSignIn(a, v) {
		// prompt=login or max_age: the person signs in again, as
		// themself (OIDC Core section 3.1.2.1). The old session ends so
		// that the sign-in page asks instead of passing them on.
		if a.NoPrompt {
			op.AuthRequestError(w, r, &authRequest{AppAuthorization: a}, oidc.ErrLoginRequired(), h.authorizer)
			return nil
		}
		if err := h.dir.EndSession(ctx, h.cookie.Token(r)); err != nil {
			return err
		}
		h.cookie.Clear(w)
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {continuePath + "?id=" + url.QueryEscape(id)}, "email": {v.User.Email}}.Encode(), http.StatusSeeOther)
		return nil
	}
	if v.User.PasswordMustChange {
		if a.NoPrompt {
			// The password change is a page (OIDC Core section 3.1.2.6).
			op.AuthRequestError(w, r, &authRequest{AppAuthorization: a}, oidc.ErrInteractionRequired(), h.authorizer)
			return nil
		}
		// Back here afterwards: the app's request goes on.
		http.Redirect(w, r, web.PasswordChangePath(continuePath+"?id="+url.QueryEscape(id)), http.StatusSeeOther)
		return nil
	}
	choose, err := h.dir.AppOffersAccountChoice(ctx, a, v)
	if err != nil {
		return err
	}
	if choose {
		// prompt=select_account: the account chooser, and back here with
		// the request sealed anew as chosen, so that the choice is asked
		// once and counts (directory.AppAuthorization.AccountChosen).
		next, err := h.store.seal(a.AccountChosen())
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/login/account?return_to="+url.QueryEscape(continuePath+"?id="+url.QueryEscape(next)), http.StatusSeeOther)
		return nil
	}
	done, err := h.dir.CompleteAppAuthorization(ctx, a, v)
	if directory.KindOf(err) == directory.Forbidden {
		h.log.InfoContext(ctx, "app sign-in refused", "client_id", a.ClientID, "user_id", v.User.ID, "reason", err)
		op.AuthRequestError(w, r, &authRequest{AppAuthorization: a}, oidc.ErrAccessDenied().WithDescription("%s", directory.Message(err)), h.authorizer)
		dropOpLines(ctx) // the line above has the reason, op's does not
		return nil
	}
	if err != nil {
		return err
	}
	h.log.InfoContext(ctx, "app sign-in", "client_id", done.ClientID, "user_id", done.UserID, "account_id", done.AccountID)
	op.AuthResponse(&authRequest{AppAuthorization: done}, h.authorizer, w, r)
	return nil
}

// Origins is where a sign-in that returns to returnTo continues past
// admit: for this package's sign-in step, the redirect URI of the app's
// request (the sign-in form's CSP must allow it; see login.Onward).
func (h *Handler) Origins(_ context.Context, returnTo string) []string {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != continuePath {
		return nil
	}
	a, err := h.store.open(u.Query().Get("id"))
	if err != nil {
		return nil
	}
	return []string{a.RedirectURI}
}

// ChoosesAccount reports whether the sign-in step at returnTo shows the
// person the account chooser itself, when they have several accounts: an
// authorization with prompt=select_account that leaves the account to
// them (handleContinue). The sign-in that returns there then does not
// show it first (see login.Onward), or a person who never chose an
// account was asked twice.
func (h *Handler) ChoosesAccount(ctx context.Context, returnTo string) bool {
	u, err := url.Parse(returnTo)
	if err != nil || u.Path != continuePath {
		return false
	}
	a, err := h.store.open(u.Query().Get("id"))
	if err != nil {
		return false
	}
	asks, err := h.dir.AppAsksAccountChoice(ctx, a)
	return err == nil && asks
}

func describe(err error) string {
	if e, ok := err.(*oidc.Error); ok && e.Description != "" {
		return e.Description
	}
	return "it is not valid"
}

// pageErrors shows op's plain-text refusals at the authorize endpoint (an
// unknown client, a redirect URI not registered: RFC 6749 section 4.1.2.1
// forbids redirecting those) as a readable admit page.
func (h *Handler) pageErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &capture{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		if cw.captured {
			msg := strings.TrimSpace(cw.body.String())
			dropOpLines(r.Context()) // op's line says the same as this one
			h.log.InfoContext(r.Context(), "app sign-in request refused", "client_id", r.FormValue("client_id"), "status", cw.status, "reason", msg)
			h.pages.Error(w, r, cw.status, "The app's sign-in request cannot be accepted: "+msg)
		}
	})
}

// outageAware answers 503 with Retry-After, as admit's other endpoints
// do, when op refused a request while the database was out of reach: op
// turns a storage error into server_error (500), or into invalid_grant or
// invalid_client, which would tell an app its code or its credentials are
// wrong. An error answer is held back until the database is asked whether
// it answers; a success goes out as it is.
func (h *Handler) outageAware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &holdErrors{ResponseWriter: w}
		next.ServeHTTP(hw, r)
		if !hw.held {
			return
		}
		if err := h.dir.Ping(r.Context()); directory.KindOf(err) == directory.Unavailable {
			// This line says what happened; op's own (a server_error, or an
			// invalid_grant that is really the outage) would mislead.
			dropOpLines(r.Context())
			h.log.WarnContext(r.Context(), "OpenID provider request during a database outage", "path", r.URL.Path, "status", hw.status, "err", err)
			for k := range w.Header() {
				w.Header().Del(k)
			}
			if r.URL.Path == authorizePath {
				// A browser: the page every other one gets in an outage.
				h.pages.Handler(func(http.ResponseWriter, *http.Request) error { return err }).ServeHTTP(w, r)
				return
			}
			web.SetRetryAfter(w)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"the directory is unavailable for a moment; please try again shortly"}` + "\n"))
			return
		}
		h.writeOAuthError(w, r, hw.status, hw.body.Bytes())
	})
}

// holdErrors passes a success through and keeps an error answer.
type holdErrors struct {
	http.ResponseWriter
	status int
	held   bool
	body   bytes.Buffer
}

func (hw *holdErrors) WriteHeader(status int) {
	if status >= 400 {
		hw.status, hw.held = status, true
		return
	}
	hw.ResponseWriter.WriteHeader(status)
}

func (hw *holdErrors) Write(b []byte) (int, error) {
	if hw.held {
		// op's error answers are a line of JSON or text.
		if hw.body.Len() < 64<<10 {
			hw.body.Write(b)
		}
		return len(b), nil
	}
	return hw.ResponseWriter.Write(b)
}

// capture keeps a plain-text error response instead of sending it.
type capture struct {
	http.ResponseWriter
	status   int
	captured bool
	body     bytes.Buffer
}

func (c *capture) WriteHeader(status int) {
	if status >= 400 && strings.HasPrefix(c.Header().Get("Content-Type"), "text/plain") {
		c.status, c.captured = status, true
		c.Header().Del("Content-Type")
		c.Header().Del("X-Content-Type-Options")
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.captured {
		if c.body.Len() < 4096 {
			c.body.Write(b)
		}
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}
