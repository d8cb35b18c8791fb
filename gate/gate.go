package gate

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// VerifyPath is the forward-auth endpoint.
const VerifyPath = "/auth/verify"

// Config configures the gate.
type Config struct {
	Directory *directory.Service
	Keys      *certs.TokenKeys
	Pages     *web.Renderer
	// Issuer is ADMIT_BASE_URL, the iss of the tokens (the provider's).
	Issuer string
	// Secure is as for the session cookie (https): it names the cookie.
	Secure bool
	// Upstream, when set, is the app admit proxies to (ADMIT_UPSTREAM).
	Upstream *url.URL
	Logger   *slog.Logger
}

// Handler serves forward-auth, and the reverse proxy when there is an
// upstream.
type Handler struct {
	dir    *directory.Service
	keys   *certs.TokenKeys
	pages  *web.Renderer
	cookie web.SessionCookie
	issuer string
	// host is the host of issuer (ADMIT_BASE_URL): admit's own.
	host  string
	proxy *httputil.ReverseProxy
	log   *slog.Logger
	now   func() time.Time
	// identities and hosts are the answers kept FreshFor (see app and
	// identify).
	identities answers[http.Header]
	hosts      answers[[]directory.App]
	// fresh turns the reuse of answers on; the benchmark measures without.
	fresh bool
}

// New builds the gate.
func New(cfg Config) (*Handler, error) {
	if cfg.Directory == nil || cfg.Keys == nil || cfg.Pages == nil {
		return nil, errors.New("gate: directory, keys and pages are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := url.Parse(cfg.Issuer)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("gate: issuer %q is not a URL", cfg.Issuer)
	}
	h := &Handler{dir: cfg.Directory, keys: cfg.Keys, pages: cfg.Pages, cookie: web.SessionCookie{Secure: cfg.Secure},
		issuer: strings.TrimSuffix(cfg.Issuer, "/"), host: strings.ToLower(base.Host), log: log, now: time.Now, fresh: true}
	if cfg.Upstream != nil {
		p, err := newProxy(cfg.Upstream, log)
		if err != nil {
			return nil, err
		}
		h.proxy = p
	}
	return h, nil
}

// Register adds the routes to mux. With an upstream, the proxy takes
// every path no other route of mux claims: admit's own routes are more
// specific patterns and stay admit's.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc(VerifyPath, h.handleVerify)
	mux.HandleFunc(VerifyPath+"/", h.handleVerify)
	mux.Handle("GET "+HandoffPath, h.pages.Handler(h.handleHandoffStart))
	mux.Handle("GET "+HandoffPath+"/{token}", h.pages.Handler(h.handleHandoffFinish))
	if h.proxy != nil {
		mux.Handle("/", h.pages.Handler(h.handleProxy))
	}
}

// handleVerify answers a proxy's forward-auth request. Every method is
// served: nginx and Envoy ask with the original request's method.
func (h *Handler) handleVerify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	o, err := readForwarded(r, VerifyPath)
	if err != nil {
		h.log.InfoContext(ctx, "forward-auth refused", "reason", err)
		http.Error(w, "admit: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !webSocketOrNoUpgrade(r.Header) {
		// Caddy passes the request's Upgrade on, here and to the app. After
		// the app's 101 the proxy copies bytes and asks admit nothing more:
		// an app server that took h2c would read every later request on the
		// connection straight from the client, identity headers included.
		h.log.InfoContext(ctx, "forward-auth refused", "reason", "an upgrade other than WebSocket", "upgrade", r.Header.Values("Upgrade"))
		http.Error(w, "admit: only WebSocket upgrades are passed to apps", http.StatusBadRequest)
		return
	}
	app, err := h.app(ctx, o.Host, o.rawPath())
	if directory.KindOf(err) == directory.NotFound {
		// Never a redirect for a host nobody registered: it would send the
		// browser, and its session after sign-in, wherever the request said.
		h.log.InfoContext(ctx, "forward-auth for an unregistered host", "host", o.Host, "path", o.Path)
		http.Error(w, fmt.Sprintf("admit: no app is registered for %s%s (admit app add --forward-auth-host)", o.Host, o.Path), http.StatusForbidden)
		return
	}
	if directory.KindOf(err) == directory.Forbidden {
		h.log.InfoContext(ctx, "forward-auth refused", "reason", "a path spelled to reach two apps", "host", o.Host, "path", o.Path)
		http.Error(w, "admit: "+directory.Message(err), http.StatusForbidden)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hdr, err := h.identify(ctx, h.cookie.Token(r), app)
	switch {
	case err == nil:
		for k, v := range hdr {
			w.Header()[k] = v
		}
		w.WriteHeader(http.StatusOK)
	case directory.KindOf(err) == directory.Unauthenticated:
		// nginx's auth_request cannot pass a redirect on (anything but
		// 2xx, 401 and 403 is an error to it): it gets 401 with the
		// sign-in URL in Location, which its error_page sends the browser
		// to. Traefik and Caddy hand the response to the browser as it is,
		// so ?redirect=1 makes it the redirect itself.
		w.Header().Set("Location", h.signInURL(o))
		status := http.StatusUnauthorized
		if r.URL.Query().Get("redirect") == "1" {
			status = http.StatusFound
		}
		w.WriteHeader(status)
	case directory.KindOf(err) == directory.Forbidden:
		h.log.InfoContext(ctx, "forward-auth refused", "client_id", app.ClientID, "reason", err)
		http.Error(w, "admit: "+directory.Message(err), http.StatusForbidden)
	default:
		h.fail(w, r, err)
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if directory.KindOf(err) == directory.Unavailable {
		// The proxy passes a 503 on (nginx's auth_request answers 500 to
		// the browser for it); either way nobody is let in unchecked.
		h.log.WarnContext(r.Context(), "forward-auth: directory unavailable", "err", err)
		web.SetRetryAfter(w)
		http.Error(w, "admit: "+directory.Message(err), http.StatusServiceUnavailable)
		return
	}
	h.log.ErrorContext(r.Context(), "forward-auth", "err", err)
	http.Error(w, "admit: the request could not be checked", http.StatusInternalServerError)
}

// webSocketOrNoUpgrade reports whether a request asks to upgrade to a
// WebSocket or to nothing: the only upgrade the gate lets through.
func webSocketOrNoUpgrade(hdr http.Header) bool {
	up := hdr.Values("Upgrade")
	return len(up) == 0 || len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket")
}

// stripAdmitHeaders removes every X-Admit-* header a client sent: only
// admit sets them. Spellings with underscores (X_Admit_Email) go too: many
// app servers read both as HTTP_X_ADMIT_EMAIL.
func stripAdmitHeaders(hdr http.Header) {
	for k := range hdr {
		name := strings.ReplaceAll(k, "_", "-")
		if len(name) >= len(headerPrefix) && strings.EqualFold(name[:len(headerPrefix)], headerPrefix) {
			delete(hdr, k)
		}
	}
}
