// Package fetch is admit's one way out to other servers (DESIGN rule 11):
// identity providers' SAML metadata and its refresh, OpenID discovery,
// keys, token and userinfo, and whatever else admit fetches from a URL that
// an operator or an account admin typed. Such a URL may point anywhere:
// at this machine, at the private network, at the cloud's metadata service.
// So every request here
//
//   - goes over https, or over plain http only to a host the operator
//     allowed (Config.Allow, from ADMIT_OUTBOUND_ALLOW);
//   - connects only to addresses that are not loopback, private,
//     link-local, shared (CGNAT), unique-local, multicast, unspecified or
//     a cloud metadata service, unless allowed; the address is checked
//     after the name is resolved, on the address actually dialled, so a
//     name that resolves elsewhere the second time (DNS rebinding) gains
//     nothing, and no proxy connects in admit's place;
//   - follows at most MaxRedirects redirects, each checked like the first;
//   - reads at most a cap of bytes (MetadataLimit, JSONLimit) and gives up
//     after Config.Timeout;
//   - fails with errors that say what happened (ErrRefused, ErrTooLarge,
//     ErrTimeout, ErrRedirects, ErrStatus) and never carry the body of
//     the answer.
//
// What to fetch, and what an answer means, is the callers' business (sso
// parses metadata; go-oidc discovery). This package imports nothing of
// admit's.
package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Caps on what is read of an answer, by what is fetched.
const (
	// MetadataLimit bounds SAML metadata: one provider's, not a
	// federation's aggregate.
	MetadataLimit int64 = 1 << 20
	// JSONLimit bounds OpenID discovery, key sets, token and userinfo
	// answers.
	JSONLimit int64 = 256 << 10
)

// MaxRedirects is how many redirects a request follows.
const MaxRedirects = 3

// DefaultTimeout bounds a whole request (connection, TLS handshake,
// answer and body), and each of its connections and handshakes alone.
const DefaultTimeout = 10 * time.Second

// Resolver finds a host name's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Client.
type Config struct {
	// Allow is what may be reached although refused by default.
	Allow Allow
	// Timeout bounds each request; zero means DefaultTimeout.
	Timeout time.Duration
	// Resolver resolves host names; nil means the system's.
	Resolver Resolver
	// Control, when set, is called just before each connection is made,
	// with the address being connected to (net.Dialer.Control): a test's
	// witness that no refused address is ever connected to.
	Control func(network, address string, c syscall.RawConn) error
	// RootCAs are the certificate authorities trusted for https; nil
	// means the system's (SSL_CERT_FILE and SSL_CERT_DIR apply).
	RootCAs *x509.CertPool
	Logger  *slog.Logger
}

// Client makes guarded outbound requests. It is safe for concurrent use;
// make one per process and share it.
type Client struct {
	allow     Allow
	timeout   time.Duration
	resolver  Resolver
	dialer    *net.Dialer
	transport *http.Transport
	log       *slog.Logger
}

// New returns a Client with cfg's rules.
func New(cfg Config) *Client {
	c := &Client{allow: cfg.Allow, timeout: cfg.Timeout, resolver: cfg.Resolver, log: cfg.Logger}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.dialer = &net.Dialer{Timeout: c.timeout, Control: cfg.Control}
	c.transport = &http.Transport{
		// No proxy from the environment: a proxy connects in admit's
		// place, and the address it reaches would never be checked.
		Proxy:                  nil,
		DialContext:            c.dial,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout:    c.timeout,
		ResponseHeaderTimeout:  c.timeout,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		// Webhook deliveries go to few hosts, many at a time: keep their
		// connections instead of the default two per host.
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return c
}

// HTTPClient is an *http.Client under the rules for JSON APIs (OpenID
// discovery, key sets, token and userinfo: hand it to go-oidc with
// oidc.ClientContext): answers are capped at JSONLimit, and a successful
// answer must be JSON (or a JWT, or a form-encoded token response), so
// that a library quoting an answer it could not parse quotes nothing.
func (c *Client) HTTPClient() *http.Client {
	return c.httpClient(JSONLimit, true)
}

func (c *Client) httpClient(limit int64, jsonOnly bool) *http.Client {
	return &http.Client{
		Transport: &guard{c: c, limit: limit, jsonOnly: jsonOnly},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("%w: more than %d", ErrRedirects, MaxRedirects)
			}
			return nil
		},
		Timeout: c.timeout,
	}
}

// Get fetches a document of at most limit bytes from rawURL, asking for
// the media types in accept. Any answer but a 2xx is an error.
func (c *Client) Get(ctx context.Context, rawURL string, limit int64, accept string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a URL like https://idp.example.com/metadata", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", rawURL, err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	shown := u.Redacted()
	resp, err := c.httpClient(max(limit, 0), false).Do(req) // never uncapped
	if err != nil {
		return nil, c.explain(shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{URL: shown, Code: resp.StatusCode}
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.explain(shown, err)
	}
	return data, nil
}

// PostForm posts a form to rawURL (a notification: OpenID back-channel
// logout) and reads at most JSONLimit of the answer, which is discarded;
// any answer but a 2xx is an error. Redirects are not followed: a POST
// that moved would arrive as a GET without its form.
func (c *Client) PostForm(ctx context.Context, rawURL string, form url.Values) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL like https://app.example.com/logout", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("%q: %w", rawURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	shown := u.Redacted()
	client := c.httpClient(JSONLimit, false)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return c.explain(shown, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return c.explain(shown, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{URL: shown, Code: resp.StatusCode}
	}
	return nil
}

// PostLimit bounds what is read of the answer to a Post: a receiver's
// acknowledgement, which nothing reads.
const PostLimit int64 = 16 << 10

// uncapped is the guard's limit for an answer whose caller bounds its own
// reading.
const uncapped int64 = -1

// Post sends body to rawURL (a webhook) under the same rules as Get and
// returns the answer's status and header. It follows no redirect: a 3xx is the
// answer (a receiver that moved must be moved by its operator, or a
// redirect could steer signed events somewhere unchecked). The answer's
// body is read up to PostLimit and dropped: a short one (as
// acknowledgements are) leaves the connection for the next request; a
// longer one closes it.
func (c *Client) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (int, http.Header, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return 0, nil, fmt.Errorf("%q is not a URL like https://platform.example.com/webhooks", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%q: %w", rawURL, err)
	}
	maps.Copy(req.Header, header)
	// No cap on the answer: only its status counts, and an
	// acknowledgement longer than PostLimit (a framework's HTML page with
	// its 200) is no failure; what is read of it is bounded here.
	client := c.httpClient(uncapped, false)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, c.explainMethod(http.MethodPost, u.Redacted(), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, PostLimit))
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// Check reports whether rawURL may be fetched under the client's rules,
// from where it runs, without connecting: the https rule, and the
// addresses its host resolves to now (at least one allowed, as a request
// would use). A refusal is a *RefusedError. Whether anything answers
// there, it does not say.
func (c *Client) Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", rawURL)
	}
	if err := c.checkScheme(u); err != nil {
		return err
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = c.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return err
	}
	byName := c.allow.allowsHost(host)
	var refused error
	for _, ip := range addrs {
		err := c.allow.check(ip, byName)
		if err == nil {
			return nil
		}
		err.(*RefusedError).Host = host
		refused = cmpOr(refused, err)
	}
	return refused
}

// explain words a failed request: a timeout as ErrTimeout, the rest as
// the request failed (it names the URL once).
func (c *Client) explain(shown string, err error) error {
	return c.explainMethod(http.MethodGet, shown, err)
}

func (c *Client) explainMethod(method, shown string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w within %s", method, shown, ErrTimeout, c.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", method, shown, ue.Err)
	}
	return fmt.Errorf("%s %s: %w", method, shown, err)
}

// dial resolves the host, checks every address it resolves to and
// connects to the first allowed one that answers: the check and the
// connection use the same address, so the name cannot change in between.
func (c *Client) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portText, err)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = c.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	byName := c.allow.allowsHost(host)
	var refused, failed error
	for _, ip := range addrs {
		if err := c.allow.check(ip, byName); err != nil {
			err.(*RefusedError).Host = host
			refused = cmpOr(refused, err)
			continue
		}
		conn, err := c.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			if refused != nil {
				// A name with refused addresses beside allowed ones is how
				// DNS rebinding is tried; only the allowed were used.
				c.log.WarnContext(ctx, "outbound request: the host also resolves to refused addresses, which were skipped", "host", host, "refused", refused)
			}
			return conn, nil
		}
		failed = cmpOr(failed, err)
	}
	switch {
	case failed != nil:
		return nil, failed
	case refused != nil:
		return nil, refused
	}
	return nil, fmt.Errorf("%s has no address", host)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// checkScheme is the https rule: plain http only to a host allowed by
// name or by an address literal in an allowed network.
func (c *Client) checkScheme(u *url.URL) error {
	host := u.Hostname()
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if c.allow.allowsHost(host) {
			return nil
		}
		if ip, err := netip.ParseAddr(host); err == nil && c.allow.allowsAddr(ip.Unmap().WithZone("")) {
			return nil
		}
		return &RefusedError{Host: host, Reason: "plain http goes only to hosts in the outbound allow list; use https"}
	}
	return &RefusedError{Host: host, Reason: fmt.Sprintf("%s: only https is fetched", clip(u.Scheme, 20))}
}

// guard is the transport of every request: the https rule before it is
// sent (redirects included: each is a new round trip), and the caps and
// the scrubbing of answers after.
type guard struct {
	c        *Client
	limit    int64 // of a 2xx answer's body, or uncapped (Post bounds its own reading)
	jsonOnly bool
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.c.checkScheme(req.URL); err != nil {
		return nil, err
	}
	resp, err := g.c.transport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// The reason phrase is the server's own text; libraries quote it.
	resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		scrubErrorBody(resp)
		return resp, nil
	}
	if g.limit == uncapped {
		return resp, nil // the caller reads what it needs, and no more
	}
	if resp.ContentLength > g.limit {
		resp.Body.Close()
		return nil, &TooLargeError{Limit: g.limit}
	}
	body := &capped{rc: resp.Body, left: g.limit, limit: g.limit}
	if !g.jsonOnly {
		resp.Body = body
		return resp, nil
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return nil, err
	}
	media, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if media != "application/jwt" && media != "application/x-www-form-urlencoded" && !json.Valid(data) {
		return nil, fmt.Errorf("%s answered with something that is not JSON (Content-Type %q)", req.URL.Redacted(), clip(media, 60))
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp, nil
}

// oauthErrors are the error codes of OAuth 2.0 (RFC 6749 5.2, RFC 6750
// 3.1) and OpenID Connect (Core 3.1.2.6): the only part of an error answer
// that is passed on, so that a refused token request still says
// invalid_client, while nothing the server chose reaches an error message.
var oauthErrors = []string{
	"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
	"invalid_scope", "access_denied", "server_error", "temporarily_unavailable", "invalid_token",
	"insufficient_scope", "interaction_required", "login_required", "consent_required", "invalid_request_uri",
}

// scrubErrorBody replaces the body of an answer that is not a success
// with nothing, or with the OAuth error code alone.
func scrubErrorBody(resp *http.Response) {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	resp.Header.Del("Content-Length")
	if json.Unmarshal(data, &e) == nil && slices.Contains(oauthErrors, e.Error) {
		b, _ := json.Marshal(e)
		resp.Header.Set("Content-Type", "application/json")
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		return
	}
	resp.Header.Del("Content-Type")
	resp.Body, resp.ContentLength = http.NoBody, 0
}

// capped reads at most limit bytes and fails, rather than stopping short,
// when there are more: a truncated document must not pass for a whole one.
type capped struct {
	rc          io.ReadCloser
	left, limit int64
}

func (b *capped) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := io.ReadFull(b.rc, one[:])
		if n > 0 {
			return 0, &TooLargeError{Limit: b.limit}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *capped) Close() error { return b.rc.Close() }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
