package fetch_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/admit-dev/admit/fetch"
)

// FuzzParseAllow: ADMIT_OUTBOUND_ALLOW comes from the operator's
// environment. Whatever it holds, parsing never panics, an accepted list
// reads back as itself, and a rejected one says why on one line.
func FuzzParseAllow(f *testing.F) {
	for _, seed := range []string{"", "127.0.0.0/8", "10.0.0.0/8,adfs.corp.example", "::ffff:10.0.0.0/104", "fe80::1%eth0", "10.0.0.1/8",
		"*.x", "a..b", "https://x", "169.254.169.254", " , ,", "xn--bcher-kva.example", "0.0.0.0/0,::/0"} {
		f.Add(seed, "169.254.169.254")
	}
	f.Fuzz(func(t *testing.T, list, addr string) {
		a, err := fetch.ParseAllow(list)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on several lines: %q", err)
			}
			return
		}
		again, err := fetch.ParseAllow(a.String())
		if err != nil || again.String() != a.String() {
			t.Errorf("%q reads as %q, which reads as %q (%v)", list, a.String(), again.String(), err)
		}
		if ip, err := netip.ParseAddr(addr); err == nil {
			_ = a.Check(ip)
		}
	})
}
