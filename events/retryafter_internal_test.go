package events

import (
	"net/http"
	"testing"
	"time"
)

// TestAskedToWait: Retry-After counts with a 429 or a 503 only, in
// seconds or as an HTTP date in the future; anything else asks nothing,
// and a huge number does not overflow.
func TestAskedToWait(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		value  string
		want   time.Duration
	}{
		{"seconds with 429", 429, "120", 2 * time.Minute},
		{"seconds with 503", 503, "30", 30 * time.Second},
		{"blanks around", 429, " 7 ", 7 * time.Second},
		{"zero", 429, "0", 0},
		{"an HTTP date", 503, "Wed, 02 Dec 2026 12:05:00 GMT", 5 * time.Minute},
		{"an HTTP date past", 503, "Wed, 02 Dec 2026 11:05:00 GMT", 0},
		{"with 500", 500, "120", 0},
		{"with 200", 200, "120", 0},
		{"none", 429, "", 0},
		{"negative", 429, "-5", 0},
		{"a fraction", 429, "1.5", 0},
		{"words", 429, "soon", 0},
		{"huge", 429, "18446744073709551615", maxAskedWait * time.Second},
		{"past uint64", 429, "99999999999999999999999", 0},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if got := askedToWait(tc.status, h, now); got != tc.want {
			t.Errorf("%s: %s", tc.name, got)
		}
	}
	if got := askedToWait(429, nil, now); got != 0 {
		t.Errorf("no header at all: %s", got)
	}
}
