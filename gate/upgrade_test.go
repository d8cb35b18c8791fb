package gate_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/gate/h2ctest"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestProxyPassesOnlyWebSocketUpgrades: after a 101, admit as the proxy
// copies bytes both ways and sees no more requests. An app server that
// takes the h2c upgrade (HTTP/2 over cleartext, as curl --http2 asks for
// it) then reads every later request on that connection as HTTP/2
// straight from the client, with whatever identity headers and paths the
// client writes: one signed-in person could be anyone, at any path. Only
// WebSocket upgrades go on; another Upgrade is dropped and the request
// passed as an ordinary one.
func TestProxyPassesOnlyWebSocketUpgrades(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var (
			mu       sync.Mutex
			upgrades []string
			emails   []string
		)
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			emails = append(emails, r.Header.Get("X-Admit-Email"))
			mu.Unlock()
		})
		// An app server that takes the h2c upgrade without looking twice.
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			upgrades = append(upgrades, r.Header.Get("Upgrade"))
			mu.Unlock()
			if r.Header.Get("Upgrade") != "h2c" {
				app.ServeHTTP(w, r)
				return
			}
			if err := h2ctest.Upgrade(w, app); err != nil {
				t.Error(err)
			}
		}))
		t.Cleanup(upstream.Close)
		u, _ := url.Parse(upstream.URL)
		e := newEnv(t, st, u)
		if _, _, err := e.dir.AddApp(context.Background(), operator, directory.NewApp{Name: "Proxied", ForwardAuthHost: "admit.test", AccountID: e.account.ID}); err != nil {
			t.Fatal(err)
		}
		admit := httptest.NewServer(e.handler)
		t.Cleanup(admit.Close)

		conn, err := net.DialTimeout("tcp", admit.Listener.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET /docs HTTP/1.1\r\nHost: admit.test\r\nCookie: admit_session=%s\r\n"+
			"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", e.token)
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusSwitchingProtocols {
			// The tunnel is open: a request the client writes in HTTP/2
			// reaches the app as it is.
			cc, err := h2ctest.ClientConn(context.Background(), h2ctest.BufferedConn{Conn: conn, R: br})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://admit.test/secret", nil)
			req.Header.Set("X-Admit-Email", "boss@example.com")
			if res, err := cc.RoundTrip(req); err == nil {
				res.Body.Close()
			}
		} else if res.StatusCode != http.StatusOK {
			t.Errorf("GET with Upgrade: h2c: %d; want the app's answer to an ordinary GET", res.StatusCode)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, up := range upgrades {
			if up != "" {
				t.Errorf("the app was asked to upgrade to %q", up)
			}
		}
		for _, got := range emails {
			if got != "ada@example.com" {
				t.Errorf("the app got X-Admit-Email %q; want only ada's", got)
			}
		}
		if len(emails) == 0 {
			t.Error("the app got no request")
		}
	})
}

// TestVerifyRefusesUpgradesOtherThanWebSocket: Caddy asks /auth/verify
// with the request's Upgrade header, and passes the upgrade on to the app
// when admit says yes: an h2c upgrade would open the same tunnel as
// through admit's own proxy (TestProxyPassesOnlyWebSocketUpgrades).
func TestVerifyRefusesUpgradesOtherThanWebSocket(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), nil)
	for _, tc := range []struct {
		upgrade []string
		want    int
	}{
		{nil, http.StatusOK},
		{[]string{"websocket"}, http.StatusOK},
		{[]string{"WebSocket"}, http.StatusOK},
		{[]string{"h2c"}, http.StatusBadRequest},
		{[]string{"websocket, h2c"}, http.StatusBadRequest},
		{[]string{"websocket", "h2c"}, http.StatusBadRequest},
		{[]string{"TLS/1.2"}, http.StatusBadRequest},
	} {
		extra := http.Header{}
		if tc.upgrade != nil {
			extra = http.Header{"Upgrade": tc.upgrade, "Connection": {"Upgrade"}}
		}
		res := e.verify("", "app.test", "/docs", e.token, extra)
		if res.StatusCode != tc.want || (tc.want != http.StatusOK && res.Header.Get("X-Admit-Email") != "") {
			t.Errorf("Upgrade %q: %d; want %d", tc.upgrade, res.StatusCode, tc.want)
		}
	}
}
