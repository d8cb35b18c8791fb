package gate

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

// admitResponseHeaders are the headers admit's middleware puts on its own
// pages; the app's responses carry the app's own instead (admit's strict
// CSP would break the app's pages).
var admitResponseHeaders = []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
	"Referrer-Policy", "Cross-Origin-Opener-Policy", "Permissions-Policy"}

func newProxy(upstream *url.URL, log *slog.Logger) (*httputil.ReverseProxy, error) {
	if upstream.Scheme != "http" && upstream.Scheme != "https" || upstream.Host == "" || upstream.User != nil {
		return nil, fmt.Errorf("upstream %q must be an http or https URL like http://127.0.0.1:3000", upstream.Redacted())
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
			// The app sees the host the browser asked for, as behind any
			// proxy that keeps it (nginx proxy_set_header Host $host).
			pr.Out.Host = pr.In.Host
		},
		// Streaming responses (server-sent events, chunked downloads) go
		// to the browser as they come.
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.ErrorContext(r.Context(), "upstream", "err", err)
			http.Error(w, "admit: the app is not answering", http.StatusBadGateway)
		},
	}, nil
}

// handleProxy passes a request to the upstream app with the identity
// headers of its session, or sends the browser to sign in.
func (h *Handler) handleProxy(w http.ResponseWriter, r *http.Request) error {
	// First, whatever follows: a client's X-Admit-* never reaches the app.
	stripAdmitHeaders(r.Header)
	o := original{Proto: "http", Host: strings.ToLower(r.Host), URI: r.URL.RequestURI(), Path: r.URL.Path}
	if strings.HasPrefix(h.issuer, "https://") {
		o.Proto = "https"
	}
	// admit stands in front of one app, at its own host: a request for
	// another registered host (sent to admit's listener with a made-up
	// Host) would be judged by that app's rules and passed to this one.
	if o.Host != hostOf(h.issuer) {
		return directory.NotFoundError(fmt.Sprintf("admit passes only requests for %s to its app.", hostOf(h.issuer)))
	}
	if directory.HasDotSegment(o.Path) {
		// Judged by one prefix's app, the raw path goes on: the app may
		// resolve it into another's (as /auth/verify refuses it too).
		return directory.InvalidError("This address has . or .. in its path.")
	}
	app, err := h.app(r.Context(), o.Host, o.rawPath())
	if directory.KindOf(err) == directory.NotFound {
		return directory.NotFoundError(fmt.Sprintf("No app is registered for %s (admit app add --forward-auth-host %s).", o.Host, o.Host))
	}
	if err != nil {
		return err
	}
	hdr, err := h.identify(r.Context(), h.cookie.Token(r), app)
	if directory.KindOf(err) == directory.Unauthenticated {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return err
		}
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {o.URI}}.Encode(), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	dropAdmitCookies(r)
	// A WebSocket is the one upgrade that goes on. After a 101 the proxy
	// only copies bytes: an app server that took h2c (HTTP/2 over
	// cleartext) would read every later request on the connection straight
	// from the client, identity headers and paths as the client wrote
	// them. Any other Upgrade is dropped, and the request passed as an
	// ordinary one (curl --http2 then goes on in HTTP/1.1).
	if !webSocketOrNoUpgrade(r.Header) {
		r.Header.Del("Upgrade")
	}
	for _, k := range admitResponseHeaders {
		w.Header().Del(k)
	}
	// The server's write timeout bounds admit's own pages; a stream or a
	// WebSocket of the app lasts as long as the app keeps it open (the
	// upgraded connection's reads too: a WebSocket may idle).
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	if r.Header.Get("Upgrade") != "" {
		_ = rc.SetReadDeadline(time.Time{})
	}
	// The identity goes on the outgoing request in Rewrite, after the
	// proxy has dropped the hop-by-hop headers: a client that names
	// X-Admit-Email in its Connection header cannot have admit's own
	// header dropped and its look-alike (X_Admit_Email) read instead.
	proxy := *h.proxy
	proxy.Rewrite = func(pr *httputil.ProxyRequest) {
		h.proxy.Rewrite(pr)
		// The browser's scheme is ADMIT_BASE_URL's: admit serves no TLS,
		// so behind https a balancer ended it and admit's connection is
		// plain (SetXForwarded would say http).
		pr.Out.Header.Set("X-Forwarded-Proto", o.Proto)
		// X-Real-IP is the other header apps read the client's address
		// from, trusting their proxy for it: admit's word (the address
		// SetXForwarded put in X-Forwarded-For), never the client's.
		pr.Out.Header.Del("X-Real-Ip")
		if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
			pr.Out.Header.Set("X-Real-Ip", ip)
		}
		stripAdmitHeaders(pr.Out.Header)
		for k, v := range hdr {
			pr.Out.Header[k] = v
		}
	}
	proxy.ServeHTTP(w, r)
	return nil
}

// hostOf is the host[:port] of a URL, lowercased, as requests name it.
func hostOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return strings.ToLower(u.Host)
	}
	return ""
}

// dropAdmitCookies keeps admit's cookies from the app (its code, its
// logs): the session token, with which the app could act as the person at
// admit itself; the device cookie, which exempts whoever holds it from the
// lockout that strangers' failures put on the person's sign-in; the CSRF,
// hand-off and SSO cookies, admit's business only. Every name admit gives
// a cookie starts admit_, after __Host- behind https; both spellings go,
// whichever admit uses now.
func dropAdmitCookies(r *http.Request) {
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if !strings.HasPrefix(strings.TrimPrefix(c.Name, "__Host-"), "admit_") {
			r.AddCookie(c)
		}
	}
}
