package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/web"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "[]", ""},
		{"10.0.0.0/8, 192.0.2.10 ,fd00::/8", "[10.0.0.0/8 192.0.2.10/32 fd00::/8]", ""},
		{"::ffff:192.0.2.10", "[192.0.2.10/32]", ""},
		{"::ffff:10.0.0.0/104", "[10.0.0.0/8]", ""},
		{"10.0.0.1/8", "", "did you mean 10.0.0.0/8"},
		{"lb.example", "", "not a CIDR or an IP address"},
		{"fe80::1%eth0", "", "not a CIDR or an IP address"},
	} {
		got, err := web.ParseTrustedProxies(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v; want an error saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || "["+sprint(got)+"]" != tc.want {
			t.Errorf("%q: %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func sprint(t web.TrustedProxies) string {
	var b strings.Builder
	for i, p := range t {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// TestClientAddr: behind trusted proxies the client is the nearest
// address in X-Forwarded-For no trusted proxy is at; whatever a client
// writes left of that, or sends without a trusted proxy between, is not
// believed.
func TestClientAddr(t *testing.T) {
	trusted, err := web.ParseTrustedProxies("10.0.0.0/8, 192.0.2.10, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy", "198.51.100.7:4000", nil, "198.51.100.7"},
		{"a stranger's header is not believed", "198.51.100.7:4000", []string{"203.0.113.1"}, "198.51.100.7"},
		{"one trusted proxy", "10.1.2.3:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"a spoofed entry left of the client", "10.1.2.3:4000", []string{"203.0.113.1, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted proxies", "10.1.2.3:4000", []string{"203.0.113.1, 198.51.100.7, 192.0.2.10"}, "198.51.100.7"},
		{"headers joined in order", "10.1.2.3:4000", []string{"203.0.113.1", "198.51.100.7"}, "198.51.100.7"},
		{"a trusted proxy with no header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"every hop trusted", "10.1.2.3:4000", []string{"10.9.9.9, 192.0.2.10"}, "10.9.9.9"},
		{"garbage stops at the last trusted hop", "10.1.2.3:4000", []string{"198.51.100.7, <script>, 10.4.4.4"}, "10.4.4.4"},
		{"garbage from the client", "10.1.2.3:4000", []string{"unknown"}, "10.1.2.3"},
		{"an entry with a port", "10.1.2.3:4000", []string{"198.51.100.7:5555"}, "198.51.100.7"},
		{"IPv6", "[fd00::1]:4000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:4000", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"a zone is not an address", "10.1.2.3:4000", []string{"fe80::1%eth0"}, "10.1.2.3"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := trusted.ClientAddr(r).String(); got != tc.want {
			t.Errorf("%s: %s; want %s", tc.name, got, tc.want)
		}
	}

	// Bounded: a header of many trusted hops is read only so far.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7"+strings.Repeat(", 10.0.0.1", 100))
	if got := trusted.ClientAddr(r).String(); got != "10.0.0.1" {
		t.Errorf("100 trusted hops: %s; want the last one read, 10.0.0.1", got)
	}

	// RealClient hands on the client's address.
	var seen string
	h := trusted.RealClient(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.RemoteAddr }))
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "198.51.100.7:0" {
		t.Errorf("RealClient passed on %q", seen)
	}
}

// TestClientAddrReadsOnlyTheHopsItUses: a header as long as the server
// takes (64 KiB) from a trusted proxy costs the hops read, not a split
// of the whole header into tens of thousands of strings for every request.
func TestClientAddrReadsOnlyTheHopsItUses(t *testing.T) {
	trusted, err := web.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Add("X-Forwarded-For", strings.Repeat("1,", 16<<10))
	r.Header.Add("X-Forwarded-For", strings.Repeat("2,", 16<<10)+"198.51.100.7")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if got := trusted.ClientAddr(r).String(); got != "198.51.100.7" {
			t.Fatalf("got %s", got)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 4<<10 {
		t.Errorf("ClientAddr allocated %d bytes a request for a 64 KiB header; want under 4 KiB", per)
	}
}

// FuzzClientAddr: whatever a client or a proxy writes into
// X-Forwarded-For, the address read is valid and is either the peer or an
// entry of the header; from a peer no proxy of the list, the header is
// never believed.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:4000", "203.0.113.1, 198.51.100.7")
	f.Add("198.51.100.7:4000", "10.0.0.1")
	f.Add("[fd00::1]:4000", "2001:db8::7, fe80::1%eth0")
	f.Add("10.1.2.3:4000", ",,, ,\x00, 10.0.0.1:99, [::1]:5")
	trusted, err := web.ParseTrustedProxies("10.0.0.0/8, fd00::/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := trusted.ClientAddr(r)
		without := httptest.NewRequest(http.MethodGet, "/", nil)
		without.RemoteAddr = peer
		direct := trusted.ClientAddr(without)
		if got == direct {
			return
		}
		if !got.IsValid() {
			t.Fatalf("peer %q, header %q: an invalid address where the peer reads %v", peer, xff, direct)
		}
		if !direct.IsValid() || !strings.HasPrefix(direct.Unmap().String(), "10.") && !strings.HasPrefix(direct.Unmap().String(), "fd") {
			t.Fatalf("peer %q (no trusted proxy) had its header believed: %v", peer, got)
		}
		if !slices.ContainsFunc(strings.Split(xff, ","), func(e string) bool {
			e = strings.TrimSpace(e)
			if ap, err := netip.ParseAddrPort(e); err == nil {
				return ap.Addr().Unmap() == got.Unmap()
			}
			a, err := netip.ParseAddr(e)
			return err == nil && a.Unmap() == got.Unmap()
		}) {
			t.Fatalf("peer %q, header %q: %v is in neither", peer, xff, got)
		}
	})
}
