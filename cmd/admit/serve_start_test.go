package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/admit-dev/admit/store/storetest"
)

// TestServePortInUse: a port in use is one line and a non-zero exit, the
// ports being taken before any background work starts (found: a metadata
// refresh cut short logged `level=ERROR ... context canceled` first); a
// loopback ADMIT_BASE_URL on another port than ADMIT_ADDR's is warned of,
// a public one is not.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	db := storetest.SQLiteURL(t)
	t.Run("--json", func(t *testing.T) {
		// The log as JSON lines, every one an object with admit's fields.
		env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_ADDR="+busy.Addr().String(), "ADMIT_METRICS_ADDR=off")
		r := admitWith(t, env, "", "serve", "--json")
		if r.code == exitOK {
			t.Fatalf("serve on a port in use exited 0:\n%s", r.stderr)
		}
		lines := 0
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if strings.HasPrefix(line, "admit: ") || strings.HasPrefix(line, "{\"error\"") {
				continue // the command's own one-line reason, and its JSON
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] == nil || rec["msg"] == nil || rec["time"] == nil {
				t.Errorf("a log line that is no JSON object with time, level and msg: %q (%v)", line, err)
			}
			lines++
		}
		if lines == 0 {
			t.Errorf("no log line:\n%s", r.stderr)
		}
	})
	for _, tc := range []struct {
		name, base string
		warned     bool
	}{
		{"default base URL", "", true},
		{"public base URL", "https://admit.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(cleanEnv(), "ADMIT_DATABASE_URL="+db, testKey, "ADMIT_ADDR="+busy.Addr().String(), "ADMIT_METRICS_ADDR=off")
			if tc.base != "" {
				env = append(env, "ADMIT_BASE_URL="+tc.base)
			}
			r := admitWith(t, env, "", "serve")
			if r.code == exitOK {
				t.Fatalf("serve on a port in use exited 0:\n%s", r.stderr)
			}
			if n := strings.Count(r.stderr, "address already in use"); n != 1 {
				t.Errorf("the port in use is said %d times, want once:\n%s", n, r.stderr)
			}
			if strings.Contains(r.stderr, "level=ERROR") {
				t.Errorf("an error is logged beside the port in use:\n%s", r.stderr)
			}
			if got := strings.Contains(r.stderr, "level=WARN msg=\"ADMIT_BASE_URL http://localhost:8080 is on this machine but on port 8080"); got != tc.warned {
				t.Errorf("base URL warned: %v, want %v:\n%s", got, tc.warned, r.stderr)
			}
		})
	}
}

// TestBaseURLWarning: the rule behind the warning, case by case.
func TestBaseURLWarning(t *testing.T) {
	for _, tc := range []struct {
		addr, base string
		warned     bool
	}{
		{"127.0.0.1:8080", "http://localhost:8080", false},
		{"127.0.0.1:9000", "http://localhost:8080", true},
		{":9000", "http://127.0.0.1:8080", true},
		{"[::1]:9000", "http://[::1]:8080/", true},
		{"127.0.0.1:8080", "http://localhost", true},
		{"127.0.0.1:443", "https://localhost", false},
		{"127.0.0.1:0", "http://localhost:8080", false},
		{"0.0.0.0:9000", "https://admit.example.com", false},
		{"0.0.0.0:9000", "http://10.0.0.5:8080", false},
	} {
		got := Config{Addr: tc.addr, BaseURL: tc.base}.BaseURLWarning() != ""
		if got != tc.warned {
			t.Errorf("ADMIT_ADDR %s, ADMIT_BASE_URL %s: warned %v, want %v", tc.addr, tc.base, got, tc.warned)
		}
	}
}
