package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/admit-dev/admit/mail/smtptest"
	"github.com/admit-dev/admit/store/storetest"
)

// roundRobin is the load balancer in front of the replicas: each request
// goes to the next one, as a plain round-robin balancer without sticky
// sessions sends it.
func roundRobin(t *testing.T, replicas ...*server) *httptest.Server {
	t.Helper()
	var next atomic.Uint64
	targets := make([]*url.URL, len(replicas))
	for i, r := range replicas {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(targets[next.Add(1)%uint64(len(targets))])
		pr.Out.Host = pr.In.Host
	}})
	t.Cleanup(lb.Close)
	return lb
}

// TestTwoReplicas runs two admit replicas on one PostgreSQL behind a
// round-robin: SCIM creates, patches and group changes from both
// interleave without a lost change, each invitation mail goes out once
// though both replicas' mail workers claim from the same outbox, and a
// session opened on one replica holds on the other.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	mailServer := smtptest.Start(t)
	settings := []string{"ADMIT_DATABASE_URL=" + dbURL, "ADMIT_SMTP_URL=" + mailServer.URL(), testKey}
	a := startRaceServer(t, t.TempDir(), settings...)
	b := startRaceServer(t, t.TempDir(), settings...)
	lb := roundRobin(t, a, b)

	c := scimClient{base: lb.URL, token: scimTokenFor(t, settings), http: &http.Client{Timeout: 30 * time.Second}}
	tr := newSCIMTraffic(createGroup(t, c))
	stop, started := make(chan struct{}), time.Now()
	var clients sync.WaitGroup
	for i := range 8 {
		clients.Go(func() { tr.drive(c, fmt.Sprintf("r%d", i), stop) })
	}

	// Invitations while the SCIM traffic runs: the mail outbox is shared.
	env := append(cleanEnv(), settings...)
	const invitations = 12
	var inviting sync.WaitGroup
	for i := range invitations {
		inviting.Go(func() {
			if r := admitEnv(t, env, "", "user", "add", "--account", "acme", "--email", fmt.Sprintf("invitee%d@acme.example", i),
				"--first", "In", "--last", "Vitee", "--invite"); r.code != 0 {
				t.Errorf("user add --invite: %s", r.stderr)
			}
		})
	}
	inviting.Wait()
	time.Sleep(time.Until(started.Add(4 * time.Second)))
	close(stop)
	clients.Wait()
	tr.check(t, c)
	if tr.unavailed > 0 {
		t.Errorf("%d requests were answered 503 with the database up", tr.unavailed)
	}

	mailServer.Wait(t, invitations, 30*time.Second)
	time.Sleep(3 * time.Second) // a second send of any message would come by now (both workers poll every second)
	sent := map[string]int{}
	for _, m := range mailServer.Messages() {
		for _, to := range m.To {
			sent[to]++
		}
	}
	for i := range invitations {
		to := fmt.Sprintf("invitee%d@acme.example", i)
		if sent[to] != 1 {
			t.Errorf("%s got %d invitation mails, want 1", to, sent[to])
		}
	}
	if len(sent) != invitations {
		t.Errorf("mail went to %d addresses, want %d: %v", len(sent), invitations, sent)
	}

	// A session opened through one replica is good on both: the sign-in
	// form's GET and POST, the password change and every page after it
	// land on alternate replicas.
	if r := admitEnv(t, env, "first passphrase of sam", "user", "add", "--account", "acme", "--email", "sam@acme.example",
		"--first", "Sam", "--last", "Ng", "--password-stdin"); r.code != 0 {
		t.Fatalf("user add: %s", r.stderr)
	}
	v := newVisitor(t)
	v.signInAt(lb.URL+"/login", lb.URL, "sam@acme.example", "first passphrase of sam", "sam's own long passphrase")
	for i := range 4 {
		resp, page := v.do("GET", lb.URL+"/me", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "sam@acme.example") {
			t.Errorf("GET /me #%d (replica %d): %d %s\n%.300s", i, i%2, resp.StatusCode, resp.Header.Get("Location"), page)
		}
	}
	a.stop(t)
	b.stop(t)
}
