package events_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/events"
)

// pythonSnippet is the verification without a library in the user guide.
var pythonSnippet = regexp.MustCompile("(?s)```python\n(.*?)```")

// TestVerificationSnippetWithoutALibrary runs the Python verification in
// docs/events.md, as a receiver would copy it, on requests admit signs:
// with the current secret and with the one rotated out during the
// overlap, and not a changed body, a stale timestamp, another secret, or
// headers missing or malformed (which must not raise: a 500 the sender
// could cause).
func TestVerificationSnippetWithoutALibrary(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("ADMIT_TEST_REQUIRE_SNIPPETS") == "1" {
			t.Fatalf("python3 is required (ADMIT_TEST_REQUIRE_SNIPPETS=1): %v", err)
		}
		t.Skip("python3 is not installed")
	}
	guide, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	check(t, err)
	m := pythonSnippet.FindSubmatch(guide)
	if m == nil {
		t.Fatal("docs/events.md has no Python verification snippet")
	}
	dir := t.TempDir()
	harness := string(m[1]) + `
import json, sys
for case in json.load(sys.stdin):
    print(verify(case["secret"], case["headers"], case["body"].encode()))
`
	check(t, os.WriteFile(filepath.Join(dir, "verify.py"), []byte(harness), 0o600))

	current, previous, other := events.NewSecret(), events.NewSecret(), events.NewSecret()
	body := `{"id":"0193e1c2-7a11-7f00-8c3d-4e5f6a7b8c9d","type":"user.created","data":{"email":"ann@acme.example"}}`
	type request struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	// signed is a request admit signed at at, during a rotation's
	// overlap, as a receiver holding secret gets it, with received for a
	// body.
	signed := func(secret string, at time.Time, received string) request {
		sig, err := events.Signature([]string{current, previous}, "0193e1c2-7a11-7f00-8c3d-4e5f6a7b8c9d", at, []byte(body))
		check(t, err)
		return request{Secret: secret, Body: received, Headers: map[string]string{
			"webhook-id": "0193e1c2-7a11-7f00-8c3d-4e5f6a7b8c9d", "webhook-timestamp": fmt.Sprint(at.Unix()), "webhook-signature": sig}}
	}
	with := func(r request, header, value string) request {
		r.Headers = maps.Clone(r.Headers)
		r.Headers[header] = value
		return r
	}
	without := func(r request, header string) request {
		r.Headers = maps.Clone(r.Headers)
		delete(r.Headers, header)
		return r
	}
	now := time.Now()
	cases := []struct {
		name string
		req  request
		want string
	}{
		{"the current secret", signed(current, now, body), "True"},
		{"the secret rotated out, in the overlap", signed(previous, now, body), "True"},
		{"a changed body", signed(current, now, strings.Replace(body, "ann@", "eve@", 1)), "False"},
		{"a timestamp 10 minutes old", signed(current, now.Add(-10*time.Minute), body), "False"},
		{"another secret", signed(other, now, body), "False"},
		{"no signature", without(signed(current, now, body), "webhook-signature"), "False"},
		{"a timestamp that is not a number", with(signed(current, now, body), "webhook-timestamp", "soon"), "False"},
		{"a signature that is not ASCII", with(signed(current, now, body), "webhook-signature", "v1,é"), "False"},
	}
	reqs := make([]request, len(cases))
	for i, tc := range cases {
		reqs[i] = tc.req
	}
	in, err := json.Marshal(reqs)
	check(t, err)
	cmd := exec.Command(python, filepath.Join(dir, "verify.py"))
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the snippet: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(cases) {
		t.Fatalf("the snippet printed %q; want one answer for each of %d requests", out, len(cases))
	}
	for i, tc := range cases {
		if got[i] != tc.want {
			t.Errorf("%s: the snippet says %s; want %s", tc.name, got[i], tc.want)
		}
	}
}
