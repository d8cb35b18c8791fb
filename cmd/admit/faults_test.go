package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/pgtest"
	"github.com/admit-dev/admit/store/storetest"
)

// scimClient sends SCIM requests with a bearer token to a base URL.
type scimClient struct {
	base, token string
	http        *http.Client
}

// scimAnswer is what one SCIM request got back; status 0 is a request
// that got no answer at all.
type scimAnswer struct {
	status     int
	retryAfter string
	body       map[string]any
	err        error
}

func (c scimClient) do(method, path, body string) scimAnswer {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return scimAnswer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := c.http.Do(req)
	if err != nil {
		return scimAnswer{err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := scimAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	_ = json.Unmarshal(raw, &a.body)
	if resp.StatusCode >= 500 && resp.Header.Get("Content-Type") != "application/scim+json" {
		a.err = fmt.Errorf("a %d that is not in the SCIM error schema: %s", resp.StatusCode, raw)
	}
	return a
}

// scimTraffic is what concurrent SCIM clients did: every answer, and the
// changes admit confirmed with a 2xx, which must all be there afterwards.
type scimTraffic struct {
	mu        sync.Mutex
	answers   map[int]int       // status -> count
	bad       []string          // answers that break the contract
	created   map[string]string // user id -> userName
	titled    map[string]string // user id -> displayName a PATCH set
	grouped   map[string]bool   // user ids a group PATCH added
	groupID   string
	unavailed int
}

func newSCIMTraffic(groupID string) *scimTraffic {
	return &scimTraffic{answers: map[int]int{}, created: map[string]string{}, titled: map[string]string{}, grouped: map[string]bool{}, groupID: groupID}
}

// note records one answer and tells whether the change was confirmed.
func (tr *scimTraffic) note(op string, a scimAnswer, ok ...int) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.answers[a.status]++
	switch {
	case a.err != nil:
		tr.bad = append(tr.bad, fmt.Sprintf("%s: %v", op, a.err))
	case a.status == http.StatusServiceUnavailable:
		tr.unavailed++
		if a.retryAfter == "" {
			tr.bad = append(tr.bad, op+": 503 without Retry-After")
		}
		if a.body["status"] != "503" {
			tr.bad = append(tr.bad, fmt.Sprintf("%s: 503 body %v is not a SCIM error", op, a.body))
		}
	default:
		for _, s := range ok {
			if a.status == s {
				return true
			}
		}
		tr.bad = append(tr.bad, fmt.Sprintf("%s: %d %v", op, a.status, a.body))
	}
	return false
}

// drive runs one SCIM client until stop closes: it creates users, sets
// their displayName with a PATCH and adds them to the group, as Entra ID
// and Okta do, and waits a little after a 503 (less than Retry-After asks,
// to keep the test short).
func (tr *scimTraffic) drive(c scimClient, name string, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		userName := fmt.Sprintf("%s-%d@acme.example", name, n)
		a := c.do("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`",
			"name":{"givenName":"Load","familyName":"Test"},"emails":[{"value":"`+userName+`","primary":true}],"active":true}`)
		if !tr.note("create "+userName, a, http.StatusCreated) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		id, _ := a.body["id"].(string)
		tr.mu.Lock()
		tr.created[id] = userName
		tr.mu.Unlock()
		title := "Title " + userName
		a = c.do("PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"displayName","value":"`+title+`"}]}`)
		if tr.note("patch "+userName, a, http.StatusOK, http.StatusNoContent) {
			tr.mu.Lock()
			tr.titled[id] = title
			tr.mu.Unlock()
		}
		a = c.do("PATCH", "/scim/v2/Groups/"+tr.groupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`)
		if tr.note("add to group "+userName, a, http.StatusOK, http.StatusNoContent) {
			tr.mu.Lock()
			tr.grouped[id] = true
			tr.mu.Unlock()
		}
	}
}

// check asserts that no answer broke the contract and that every change
// admit confirmed is there, read back through c.
func (tr *scimTraffic) check(t *testing.T, c scimClient) {
	t.Helper()
	t.Logf("answers by status: %v; users created: %d", tr.answers, len(tr.created))
	for i, b := range tr.bad {
		if i == 20 {
			t.Errorf("... and %d more", len(tr.bad)-20)
			break
		}
		t.Errorf("%s", b)
	}
	for id, userName := range tr.created {
		a := c.do("GET", "/scim/v2/Users/"+id, "")
		if a.status != http.StatusOK || a.body["userName"] != userName {
			t.Errorf("user %s (%s) confirmed with 201 reads back as %d %v", id, userName, a.status, a.body)
			continue
		}
		if title, ok := tr.titled[id]; ok && a.body["displayName"] != title {
			t.Errorf("user %s: displayName %v, want %q that a PATCH confirmed", userName, a.body["displayName"], title)
		}
	}
	a := c.do("GET", "/scim/v2/Groups/"+tr.groupID, "")
	if a.status != http.StatusOK {
		t.Fatalf("read the group: %d %v", a.status, a.body)
	}
	members := map[string]bool{}
	list, _ := a.body["members"].([]any)
	for _, m := range list {
		if m, ok := m.(map[string]any); ok {
			members[fmt.Sprint(m["value"])] = true
		}
	}
	for id := range tr.grouped {
		if !members[id] {
			t.Errorf("user %s (%s): its confirmed add to the group was lost", id, tr.created[id])
		}
	}
}

// waitReady polls /readyz until it answers want, and returns how long that took.
func waitReady(t *testing.T, base string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(start)
			}
		}
		if time.Since(start) > within {
			t.Fatalf("/readyz did not answer %d within %s (last: %v %v)", want, within, resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSCIMSurvivesPostgresRestart stops the PostgreSQL under a running
// admit for ten seconds while SCIM clients create and change users, as
// an operator's restart or a failover does: every request gets its 2xx
// with the change there afterwards, or a 503 with Retry-After; never a
// 500, never half a change; /readyz says 503 and then 200 again, and admit
// carries on without a restart.
func TestSCIMSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	pg := pgtest.New(t)
	ctx := context.Background()
	dbURL, err := pg.CreateDatabase(ctx, "admit")
	if err != nil {
		t.Fatal(err)
	}
	settings := []string{"ADMIT_DATABASE_URL=" + dbURL, testKey}
	s := startRaceServer(t, t.TempDir(), settings...)
	c := scimClient{base: s.url, token: scimTokenFor(t, settings), http: &http.Client{Timeout: 30 * time.Second}}
	tr := newSCIMTraffic(createGroup(t, c))
	app := decode[appJSON](t, admitEnv(t, append(cleanEnv(), settings...), "", "app", "add", "--name", "Wiki", "--redirect-uri", "https://wiki.example/cb", "--account", "acme", "--json"))
	// A person's browser has the sign-in form before the outage.
	person := newVisitor(t)
	_, form := person.do("GET", s.url+"/login", nil, nil)
	csrf := csrfInput.FindStringSubmatch(form)
	if csrf == nil {
		t.Fatalf("no sign-in form:\n%.500s", form)
	}

	stop := make(chan struct{})
	var clients sync.WaitGroup
	for i := range 8 {
		clients.Go(func() { tr.drive(c, fmt.Sprintf("c%d", i), stop) })
	}
	time.Sleep(2 * time.Second)
	if err := pg.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	waitReady(t, s.url, http.StatusServiceUnavailable, 5*time.Second)
	// Pages answer a readable page, the CLI one line and a JSON error.
	resp, page := person.do("POST", s.url+"/login", url.Values{"email": {"pat@acme.example"}, "password": {"a long passphrase"}, "csrf_token": {csrf[1]}}, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Back in a moment") || !strings.Contains(page, "try again shortly") {
		t.Errorf("sign-in during the outage: %d Retry-After %q\n%.800s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	// The OpenID provider too: an app exchanging a code is told to retry,
	// not that its credentials are wrong nor a 500; a browser gets the page.
	token, err := http.NewRequest("POST", s.url+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {"https://wiki.example/cb"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	token.SetBasicAuth(app.ClientID, app.ClientSecret)
	token.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(token); err != nil {
		t.Error(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "temporarily_unavailable") {
			t.Errorf("a token request during the outage: %d Retry-After %q %s; want 503 temporarily_unavailable", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	authorize := s.url + "/oauth/authorize?" + url.Values{"client_id": {app.ClientID}, "redirect_uri": {"https://wiki.example/cb"}, "response_type": {"code"}, "scope": {"openid"}}.Encode()
	if resp, page := person.do("GET", authorize, nil, nil); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "Back in a moment") {
		t.Errorf("an app's sign-in request during the outage: %d\n%.500s", resp.StatusCode, page)
	}
	// An app's sign-out request was good: it is told to try again, not
	// that it was bad (a 400, which it would not send again).
	endSession := s.url + "/oauth/end_session?" + url.Values{"client_id": {app.ClientID}, "post_logout_redirect_uri": {"https://wiki.example/bye"}}.Encode()
	if resp, page := person.do("GET", endSession, nil, nil); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "Back in a moment") {
		t.Errorf("an app's sign-out request during the outage: %d\n%.500s", resp.StatusCode, page)
	}
	r := admitEnv(t, append(cleanEnv(), settings...), "", "user", "list", "--account", "acme", "--json")
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); r.code != exitError || len(lines) != 1 || !strings.Contains(lines[0], "unavailable") || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("admit user list during the outage: exit %d, stderr %q; want one line with the reason", r.code, r.stderr)
	}
	if e := decode[map[string]string](t, r); e["kind"] != "unavailable" {
		t.Errorf("admit user list --json during the outage: %v; want kind unavailable", e)
	}
	time.Sleep(time.Until(down.Add(10 * time.Second)))
	if err := pg.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	back := waitReady(t, s.url, http.StatusOK, 20*time.Second)
	t.Logf("ready again %s after PostgreSQL accepted connections", back)
	time.Sleep(2 * time.Second)
	close(stop)
	clients.Wait()
	before := len(tr.created)

	// After the outage admit works as before, without a restart.
	if a := c.do("POST", "/scim/v2/Users", `{"userName":"after@acme.example","emails":[{"value":"after@acme.example"}],"active":true}`); a.status != http.StatusCreated {
		t.Errorf("a create after the restart: %d %v", a.status, a.body)
	}
	tr.check(t, c)
	if tr.unavailed == 0 {
		t.Errorf("no request met the outage (no 503): the test proved nothing")
	}
	if before < 16 {
		t.Errorf("only %d users were created: the clients barely ran", before)
	}
	halves, err := storetest.HalfWritten(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range halves {
		t.Errorf("half-written: %s", h)
	}
	// Workers log an outage once, not every tick, and notice its end
	// within their longest back-off (Retry-After).
	for _, worker := range []string{"mail worker", "webhook worker"} {
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.logs.String(), worker+": the database is back"); {
			if time.Now().After(deadline) {
				t.Errorf("%s did not log the end of the outage", worker)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := strings.Count(s.logs.String(), worker+": the database is unavailable"); n != 1 {
			t.Errorf("%s logged the outage %d times, want once", worker, n)
		}
	}
	logs := s.logs.String()
	if strings.Contains(logs, "status=500") {
		t.Errorf("admit answered a 500 during the outage:\n%s", grepLines(logs, "status=500", 10))
	}
	s.stop(t)
}

// scimTokenFor creates the account acme and returns a new SCIM token for it.
func scimTokenFor(t *testing.T, settings []string) string {
	t.Helper()
	env := append(cleanEnv(), settings...)
	if r := admitEnv(t, env, "", "account", "create", "--slug", "acme", "--name", "Acme"); r.code != 0 {
		t.Fatalf("account create: %s", r.stderr)
	}
	r := admitEnv(t, env, "", "scim-token", "create", "--account", "acme", "--json")
	if r.code != 0 {
		t.Fatalf("scim-token create: %s", r.stderr)
	}
	return decode[map[string]any](t, r)["token"].(string)
}

func createGroup(t *testing.T, c scimClient) string {
	t.Helper()
	a := c.do("POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Everyone"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("create group: %d %v", a.status, a.body)
	}
	return a.body["id"].(string)
}

func grepLines(s, substr string, limit int) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, substr) && len(out) < limit {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
