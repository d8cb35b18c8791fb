package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the proxies in front of admit (load balancers,
// ingress controllers) whose X-Forwarded-For it believes
// (ADMIT_TRUSTED_PROXIES). Behind them, every connection's peer is a
// proxy, and what counts against one client's address (the sign-in
// throttles) would count against everyone's.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads a comma-separated list of CIDRs and addresses.
func ParseTrustedProxies(s string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			if p != p.Masked() {
				return nil, fmt.Errorf("%q is not a network's first address: did you mean %s?", f, p.Masked())
			}
			// Addresses are compared unmapped (trusts): an IPv4-mapped
			// network is the IPv4 network it maps, or it would hold none.
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not a CIDR or an IP address (like 10.0.0.0/8 or 192.0.2.10)", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t TrustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxForwardedHops bounds how far back X-Forwarded-For is read.
const maxForwardedHops = 16

// ClientAddr returns the address of the client that r came from: the
// connection's peer, or, when the peer is a trusted proxy, the nearest
// address in X-Forwarded-For that is not one. The header is read from the
// right, as proxies append to it: whatever lies left of the first address
// no trusted proxy vouches for was written by the client, and a client
// may write anything there. An entry that is not an address ends the
// walk at the last trusted hop.
func (t TrustedProxies) ClientAddr(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	client := peer.Addr().Unmap()
	if !t.trusts(client) {
		return client
	}
	// Read from the right, the last header first, one hop at a time: a
	// header as long as the server takes costs the hops read, not a split
	// of all of it on every request.
	values := r.Header.Values("X-Forwarded-For")
	n := 0
	for v := len(values) - 1; v >= 0; v-- {
		rest := values[v]
		for more := true; more; n++ {
			if n == maxForwardedHops {
				return client
			}
			i := strings.LastIndexByte(rest, ',')
			hop := strings.TrimSpace(rest[i+1:])
			rest, more = rest[:max(i, 0)], i >= 0
			a, err := netip.ParseAddr(hop)
			if err != nil {
				ap, err := netip.ParseAddrPort(hop)
				if err != nil {
					return client
				}
				a = ap.Addr()
			}
			if a.Zone() != "" {
				return client
			}
			client = a.Unmap()
			if !t.trusts(client) {
				return client
			}
		}
	}
	return client
}

// RealClient makes r.RemoteAddr the client's address (ClientAddr), for
// everything after it: the throttles, the logs, the proxy's own
// X-Forwarded-For to the app. With no trusted proxies it changes nothing.
func (t TrustedProxies) RealClient(next http.Handler) http.Handler {
	if len(t) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := t.ClientAddr(r); a.IsValid() {
			r2 := *r
			r2.RemoteAddr = net.JoinHostPort(a.String(), "0")
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}
