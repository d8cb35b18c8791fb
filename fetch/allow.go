package fetch

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Allow is what the operator lets outbound requests reach although it is
// refused by default: networks (CIDRs) and host names. An identity provider
// on the company's own network (ADFS, Keycloak) lives at a private address;
// a test provider on this machine lives on loopback.
type Allow struct {
	networks []netip.Prefix
	hosts    []string // lowercase, no trailing dot
}

// ParseAllow reads a comma-separated list of CIDRs, single addresses and
// host names ("127.0.0.0/8,10.1.2.3,adfs.corp.example"). It reports every
// bad entry at once.
func ParseAllow(list string) (Allow, error) {
	var a Allow
	var problems []string
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.Contains(entry, "://") {
			problems = append(problems, fmt.Sprintf("%q is a URL; give its host name alone", entry))
			continue
		}
		if strings.Contains(entry, "/") {
			p, err := netip.ParsePrefix(entry)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%q is not a CIDR like 10.0.0.0/8", entry))
			case p != p.Masked():
				problems = append(problems, fmt.Sprintf("%q has bits set past its prefix length; did you mean %s?", entry, p.Masked()))
			default:
				a.networks = append(a.networks, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)))
			}
			continue
		}
		if ip, err := netip.ParseAddr(entry); err == nil {
			ip = ip.Unmap().WithZone("")
			a.networks = append(a.networks, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		host := strings.ToLower(strings.TrimSuffix(entry, "."))
		if !validHostName(host) {
			problems = append(problems, fmt.Sprintf("%q is neither a CIDR, an address nor a host name (no scheme, port or wildcard)", entry))
			continue
		}
		a.hosts = append(a.hosts, host)
	}
	if len(problems) > 0 {
		return Allow{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return a, nil
}

// unmappedBits is the prefix length of p once an IPv4-mapped prefix
// (::ffff:10.0.0.0/104) is written as IPv4 (10.0.0.0/8).
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// String lists the entries as ParseAllow reads them.
func (a Allow) String() string {
	var out []string
	for _, p := range a.networks {
		out = append(out, p.String())
	}
	return strings.Join(append(out, a.hosts...), ",")
}

// allowsHost says whether the operator listed the host name itself.
func (a Allow) allowsHost(host string) bool {
	return slices.Contains(a.hosts, strings.ToLower(strings.TrimSuffix(host, ".")))
}

// allowsAddr says whether addr is in a listed network.
func (a Allow) allowsAddr(addr netip.Addr) bool {
	for _, p := range a.networks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// listsExactly says whether addr itself is listed (a /32 or /128), which
// is what it takes to reach a cloud metadata address.
func (a Allow) listsExactly(addr netip.Addr) bool {
	return slices.Contains(a.networks, netip.PrefixFrom(addr, addr.BitLen()))
}

// A refusedRange is a block of addresses outbound requests do not reach
// unless the operator allows it.
type refusedRange struct {
	prefix netip.Prefix
	what   string
}

func mustRange(cidr, what string) refusedRange {
	return refusedRange{netip.MustParsePrefix(cidr), what}
}

// refusedRanges are the addresses of this machine, of private networks and
// of special purposes (IANA's special-purpose registries, RFC 6890): a
// request there from admit could reach what only admit's own network sees.
var refusedRanges = []refusedRange{
	mustRange("0.0.0.0/8", "an unspecified (this-network) address"),
	mustRange("10.0.0.0/8", "a private address (RFC 1918)"),
	mustRange("100.64.0.0/10", "a shared (carrier-grade NAT) address (RFC 6598)"),
	mustRange("127.0.0.0/8", "a loopback address"),
	mustRange("169.254.0.0/16", "a link-local address"),
	mustRange("172.16.0.0/12", "a private address (RFC 1918)"),
	mustRange("192.0.0.0/24", "an IETF protocol assignment address"),
	mustRange("192.168.0.0/16", "a private address (RFC 1918)"),
	mustRange("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
	mustRange("224.0.0.0/4", "a multicast address"),
	mustRange("240.0.0.0/4", "a reserved or broadcast address"),
	mustRange("::/128", "an unspecified address"),
	mustRange("::1/128", "a loopback address"),
	mustRange("::/96", "an IPv4-compatible address (deprecated)"),
	mustRange("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
	mustRange("100::/64", "a discard-only address (RFC 6666)"),
	mustRange("fc00::/7", "a unique local address"),
	mustRange("fe80::/10", "a link-local address"),
	mustRange("fec0::/10", "a site-local address (deprecated)"),
	mustRange("ff00::/8", "a multicast address"),
}

// metadataAddrs are the clouds' instance metadata services, which hand
// out the machine's credentials to whoever asks from it. Allowing the
// private network around one (10.0.0.0/8 for ADFS) does not open it: only
// listing the address itself does.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack...
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// Check returns a *RefusedError when a request may not reach addr: an
// address of the kinds above that the operator did not allow. An address
// in IPv6 clothing (IPv4-mapped, NAT64, 6to4) is judged as the IPv4
// address it reaches.
func (a Allow) Check(addr netip.Addr) error {
	return a.check(addr, false)
}

// check is Check for a connection to a host the operator allowed by name:
// then the name's addresses are taken as the operator's own, except the
// metadata addresses.
func (a Allow) check(addr netip.Addr, hostAllowed bool) error {
	addr = addr.WithZone("")
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if v4, how, ok := embeddedIPv4(addr); ok {
		if err := a.check(v4, hostAllowed); err != nil {
			refused := err.(*RefusedError)
			refused.Addr, refused.Reason = addr, how+" of "+refused.Reason
			return refused
		}
		return nil
	}
	if slices.Contains(metadataAddrs, addr) {
		if a.listsExactly(addr) {
			return nil
		}
		return &RefusedError{Addr: addr, Reason: "a cloud instance metadata address"}
	}
	if hostAllowed || a.allowsAddr(addr) {
		return nil
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(addr) {
			return &RefusedError{Addr: addr, Network: r.prefix, Reason: fmt.Sprintf("%s (%s)", r.what, r.prefix)}
		}
	}
	return nil
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 address that an IPv6 address translates
// to on the way: NAT64's well-known prefix carries it in its last 32 bits,
// 6to4 in bits 16 to 48.
func embeddedIPv4(addr netip.Addr) (netip.Addr, string, bool) {
	b := addr.As16()
	switch {
	case !addr.Is6():
		return netip.Addr{}, "", false
	case nat64.Contains(addr):
		return netip.AddrFrom4([4]byte(b[12:16])), "the NAT64 form", true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte(b[2:6])), "the 6to4 form", true
	}
	return netip.Addr{}, "", false
}
