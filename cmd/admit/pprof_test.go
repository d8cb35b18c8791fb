package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store/storetest"
)

// TestPprofListener: ADMIT_PPROF_ADDR serves Go's profiles on its own
// loopback listener, never on the public one, and only when asked for.
func TestPprofListener(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), "ADMIT_PPROF_ADDR=127.0.0.1:0")
	m := regexp.MustCompile(`msg="pprof is listening[^"]*" addr=(\S+)`).FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no pprof listener in the log:\n%s", s.logs)
	}
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/cmdline": "serve", "/debug/pprof/heap?debug=1": "heap profile"} {
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		body := new(strings.Builder)
		_, _ = io.Copy(body, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(body.String(), want) {
			t.Errorf("pprof GET %s = %d; want 200 with %q", path, resp.StatusCode, want)
		}
	}
	if resp, _ := s.get(t, "/debug/pprof/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("public GET /debug/pprof/ = %d; want 404", resp.StatusCode)
	}
	s.stop(t)

	off := startServer(t, t.TempDir())
	if strings.Contains(off.logs.String(), "pprof") {
		t.Errorf("without ADMIT_PPROF_ADDR the log mentions pprof:\n%s", off.logs)
	}
	off.stop(t)
}

func TestPprofAddressRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, addr, want string }{
		{"every interface", ":6060", "loopback only"},
		{"a public address", "192.0.2.1:6060", "loopback only"},
		{"unspecified", "0.0.0.0:6060", "loopback only"},
		{"a host name", "admit.example:6060", "loopback only"},
		{"not an address", "6060", "want host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := admitWith(t, append(cleanEnv(), "ADMIT_DATABASE_URL="+storetest.SQLiteURL(t), testKey, "ADMIT_PPROF_ADDR="+tc.addr), "", "serve")
			if r.code != exitUsage || !strings.Contains(r.stderr, "ADMIT_PPROF_ADDR") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, %q; want %d naming ADMIT_PPROF_ADDR and %q", r.code, r.stderr, exitUsage, tc.want)
			}
		})
	}
}
