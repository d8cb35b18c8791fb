package directory

import "testing"

func TestAddressKey(t *testing.T) {
	for _, tc := range []struct {
		name, addr, want string
	}{
		{"IPv4", "192.0.2.1", "addr:192.0.2.1"},
		{"IPv4-mapped IPv6 is the IPv4 address", "::ffff:192.0.2.1", "addr:192.0.2.1"},
		{"IPv6 is its /64", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "addr:2001:db8:1:2::/64"},
		{"another host of the same /64", "2001:db8:1:2::9", "addr:2001:db8:1:2::/64"},
		{"the next /64", "2001:db8:1:3::9", "addr:2001:db8:1:3::/64"},
		{"IPv6 spelled in capitals", "2001:DB8:1:2::1", "addr:2001:db8:1:2::/64"},
		{"a zone is dropped", "fe80::1%eth0", "addr:fe80::/64"},
		{"IPv6 loopback", "::1", "addr:::/64"},
		{"not an IP address", "@", "addr:@"},
		{"empty", "", "addr:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := addressKey(tc.addr); got != tc.want {
				t.Errorf("addressKey(%q) = %q; want %q", tc.addr, got, tc.want)
			}
		})
	}
}
