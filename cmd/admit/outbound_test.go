package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/storetest"
)

// metadataServer is an identity provider's metadata URL on loopback over
// plain http: it answers what the test last set, and counts requests.
type metadataServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   string
	hits   atomic.Int64
}

func newMetadataServer(t *testing.T) *metadataServer {
	t.Helper()
	m := &metadataServer{status: http.StatusOK}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.hits.Add(1)
		m.mu.Lock()
		defer m.mu.Unlock()
		w.WriteHeader(m.status)
		_, _ = io.WriteString(w, m.body)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metadataServer) serve(status int, body string) {
	m.mu.Lock()
	m.status, m.body = status, body
	m.mu.Unlock()
}

// readMetadata is an identity provider's metadata with a new key.
func readMetadata(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(idpMetadataFile(t))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOutboundAllowIsChecked: a bad ADMIT_OUTBOUND_ALLOW stops every
// command with a one-line reason, reported with the other problems.
func TestOutboundAllowIsChecked(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	for _, tc := range []struct {
		env  []string
		args []string
		want []string
	}{
		{[]string{"ADMIT_OUTBOUND_ALLOW=10.0.0.0/33"}, nil, []string{`ADMIT_OUTBOUND_ALLOW: "10.0.0.0/33" is not a CIDR`}},
		{nil, []string{"--outbound-allow", "10.0.0.1/8"}, []string{"ADMIT_OUTBOUND_ALLOW", "did you mean 10.0.0.0/8"}},
		{[]string{"ADMIT_OUTBOUND_ALLOW=https://adfs.corp.example,*.corp", "ADMIT_ADDR=nonsense"}, nil,
			[]string{"https://adfs.corp.example", `"*.corp"`, "ADMIT_ADDR"}},
		// The proxies whose X-Forwarded-For is believed, checked alike.
		{[]string{"ADMIT_TRUSTED_PROXIES=lb.internal"}, nil, []string{`ADMIT_TRUSTED_PROXIES: "lb.internal" is not a CIDR or an IP address`}},
		{nil, []string{"--trusted-proxies", "10.0.0.1/8"}, []string{"ADMIT_TRUSTED_PROXIES", "did you mean 10.0.0.0/8"}},
	} {
		env := append(append(cleanEnv(), "ADMIT_DATABASE_URL="+db), tc.env...)
		r := admitWith(t, env, "", append([]string{"account", "list"}, tc.args...)...)
		if r.code != exitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v %v: exit %d, %q; want exit %d and one line", tc.env, tc.args, r.code, r.stderr, exitUsage)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v %v: %q does not say %q", tc.env, tc.args, r.stderr, w)
			}
		}
	}
	env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db, "ADMIT_OUTBOUND_ALLOW=127.0.0.0/8, fd00::/8 ,adfs.corp.example")
	if r := admitWith(t, env, "", "account", "list"); r.code != 0 {
		t.Errorf("a good list: exit %d %s", r.code, r.stderr)
	}
}

// TestAddingAConnectionRefusesPrivateAddresses: through the binary, a
// metadata URL or an issuer on this machine is refused unless
// ADMIT_OUTBOUND_ALLOW allows it, with one line that says how; the
// server is never asked, and no answer's body is ever printed.
func TestAddingAConnectionRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	idp := newMetadataServer(t)
	idp.serve(http.StatusOK, readMetadata(t))
	run := func(allow string, stdin string, args ...string) result {
		t.Helper()
		env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db, testKey)
		if allow != "" {
			env = append(env, "ADMIT_OUTBOUND_ALLOW="+allow)
		}
		return admitWith(t, env, stdin, args...)
	}
	run("", "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com")
	addSAML := func(allow, name, url string) result {
		return run(allow, "", "sso", "add-saml", "--account", "acme", "--name", name, "--metadata-url", url, "--json")
	}
	for _, tc := range []struct {
		name, allow, url string
		want             []string
	}{
		{"http", "", idp.URL + "/metadata", []string{"refused to fetch from 127.0.0.1: plain http", "add 127.0.0.1/32 to ADMIT_OUTBOUND_ALLOW"}},
		{"https", "", strings.Replace(idp.URL, "http:", "https:", 1), []string{"refused to connect to 127.0.0.1: a loopback address (127.0.0.0/8)", "add 127.0.0.1/32 to ADMIT_OUTBOUND_ALLOW"}},
		{"other-loopback", "127.0.0.1/32", "https://127.0.0.2:1/metadata", []string{"refused to connect to 127.0.0.2", "add 127.0.0.2/32 to ADMIT_OUTBOUND_ALLOW"}},
		{"ipv6", "127.0.0.0/8", "https://[::1]:1/metadata", []string{"refused to connect to ::1", "add ::1/128 to ADMIT_OUTBOUND_ALLOW"}},
	} {
		r := addSAML(tc.allow, tc.name, tc.url)
		if r.code != exitError || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d %q; want exit %d and one line", tc.name, r.code, r.stderr, exitError)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: %q does not say %q", tc.name, r.stderr, w)
			}
		}
	}
	r := run("", "s3cret\n", "sso", "add-oidc", "--account", "acme", "--name", "corp", "--issuer", idp.URL, "--client-id", "admit", "--client-secret-stdin")
	if r.code != exitError || !strings.Contains(r.stderr, "cannot read the OpenID configuration") || !strings.Contains(r.stderr, "add 127.0.0.1/32 to ADMIT_OUTBOUND_ALLOW") {
		t.Errorf("add-oidc on loopback: exit %d %q", r.code, r.stderr)
	}
	if n := idp.hits.Load(); n != 0 {
		t.Fatalf("the refused commands reached the server %d times", n)
	}

	// Allowed, the answer's body stays out of the error.
	const marker = "internal-only-4f1c9e"
	idp.serve(http.StatusInternalServerError, marker)
	r = addSAML("127.0.0.1/32", "down", idp.URL+"/metadata")
	if r.code != exitError || !strings.Contains(r.stderr, "answered 500") || strings.Contains(r.stdout+r.stderr, marker) {
		t.Errorf("server error: exit %d %q %q", r.code, r.stderr, r.stdout)
	}
	idp.serve(http.StatusOK, "<html>"+marker+"</html>")
	if r = addSAML("127.0.0.1/32", "html", idp.URL+"/metadata"); r.code != exitError || strings.Contains(r.stdout+r.stderr, marker) {
		t.Errorf("not metadata: exit %d %q %q", r.code, r.stderr, r.stdout)
	}
	idp.serve(http.StatusOK, readMetadata(t))
	if r = addSAML("127.0.0.1/32", "okta", idp.URL+"/metadata"); r.code != 0 {
		t.Errorf("allowed: exit %d %s", r.code, r.stderr)
	}
}

// TestSigningCertificateChangesAreShown: a refresh by `admit serve` that
// brings the provider's new signing certificate is shown by `sso list`
// (and its --json), as is a new file given to `sso set-metadata`, whose
// --json prints the connection as it is after the change.
func TestSigningCertificateChangesAreShown(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		idp := newMetadataServer(t)
		idp.serve(http.StatusOK, readMetadata(t))
		settings := []string{"ADMIT_DATABASE_URL=" + db, testKey, allowLoopback}
		cli := func(args ...string) result {
			t.Helper()
			r := admitWith(t, append(cleanEnv(), settings...), "", args...)
			if r.code != 0 {
				t.Fatalf("admit %v: %s", args, r.stderr)
			}
			return r
		}
		list := func() map[string]any {
			t.Helper()
			all := decode[[]map[string]any](t, cli("sso", "list", "--account", "acme", "--json"))
			if len(all) != 1 {
				t.Fatalf("sso list: %v", all)
			}
			return all[0]
		}
		cli("account", "create", "--slug", "acme", "--name", "Acme", "--domain", "example.com")
		added := decode[map[string]any](t, cli("sso", "add-saml", "--account", "acme", "--name", "okta", "--metadata-url", idp.URL+"/metadata", "--json"))
		first := added["idp_signing_certificates"]
		if certs, _ := first.([]any); len(certs) != 1 || added["idp_signing_certificates_changed_at"] != nil {
			t.Fatalf("add-saml: %v", added)
		}

		// The provider rolls its key over; admit serve refreshes at start.
		idp.serve(http.StatusOK, readMetadata(t))
		s := startServer(t, t.TempDir(), settings...)
		var got map[string]any
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got = list(); got["idp_signing_certificates_changed_at"] != nil {
				break
			}
		}
		s.stop(t)
		if got["idp_signing_certificates_changed_at"] == nil || got["idp_signing_certificates"] == nil || fmt.Sprint(got["idp_signing_certificates"]) == fmt.Sprint(first) {
			t.Fatalf("after the refresh: %v; first certificates %v", got, first)
		}
		if text := cli("sso", "list", "--account", "acme").stdout; !strings.Contains(text, "signing certificates changed at") {
			t.Errorf("sso list does not show the change:\n%s", text)
		}

		// A new file from the operator: --json shows the connection after.
		before := got["idp_signing_certificates"]
		r := cli("sso", "set-metadata", "--account", "acme", "--connection", "okta", "--metadata-file", idpMetadataFile(t), "--json")
		after := decode[map[string]any](t, r)
		if fmt.Sprint(after["idp_signing_certificates"]) == fmt.Sprint(before) || after["idp_signing_certificates_changed_at"] == got["idp_signing_certificates_changed_at"] {
			t.Errorf("set-metadata --json printed the connection as it was: %v", after)
		}
		if text := cli("sso", "set-metadata", "--account", "acme", "--connection", "okta", "--metadata-file", idpMetadataFile(t)).stdout; !strings.Contains(text, "signing certificates changed") {
			t.Errorf("set-metadata does not say the certificates changed: %s", text)
		}
	})
}
