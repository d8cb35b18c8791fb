package fetch_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/admit-dev/admit/fetch"
)

// marker is served in answers that must never come back in an error.
const marker = "SECRET-INTERNAL-4f1c9e"

// witness records every address a client connects to: its Control hook
// runs just before each connect, so an address missing here was never
// sent a packet.
type witness struct {
	mu    sync.Mutex
	addrs []string
}

func (w *witness) control(_, address string, _ syscall.RawConn) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.addrs = append(w.addrs, address)
	// A safety net should the rules ever fail: a test sends no packet
	// off this machine, so such a connect stops here, recorded.
	if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("test: refusing to connect to %s, off this machine", address)
	}
	return nil
}

func (w *witness) connected() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.addrs)
}

// connectedOnlyTo fails the test if the client connected to a host other
// than those given ("127.0.0.1").
func (w *witness) connectedOnlyTo(t testing.TB, hosts ...string) {
	t.Helper()
	for _, a := range w.connected() {
		h, _, _ := net.SplitHostPort(a)
		if !slices.Contains(hosts, h) {
			t.Errorf("connected to %s; only %v may be", a, hosts)
		}
	}
}

// names resolves test names without any DNS: an unknown name is an error,
// never a lookup.
type names map[string][]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := n[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such test name", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// setup is a set of TLS servers on loopback sharing one test CA, and
// clients that trust it.
type setup struct {
	t    testing.TB
	pool *x509.CertPool
	cert tls.Certificate
}

func newSetup(t testing.TB, dnsNames ...string) *setup {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fetch test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &setup{t: t, pool: pool, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}
}

// server serves h on host (an address of this machine), over TLS unless
// plain; hits counts the requests it got.
func (s *setup) server(host string, plain bool, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	s.t.Helper()
	hits := new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	srv.Listener.Close()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		s.t.Fatal(err)
	}
	srv.Listener = l
	if plain {
		srv.Start()
	} else {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{s.cert}}
		srv.StartTLS()
	}
	s.t.Cleanup(srv.Close)
	return srv, hits
}

// client makes a client with the allow list, the test names and a
// witness of its connections.
func (s *setup) client(allow string, resolve names, timeout time.Duration) (*fetch.Client, *witness) {
	s.t.Helper()
	w := &witness{}
	if resolve == nil {
		resolve = names{}
	}
	return fetch.New(fetch.Config{Allow: mustAllow(s.t, allow), Resolver: resolve, RootCAs: s.pool, Control: w.control, Timeout: timeout}), w
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

func get(c *fetch.Client, url string) ([]byte, error) {
	return c.Get(context.Background(), url, fetch.MetadataLimit, "")
}

// TestIgnoresProxySettings: a proxy from the environment would connect in
// admit's place, past the address check; it is never used. (First of the
// tests that make requests: net/http reads the proxy variables once per
// process.)
func TestIgnoresProxySettings(t *testing.T) {
	s := newSetup(t)
	proxy, proxyHits := s.server("127.0.0.1", true, ok)
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"} {
		t.Setenv(v, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	srv, _ := s.server("127.0.0.1", false, ok)
	c, w := s.client("127.0.0.1/32", nil, 0)
	if body, err := get(c, srv.URL); err != nil || string(body) != "ok" {
		t.Errorf("allowed server: %q, %v", body, err)
	}
	if _, err := get(c, "https://10.1.2.3/"); !errors.Is(err, fetch.ErrRefused) {
		t.Errorf("refused address: %v", err)
	}
	if proxyHits.Load() != 0 {
		t.Errorf("the proxy got %d requests", proxyHits.Load())
	}
	w.connectedOnlyTo(t, "127.0.0.1")
}

// TestRefusesOtherLoopbackAddresses: a server on 127.0.0.2 is not reached
// while only 127.0.0.1/32 is allowed, or nothing is; an allowed one is.
func TestRefusesOtherLoopbackAddresses(t *testing.T) {
	s := newSetup(t)
	one, _ := s.server("127.0.0.1", false, ok)
	two, twoHits := s.server("127.0.0.2", false, ok)
	plainTwo, plainHits := s.server("127.0.0.2", true, ok)
	for _, tc := range []struct {
		name, allow, url string
		refused          string // the refused address; "" when it must work
	}{
		{"allowed address", "127.0.0.1/32", one.URL, ""},
		{"other loopback address", "127.0.0.1/32", two.URL, "127.0.0.2"},
		{"nothing allowed", "", one.URL, "127.0.0.1"},
		{"nothing allowed, other address", "", two.URL, "127.0.0.2"},
		{"whole loopback allowed", "127.0.0.0/8", two.URL, ""},
		{"plain http to an address not allowed", "127.0.0.1/32", plainTwo.URL, "refused to fetch from 127.0.0.2: plain http"},
		{"IPv6 loopback", "127.0.0.0/8", "https://[::1]:1/", "::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, w := s.client(tc.allow, nil, 0)
			body, err := get(c, tc.url)
			if tc.refused == "" {
				if err != nil || string(body) != "ok" {
					t.Fatalf("got %q, %v; want ok", body, err)
				}
				return
			}
			var refused *fetch.RefusedError
			if !errors.As(err, &refused) || !errors.Is(err, fetch.ErrRefused) || !strings.Contains(err.Error(), tc.refused) {
				t.Fatalf("error %v; want a refusal of %s", err, tc.refused)
			}
			if got := w.connected(); len(got) > 0 {
				t.Errorf("connected to %v before refusing", got)
			}
		})
	}
	if twoHits.Load() != 1 || plainHits.Load() != 0 {
		t.Errorf("the servers on 127.0.0.2 got %d and %d requests; want 1 (allowed as 127.0.0.0/8) and 0", twoHits.Load(), plainHits.Load())
	}
}

// TestRefusesRedirectsToRefusedAddresses: an allowed server cannot send
// the request on to an address that is refused; the refused address is
// never connected to.
func TestRefusesRedirectsToRefusedAddresses(t *testing.T) {
	s := newSetup(t)
	two, twoHits := s.server("127.0.0.2", false, ok)
	var target atomic.Value
	one, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.Load().(string), http.StatusFound)
	})
	for _, to := range []string{
		two.URL + "/metadata",
		"https://10.1.2.3/metadata",
		"https://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"https://[fd00:ec2::254]/latest/meta-data/",
		"https://100.100.100.200/latest/meta-data/",
		"https://[::ffff:192.168.0.1]/",
		"https://[fe80::1]/",
	} {
		t.Run(to, func(t *testing.T) {
			target.Store(to)
			c, w := s.client("127.0.0.1/32", nil, 0)
			_, err := get(c, one.URL)
			if !errors.Is(err, fetch.ErrRefused) {
				t.Fatalf("error %v; want ErrRefused", err)
			}
			w.connectedOnlyTo(t, "127.0.0.1")
		})
	}
	if twoHits.Load() != 0 {
		t.Errorf("the server on 127.0.0.2 got %d requests", twoHits.Load())
	}
}

// TestRefusesRedirectsToPlainHTTP: from https to http is refused unless the
// host is allowed by name; the http server never sees the request.
func TestRefusesRedirectsToPlainHTTP(t *testing.T) {
	s := newSetup(t)
	plain, hits := s.server("127.0.0.1", true, ok)
	_, port, _ := net.SplitHostPort(plain.Listener.Addr().String())
	secure, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://plain.test:"+port+"/metadata", http.StatusMovedPermanently)
	})
	resolve := names{"plain.test": {"127.0.0.1"}}

	c, _ := s.client("127.0.0.0/8", resolve, 0)
	_, err := get(c, secure.URL)
	var refused *fetch.RefusedError
	if !errors.As(err, &refused) || refused.Addr.IsValid() || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("error %v; want the plain-http refusal", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the http server got the request")
	}
	// Allowed by name, the same redirect is followed.
	c, _ = s.client("127.0.0.0/8,plain.test", resolve, 0)
	if body, err := get(c, secure.URL); err != nil || string(body) != "ok" {
		t.Fatalf("with plain.test allowed: %q, %v", body, err)
	}
}

// TestFollowsAtMostThreeRedirects.
func TestFollowsAtMostThreeRedirects(t *testing.T) {
	s := newSetup(t)
	srv, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hops/"))
		if n == 0 {
			ok(w, r)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hops/%d", n-1), http.StatusFound)
	})
	c, _ := s.client("127.0.0.1/32", nil, 0)
	if body, err := get(c, srv.URL+"/hops/3"); err != nil || string(body) != "ok" {
		t.Errorf("3 redirects: %q, %v", body, err)
	}
	if _, err := get(c, srv.URL+"/hops/4"); !errors.Is(err, fetch.ErrRedirects) {
		t.Errorf("4 redirects: %v; want ErrRedirects", err)
	}
}

// TestChecksTheAddressesANameResolvesTo: a name is judged by its
// addresses, at connect time; one allowed by name reaches its private
// address but never a metadata service.
func TestChecksTheAddressesANameResolvesTo(t *testing.T) {
	s := newSetup(t, "rebind.test", "adfs.test")
	srv, _ := s.server("127.0.0.1", false, ok)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resolve := names{
		"internal.test": {"10.1.2.3"},
		"metadata.test": {"169.254.169.254"},
		"loop.test":     {"127.0.0.2"},
		"mapped.test":   {"::ffff:10.0.0.1"},
		"rebind.test":   {"10.9.9.9", "127.0.0.1"},
		"adfs.test":     {"127.0.0.1"},
		"adfs-md.test":  {"169.254.169.254"},
	}
	for _, tc := range []struct {
		host, allow string
		refused     string
	}{
		{"internal.test", "", "10.1.2.3 (internal.test)"},
		{"metadata.test", "", "169.254.169.254 (metadata.test): a cloud instance metadata address"},
		{"loop.test", "127.0.0.1/32", "127.0.0.2 (loop.test)"},
		{"mapped.test", "", "10.0.0.1 (mapped.test)"},
		// Only the allowed address of the two is connected to.
		{"rebind.test", "127.0.0.1/32", ""},
		{"adfs.test", "adfs.test", ""},
		{"adfs-md.test", "adfs-md.test", "169.254.169.254 (adfs-md.test)"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			var logs strings.Builder
			w := &witness{}
			c := fetch.New(fetch.Config{Allow: mustAllow(t, tc.allow), Resolver: resolve, RootCAs: s.pool, Control: w.control,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			body, err := get(c, "https://"+net.JoinHostPort(tc.host, port)+"/")
			if tc.refused == "" {
				if err != nil || string(body) != "ok" {
					t.Fatalf("got %q, %v", body, err)
				}
				w.connectedOnlyTo(t, "127.0.0.1")
				// A name that also resolves to refused addresses is how
				// rebinding is tried: the operator hears of it.
				if warned := strings.Contains(logs.String(), "refused addresses, which were skipped"); warned != (tc.host == "rebind.test") {
					t.Errorf("warned %v; logs: %s", warned, logs.String())
				}
				return
			}
			if !errors.Is(err, fetch.ErrRefused) || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("error %v; want a refusal of %s", err, tc.refused)
			}
			if got := w.connected(); len(got) > 0 {
				t.Errorf("connected to %v", got)
			}
		})
	}
}

// TestCapsTheBody: a document one byte over its cap is an error, whether
// or not the server announced its length; one at the cap is read whole.
func TestCapsTheBody(t *testing.T) {
	s := newSetup(t)
	srv, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		w.Header().Set("Content-Type", "application/json")
		body := []byte(`"` + strings.Repeat("a", n-2) + `"`)
		_, _ = w.Write(body[:n/2])
		w.(http.Flusher).Flush()
		_, _ = w.Write(body[n/2:])
	})
	c, _ := s.client("127.0.0.1/32", nil, 0)
	for _, chunked := range []string{"", "1"} {
		at := fmt.Sprintf("%s/?chunked=%s&n=", srv.URL, chunked)
		if body, err := get(c, at+strconv.Itoa(int(fetch.MetadataLimit))); err != nil || len(body) != int(fetch.MetadataLimit) {
			t.Errorf("metadata of exactly 1 MiB (chunked %q): %d bytes, %v", chunked, len(body), err)
		}
		_, err := get(c, at+strconv.Itoa(int(fetch.MetadataLimit)+1))
		if !errors.Is(err, fetch.ErrTooLarge) || !strings.Contains(err.Error(), "larger than 1 MiB") {
			t.Errorf("metadata over 1 MiB (chunked %q): %v", chunked, err)
		}
		resp, err := c.HTTPClient().Get(at + strconv.Itoa(int(fetch.JSONLimit)))
		if err != nil {
			t.Fatalf("JSON of exactly 256 KiB (chunked %q): %v", chunked, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(body) != int(fetch.JSONLimit) {
			t.Errorf("JSON of exactly 256 KiB (chunked %q): %d bytes, %v", chunked, len(body), err)
		}
		_, err = c.HTTPClient().Get(at + strconv.Itoa(int(fetch.JSONLimit)+1))
		if !errors.Is(err, fetch.ErrTooLarge) || !strings.Contains(err.Error(), "larger than 256 KiB") {
			t.Errorf("JSON over 256 KiB (chunked %q): %v", chunked, err)
		}
	}
}

// TestGivesUpOnSlowServers: a server that does not answer, or answers
// slowly, is given up on after the timeout.
func TestGivesUpOnSlowServers(t *testing.T) {
	s := newSetup(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/trickle" {
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("a"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// A listener that accepts and never speaks: the TLS handshake stalls.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			conn, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	const timeout = 300 * time.Millisecond
	c, _ := s.client("127.0.0.1/32", nil, timeout)
	for _, u := range []string{srv.URL + "/silent", srv.URL + "/trickle", "https://" + mute.Addr().String() + "/"} {
		start := time.Now()
		_, err := get(c, u)
		took := time.Since(start)
		t.Logf("%s: gave up after %s", u, took.Round(time.Millisecond))
		if !errors.Is(err, fetch.ErrTimeout) || !strings.Contains(err.Error(), "300ms") {
			t.Errorf("%s: %v; want ErrTimeout", u, err)
		}
		if took > 10*timeout {
			t.Errorf("%s: gave up after %s; the timeout is %s", u, took, timeout)
		}
	}
}

// TestErrorsNeverCarryTheBody: whatever a server answers, its body (and
// its own reason phrase) stays out of every error, through Get, through
// the HTTP client and through go-oidc on top of it. An OAuth error code
// is what passes.
func TestErrorsNeverCarryTheBody(t *testing.T) {
	s := newSetup(t)
	srv, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/reason/.well-known/openid-configuration":
			// A status line with the server's own words in it.
			conn, buf, _ := w.(http.Hijacker).Hijack()
			_, _ = buf.WriteString("HTTP/1.1 500 " + marker + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			_ = buf.Flush()
			conn.Close()
		case "/token":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"`+marker+`"}`)
		case "/odd-code":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"`+marker+`"}`)
		case "/html/.well-known/openid-configuration", "/html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>"+marker+"</html>")
		case "/not-found/.well-known/openid-configuration", "/not-found":
			http.Error(w, marker, http.StatusNotFound)
		default:
			http.Error(w, marker, http.StatusInternalServerError)
		}
	})
	c, _ := s.client("127.0.0.1/32", nil, 0)
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", what)
		} else if strings.Contains(err.Error(), marker) {
			t.Errorf("%s: the error carries the body: %v", what, err)
		}
	}
	for _, path := range []string{"/fail", "/not-found"} {
		_, err := get(c, srv.URL+path)
		check("Get "+path, err)
		var status *fetch.StatusError
		if !errors.As(err, &status) || !errors.Is(err, fetch.ErrStatus) {
			t.Errorf("Get %s: %v is not a StatusError", path, err)
		}
	}
	_, err := c.HTTPClient().Get(srv.URL + "/html")
	check("HTML where JSON was asked for", err)
	for _, issuer := range []string{"/fail", "/not-found", "/html", "/reason"} {
		_, err := oidc.NewProvider(oidc.ClientContext(context.Background(), c.HTTPClient()), srv.URL+issuer)
		check("go-oidc discovery at "+issuer, err)
	}
	for path, want := range map[string]string{"/token": `{"error":"invalid_client"}`, "/odd-code": "", "/fail": ""} {
		resp, err := c.HTTPClient().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("%s: the error answer reads %q; want %q", path, body, want)
		}
	}
}

// TestPostForm: a notification goes out under the same rules as a fetch
// (a refused address is never connected to), with its form; an answer
// that is not a 2xx, a redirect included, is an error without its body.
func TestPostForm(t *testing.T) {
	s := newSetup(t)
	var got atomic.Value
	srv, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got.Store(r.Method + " " + r.Header.Get("Content-Type") + " " + r.PostForm.Get("logout_token"))
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/fail":
			http.Error(w, marker, http.StatusBadRequest)
		default:
			_, _ = io.WriteString(w, marker)
		}
	})
	c, w := s.client("127.0.0.1/32", nil, 0)
	ctx := context.Background()
	form := map[string][]string{"logout_token": {"a.b.c"}}
	if err := c.PostForm(ctx, srv.URL+"/ok", form); err != nil {
		t.Fatal(err)
	}
	if g := got.Load(); g != "POST application/x-www-form-urlencoded a.b.c" {
		t.Errorf("the server got %q", g)
	}
	for _, path := range []string{"/fail", "/moved"} {
		err := c.PostForm(ctx, srv.URL+path, form)
		var status *fetch.StatusError
		if !errors.As(err, &status) || strings.Contains(err.Error(), marker) {
			t.Errorf("%s: %v; want a status error without the body", path, err)
		}
	}
	w.connectedOnlyTo(t, "127.0.0.1")
	refusing, rw := s.client("", nil, 0)
	if err := refusing.PostForm(ctx, srv.URL+"/ok", form); !errors.Is(err, fetch.ErrRefused) || len(rw.connected()) != 0 {
		t.Errorf("post to a refused address: %v, connected to %v", err, rw.connected())
	}
}

// TestPostTakesAnyAcknowledgement: a webhook receiver's 2xx is an
// acknowledgement whatever its body, which nothing reads: one larger than
// PostLimit (an HTML page a framework sends with its 200) is no failure,
// with or without a Content-Length; a 410 is passed on as the answer.
func TestPostTakesAnyAcknowledgement(t *testing.T) {
	s := newSetup(t)
	srv, _ := s.server("127.0.0.1", false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
			return
		}
		body := strings.Repeat("<p>thanks</p>", 10_000)
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		_, _ = io.WriteString(w, body)
	})
	c, _ := s.client("127.0.0.1/32", nil, 0)
	ctx := context.Background()
	for _, at := range []string{"/", "/?chunked=1", "/gone"} {
		want := http.StatusOK
		if at == "/gone" {
			want = http.StatusGone
		}
		for range 2 {
			if status, _, err := c.Post(ctx, srv.URL+at, http.Header{"Content-Type": {"application/json"}}, []byte(`{}`)); status != want || err != nil {
				t.Errorf("POST %s: %d, %v; want %d", at, status, err, want)
			}
		}
	}
}
