package gate

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/admit-dev/admit/directory"
)

// original is the request the proxy asks about.
type original struct {
	Proto string // http or https
	Host  string // host[:port], lower case
	URI   string // path and query, as the client sent them
	Path  string // the decoded path
}

// rawPath is the path of URI as the client wrote it (percent-encoded):
// what the app's server routes on, and so what picks the app.
func (o original) rawPath() string {
	p, _, _ := strings.Cut(o.URI, "?")
	return p
}

// errForwarded is a proxy request admit cannot read: a misconfigured
// proxy, or somebody calling /auth/verify directly with made-up headers.
var errForwarded = errors.New("the forwarded request is not readable")

// readForwarded reads the original request from the proxy's headers:
// X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri (Traefik and
// Caddy send these; the nginx snippet sets them), falling back to the Host
// header (Envoy keeps the original one) and, under /auth/verify/, the path
// after it (Envoy appends the original path to its path_prefix).
// X-Original-URI is read too, the name most nginx guides use. Each header
// is the proxy's, but anyone can call /auth/verify directly, so every
// value is checked: a host that could smuggle a path or a second header,
// a URI that is not a path, a scheme that is not http(s), all refused.
func readForwarded(r *http.Request, verifyPath string) (original, error) {
	o := original{Proto: "http", Host: r.Host}
	if r.TLS != nil {
		o.Proto = "https"
	}
	if p := first(r.Header.Get("X-Forwarded-Proto")); p != "" {
		o.Proto = strings.ToLower(p)
	}
	// Envoy's ext_authz keeps the original Host and appends the original
	// path: then that is the request, and headers a client may have sent
	// along (X-Forwarded-Host, X-Original-Uri) are not read.
	envoy := strings.HasPrefix(r.URL.Path, verifyPath+"/")
	if h := first(r.Header.Get("X-Forwarded-Host")); h != "" && !envoy {
		o.Host = h
	}
	o.Host = strings.ToLower(o.Host)
	switch {
	case envoy:
		o.URI = strings.TrimPrefix(r.URL.RequestURI(), verifyPath)
	case r.Header.Get("X-Forwarded-Uri") != "":
		o.URI = r.Header.Get("X-Forwarded-Uri")
	case r.Header.Get("X-Original-Uri") != "":
		o.URI = r.Header.Get("X-Original-Uri")
	default:
		o.URI = "/"
	}
	if o.Proto != "http" && o.Proto != "https" {
		return original{}, errForwarded
	}
	if o.Host == "" || len(o.Host) > 260 || strings.ContainsAny(o.Host, "/\\?#@ ") || hasControl(o.Host) {
		return original{}, errForwarded
	}
	if len(o.URI) > 8192 || !strings.HasPrefix(o.URI, "/") || strings.HasPrefix(o.URI, "//") || strings.Contains(o.URI, "\\") || hasControl(o.URI) {
		return original{}, errForwarded
	}
	u, err := url.ParseRequestURI(o.URI)
	if err != nil {
		return original{}, errForwarded
	}
	// A path with dot segments is refused, not cleaned: a proxy that
	// routes on the raw path would send /admin/../public to the /admin
	// backend while admit judged it as /public.
	if directory.HasDotSegment(u.Path) {
		return original{}, errForwarded
	}
	o.Path = u.Path
	return o, nil
}

// first is the first of a comma-separated list: a proxy behind another
// appends to X-Forwarded-*, and the first is the client's.
func first(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
