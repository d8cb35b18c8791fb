package fetch_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/admit-dev/admit/fetch"
)

func mustAllow(t testing.TB, list string) fetch.Allow {
	t.Helper()
	a, err := fetch.ParseAllow(list)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAddressRules: which addresses a request may reach, by default and
// with an allow list, in every spelling an address comes in.
func TestAddressRules(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		allow string
		// refused is the reason's telling part; "" means allowed.
		refused string
	}{
		{"93.184.215.14", "", ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", "", ""},
		{"8.8.8.8", "", ""},
		{"0.0.0.0", "", "unspecified"},
		{"0.1.2.3", "", "unspecified"},
		{"10.0.0.1", "", "private"},
		{"10.255.255.255", "", "private"},
		{"172.16.0.1", "", "private"},
		{"172.31.255.255", "", "private"},
		{"172.32.0.1", "", ""},
		{"192.168.1.1", "", "private"},
		{"100.64.0.1", "", "carrier-grade NAT"},
		{"100.127.255.254", "", "carrier-grade NAT"},
		{"100.128.0.1", "", ""},
		{"127.0.0.1", "", "loopback"},
		{"127.0.0.2", "", "loopback"},
		{"169.254.1.1", "", "link-local"},
		{"169.254.169.254", "", "metadata"},
		{"100.100.100.200", "", "metadata"},
		{"192.0.0.8", "", "IETF"},
		{"198.18.0.1", "", "benchmarking"},
		{"224.0.0.1", "", "multicast"},
		{"239.255.255.250", "", "multicast"},
		{"255.255.255.255", "", "broadcast"},
		{"::", "", "unspecified"},
		{"::1", "", "loopback"},
		{"fe80::1", "", "link-local"},
		{"fe80::1%eth0", "", "link-local"},
		{"febf::1", "", "link-local"},
		{"fec0::1", "", "site-local"},
		{"fc00::1", "", "unique local"},
		{"fd12:3456::1", "", "unique local"},
		{"fd00:ec2::254", "", "metadata"},
		{"ff02::1", "", "multicast"},
		{"100::1", "", "discard"},
		{"::7f00:1", "", "IPv4-compatible"},
		// IPv4-mapped IPv6 is the IPv4 address.
		{"::ffff:127.0.0.1", "", "loopback"},
		{"::ffff:10.1.2.3", "", "private"},
		{"::ffff:169.254.169.254", "", "metadata"},
		{"::ffff:8.8.8.8", "", ""},
		// NAT64 and 6to4 reach the IPv4 address they carry.
		{"64:ff9b::a01:203", "", "NAT64 form of a private"},
		{"64:ff9b::a9fe:a9fe", "", "NAT64 form of a cloud instance metadata"},
		{"64:ff9b::808:808", "", ""},
		{"64:ff9b:1::1", "", "local-use NAT64"},
		{"2002:7f00:1::1", "", "6to4 form of a loopback"},
		{"2002:808:808::1", "", ""},
		// The allow list opens what it names, and no more.
		{"127.0.0.1", "127.0.0.0/8", ""},
		{"127.0.0.2", "127.0.0.1/32", "loopback"},
		{"127.0.0.1", "127.0.0.1", ""},
		{"::ffff:127.0.0.1", "127.0.0.0/8", ""},
		{"10.1.2.3", "10.0.0.0/8", ""},
		{"10.1.2.3", "::ffff:10.0.0.0/104", ""},
		{"10.1.2.3", "10.2.0.0/16", "private"},
		{"fd12::1", "fd12::/16", ""},
		{"::1", "127.0.0.0/8", "loopback"},
		// A cloud metadata address opens only when listed itself.
		{"169.254.169.254", "169.254.0.0/16", "metadata"},
		{"100.100.100.200", "100.64.0.0/10", "metadata"},
		{"fd00:ec2::254", "fc00::/7", "metadata"},
		{"169.254.169.254", "169.254.169.254/32", ""},
		{"169.254.169.254", "169.254.169.254", ""},
		{"169.254.1.1", "169.254.0.0/16", ""},
	} {
		t.Run(tc.addr+" allow "+tc.allow, func(t *testing.T) {
			err := mustAllow(t, tc.allow).Check(netip.MustParseAddr(tc.addr))
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && err == nil:
				t.Errorf("allowed; want refused as %s", tc.refused)
			case tc.refused != "" && (!errors.Is(err, fetch.ErrRefused) || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("error %v; want ErrRefused saying %q", err, tc.refused)
			}
		})
	}
}

// TestParseAllow: ADMIT_OUTBOUND_ALLOW's entries, and every bad one named
// in one error.
func TestParseAllow(t *testing.T) {
	for _, tc := range []struct {
		list, want string
		problems   []string
	}{
		{"", "", nil},
		{"127.0.0.0/8, adfs.corp.example ,10.1.2.3", "127.0.0.0/8,10.1.2.3/32,adfs.corp.example", nil},
		{"Keycloak.Internal.", "keycloak.internal", nil},
		{"fd00::/8,::1", "fd00::/8,::1/128", nil},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", nil},
		{"10.0.0.0/33", "", []string{`"10.0.0.0/33" is not a CIDR`}},
		{"10.0.0.1/8", "", []string{"did you mean 10.0.0.0/8"}},
		{"https://adfs.corp.example", "", []string{"host name alone"}},
		{"*.corp.example", "", []string{"neither a CIDR"}},
		{"adfs.corp.example:443", "", []string{"neither a CIDR"}},
		{"10.0.0.0/33,ok.example,bad_host", "", []string{"10.0.0.0/33", "bad_host"}},
	} {
		t.Run(tc.list, func(t *testing.T) {
			a, err := fetch.ParseAllow(tc.list)
			if len(tc.problems) == 0 {
				if err != nil || a.String() != tc.want {
					t.Errorf("got %q, %v; want %q", a.String(), err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %q", a.String())
			}
			for _, p := range tc.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not say %q", err, p)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestAllowance: the allow-list entry a refusal suggests opens exactly
// what was refused.
func TestAllowance(t *testing.T) {
	var refused *fetch.RefusedError
	if err := (fetch.Allow{}).Check(netip.MustParseAddr("::ffff:10.1.2.3")); !errors.As(err, &refused) || refused.Allowance() != "10.1.2.3/32" {
		t.Errorf("address refusal %v suggests %q", err, refused.Allowance())
	}
	if err := (fetch.Allow{}).Check(netip.MustParseAddr("169.254.169.254")); !errors.As(err, &refused) || refused.Allowance() != "" {
		t.Errorf("a metadata address is suggested for the allow list: %q", refused.Allowance())
	}
	for host, want := range map[string]string{"adfs.corp.example": "adfs.corp.example", "127.0.0.2": "127.0.0.2/32", "::1": "::1/128"} {
		if got := (&fetch.RefusedError{Host: host, Reason: "plain http"}).Allowance(); got != want {
			t.Errorf("plain-http refusal of %s suggests %q; want %q", host, got, want)
		}
		mustAllow(t, want) // what it suggests parses
	}
}
