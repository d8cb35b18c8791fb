package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/storetest"
)

// TestProviderLogsInAdmitsFormat: a refused token request (an unknown
// code) is logged by the OpenID provider's library through admit's
// logger: in admit's format, at INFO, with the request id, once; no line
// of admit serve is in Go's default logger format.
func TestProviderLogsInAdmitsFormat(t *testing.T) {
	t.Parallel()
	db := storetest.SQLiteURL(t)
	addr := freeAddr(t)
	base := "http://" + addr
	settings := []string{"ADMIT_DATABASE_URL=" + db, "ADMIT_BASE_URL=" + base, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	r := admitWith(t, append(cleanEnv(), settings...), "", "app", "add", "--name", "Wiki", "--redirect-uri", "http://127.0.0.1:9/cb", "--json")
	if r.code != 0 {
		t.Fatalf("app add: %s", r.stderr)
	}
	app := decode[appJSON](t, r)
	srv := startServer(t, t.TempDir(), append(settings, "ADMIT_ADDR="+addr)...)
	defer srv.stop(t)

	req, _ := http.NewRequest("POST", base+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {"http://127.0.0.1:9/cb"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.ClientID, app.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusBadRequest || id == "" {
		t.Fatalf("token request with an unknown code: %d, request id %q", resp.StatusCode, id)
	}
	// The request's own line (msg=request) is its last.
	var logs string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		logs = srv.logs.String()
		if strings.Contains(logs, "msg=request ") && strings.Contains(grepLines(logs, "request_id="+id, 10), "msg=request ") || time.Now().After(deadline) {
			break
		}
	}
	var mine []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") || !strings.Contains(line, " msg=") {
			t.Errorf("a line not in admit's format: %s", line)
		}
		if strings.Contains(line, "request_id="+id) {
			mine = append(mine, line)
		}
	}
	refusals := 0
	for _, line := range mine {
		if strings.Contains(line, "oidc_error.type=invalid_grant") {
			refusals++
			if !strings.Contains(line, "level=INFO") {
				t.Errorf("the refusal is not logged at INFO: %s", line)
			}
		}
	}
	if refusals != 1 {
		t.Errorf("the refusal is logged %d times; want once. The request's lines:\n%s", refusals, strings.Join(mine, "\n"))
	}
}
