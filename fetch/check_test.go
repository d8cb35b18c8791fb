package fetch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/admit-dev/admit/fetch"
)

// TestCheck: a URL is judged as a request to it would be, without a
// connection: the https rule, and the addresses its host resolves to (one
// allowed is enough, as a request uses the allowed ones).
func TestCheck(t *testing.T) {
	resolve := names{
		"hooks.example":    {"203.0.113.7"},
		"internal.example": {"10.1.2.3"},
		"mixed.example":    {"10.1.2.3", "203.0.113.8"},
	}
	for _, tc := range []struct {
		allow, url string
		refused    bool // a *fetch.RefusedError
		err        bool // any other error
	}{
		{"", "https://hooks.example/admit", false, false},
		{"", "https://203.0.113.7/admit", false, false},
		{"", "http://hooks.example/admit", true, false},
		{"hooks.example", "http://hooks.example/admit", false, false},
		{"", "https://internal.example/admit", true, false},
		{"10.0.0.0/8", "https://internal.example/admit", false, false},
		{"", "https://mixed.example/admit", false, false},
		{"", "https://127.0.0.1:9000/hooks", true, false},
		{"127.0.0.0/8", "http://127.0.0.1:9000/hooks", false, false},
		{"127.0.0.0/8", "http://localhost:9000/hooks", true, false},
		{"169.254.0.0/16", "https://169.254.169.254/latest", true, false},
		{"", "ftp://hooks.example/x", true, false},
		{"", "https://nosuch.example/x", false, true},
		{"", "not a url", false, true},
	} {
		allow, err := fetch.ParseAllow(tc.allow)
		if err != nil {
			t.Fatal(err)
		}
		err = fetch.New(fetch.Config{Allow: allow, Resolver: resolve}).Check(context.Background(), tc.url)
		var refused *fetch.RefusedError
		if got := errors.As(err, &refused); got != tc.refused || !tc.refused && (err != nil) != tc.err {
			t.Errorf("allow %q, %s: %v; want refused %v, another error %v", tc.allow, tc.url, err, tc.refused, tc.err)
		}
	}
}
