package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/events"
	"github.com/admit-dev/admit/npmtest"
	"github.com/admit-dev/admit/store/storetest"
)

// The signatures are checked by an independent implementation: the
// Standard Webhooks reference library for JavaScript (standardwebhooks on
// the npm registry), at the version testdata/standardwebhooks pins.

const standardWebhooksDir = "testdata/standardwebhooks"

// verifier returns the folder holding the locked standardwebhooks
// library and verify.js (see npmtest).
func verifier(t *testing.T) string {
	t.Helper()
	return npmtest.Install(t, standardWebhooksDir)
}

// verifyCase is one message for verify.js to check with one secret.
type verifyCase struct {
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
	Body      string `json:"body"`
}

// verify runs the library on each case and returns its verdicts.
func verify(t *testing.T, dir string, cases []verifyCase) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed beside npm")
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "verify.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("verify.js: %v\n%s", err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestSignaturesVerifyWithStandardWebhooks delivers events before, during
// and after secret rotations, and has the reference library check each
// against each secret: every secret in force verifies, no other does.
func TestSignaturesVerifyWithStandardWebhooks(t *testing.T) {
	dir := verifier(t)
	storetest.Each(t, func(t *testing.T, s *storeT) {
		ctx := context.Background()
		clk := newClock()
		r := newRig(t, s, clk, 0)
		rc := newReceiver(t)
		a := mustAccount(t, r.svc, "acme", "acme.example")
		w, first := r.webhook(t, rc.URL, a.ID, directory.EventUserCreated)
		r.start(t)
		deliver := func(prefix string) received {
			t.Helper()
			n := len(rc.accepted())
			scimCreates(t, r.svc, a, prefix, 1)
			waitFor(t, "a delivery", 30*time.Second, func() bool { return len(rc.accepted()) > n })
			return rc.accepted()[n]
		}
		rotate := func(overlap time.Duration) string {
			t.Helper()
			secret := events.NewSecret()
			must[directory.Webhook](t)(r.svc.RotateWebhookSecret(ctx, operator, w.ID, overlap,
				func(purpose string) string { return r.sealer.Seal([]byte(secret), purpose) }))
			return secret
		}
		// Within the library's five minutes of tolerance for the
		// timestamp, which it checks against the real clock.
		before := deliver("a")
		second := rotate(3 * time.Minute) // the first signs three more minutes
		during := deliver("b")
		clk.Add(time.Minute)
		third := rotate(3 * time.Minute) // during the overlap: the first keeps its time
		both := deliver("d")
		clk.Add(150 * time.Second) // the first's overlap is over, the second's not
		later := deliver("e")
		fourth := rotate(0) // a leaked secret: every older one stops now
		after := deliver("c")
		cases := []struct {
			name   string
			msg    received
			secret string
			ok     bool
		}{
			{"before rotation, first secret", before, first, true},
			{"before rotation, second secret", before, second, false},
			{"during the overlap, first secret", during, first, true},
			{"during the overlap, second secret", during, second, true},
			{"rotated again during the overlap, first secret", both, first, true},
			{"rotated again during the overlap, second secret", both, second, true},
			{"rotated again during the overlap, third secret", both, third, true},
			{"after the first overlap, first secret", later, first, false},
			{"after the first overlap, second secret", later, second, true},
			{"after the first overlap, third secret", later, third, true},
			{"after an overlap of zero, second secret", after, second, false},
			{"after an overlap of zero, third secret", after, third, false},
			{"after an overlap of zero, fourth secret", after, fourth, true},
			{"a stranger's secret", after, events.NewSecret(), false},
		}
		var in []verifyCase
		for _, c := range cases {
			in = append(in, verifyCase{Secret: c.secret, ID: c.msg.ID, Timestamp: c.msg.Timestamp, Signature: c.msg.Signature, Body: string(c.msg.Body)})
		}
		// A body changed in transit is refused.
		in = append(in, verifyCase{Secret: fourth, ID: after.ID, Timestamp: after.Timestamp, Signature: after.Signature, Body: strings.Replace(string(after.Body), "user.created", "user.updated", 1)})
		got := verify(t, dir, in)
		if len(got) != len(in) {
			t.Fatalf("verify.js answered %d lines for %d cases: %q", len(got), len(in), got)
		}
		for i, c := range cases {
			if ok := got[i] == "ok"; ok != c.ok {
				t.Errorf("%s: library says %q; want verified=%v (signature %q)", c.name, got[i], c.ok, c.msg.Signature)
			}
		}
		if got[len(got)-1] == "ok" {
			t.Error("a changed body verifies")
		}
		for _, c := range []struct {
			name string
			msg  received
			want int
		}{{"during the overlap", during, 2}, {"rotated again during it", both, 3}, {"after an overlap of zero", after, 1}} {
			if n := strings.Count(c.msg.Signature, "v1,"); n != c.want {
				t.Errorf("%s: %d signatures; want %d", c.name, n, c.want)
			}
		}
	})
}
