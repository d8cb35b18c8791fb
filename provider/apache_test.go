package provider_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/daemontest"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
	"github.com/admit-dev/admit/provider"
	"github.com/admit-dev/admit/store/storetest"
)

// modAuthOpenIDC is mod_auth_openidc as the app's back-channel logout
// endpoint ({{app}}/redirect_uri?logout=backchannel).
const modAuthOpenIDC = `OIDCProviderMetadataURL {{admit}}/.well-known/openid-configuration
OIDCClientID {{client_id}}
OIDCClientSecret {{client_secret}}
OIDCRedirectURI {{app}}/redirect_uri
OIDCCryptoPassphrase passphrase-of-this-test-0123456789
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
`

// startApache runs Apache with mod_auth_openidc for the app with
// clientID and secret, and returns its origin.
func startApache(t *testing.T, s *site, clientID, secret string) string {
	t.Helper()
	daemontest.FindApache(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := strings.NewReplacer("{{admit}}", s.issuer, "{{app}}", "http://"+addr, "{{client_id}}", clientID, "{{client_secret}}", secret).Replace(modAuthOpenIDC)
	daemontest.StartApache(t, t.TempDir(), port, conf)
	return "http://" + addr
}

// losesFirstAnswer passes requests on to an app and its answers back,
// but the first: the app gets it and answers, and the answer is lost on
// the way back (the connection drops), as a proxy's timeout or a network
// fault loses one.
type losesFirstAnswer struct {
	target   string
	mu       sync.Mutex
	statuses []int // the app's answers, lost ones included
}

func (p *losesFirstAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	p.statuses = append(p.statuses, resp.StatusCode)
	first := len(p.statuses) == 1
	p.mu.Unlock()
	if first {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (p *losesFirstAnswer) answers() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.statuses...)
}

// TestBackchannelLogoutRetryAfterALostAnswer: mod_auth_openidc ends the
// session a logout token names and answers 200, which is lost on the
// way; admit tries again, and mod_auth_openidc, which refuses a logout
// token whose jti it has seen (400, "possible replay attack"), takes the
// retry: each attempt is a new token, with a jti and an iat of its own.
// With the same token again, the logout was refused on every retry and
// then given up as failed, although the app had ended the session.
func TestBackchannelLogoutRetryAfterALostAnswer(t *testing.T) {
	s := newSite(t, storetest.SQLite(t))
	ctx := context.Background()
	a := s.account("acme")
	s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
	lossy := &losesFirstAnswer{}
	front := httptest.NewServer(lossy)
	t.Cleanup(front.Close)
	app, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "web"}, BackchannelLogoutURI: front.URL + "/redirect_uri?logout=backchannel"})
	lossy.target = startApache(t, s, app.ClientID, secret)
	r := newRP(t, s, app, secret)
	l := r.start(t)
	if _, err := r.conf.Exchange(ctx, s.browser().code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.dir.EndSessions(ctx, a.ID, operator, "ada@acme.example"); err != nil {
		t.Fatal(err)
	}
	allow, err := fetch.ParseAllow("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	n := provider.NewNotifier(provider.NotifierConfig{Directory: s.dir, Keys: s.keys, Fetch: fetch.New(fetch.Config{Allow: allow}), Issuer: s.issuer, Now: s.clock.Now})
	if sent, err := n.Deliver(ctx); err != nil || sent != 0 {
		t.Fatalf("the first attempt, whose answer is lost: %d delivered, %v; want 0", sent, err)
	}
	if got := lossy.answers(); len(got) != 1 || got[0] != http.StatusOK {
		t.Fatalf("mod_auth_openidc answered the first logout token %v; want 200 (lost on the way back)", got)
	}
	s.clock.Add(10 * time.Second) // the retry is due
	if sent, err := n.Deliver(ctx); err != nil || sent != 1 {
		t.Errorf("the retry: %d delivered, %v; mod_auth_openidc answered %v; want it delivered, with 200", sent, err, lossy.answers())
	}
}
