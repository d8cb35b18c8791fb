package directory

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

func TestAddressKey(t *testing.T) {
	t.Parallel()
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
			if got := "addr:" + addressKey(tc.addr); got != tc.want {
				t.Errorf("addressKey(%q) = %q; want %q", tc.addr, got, tc.want)
			}
		})
	}
}

// FuzzDeviceToken: the device cookie comes from the browser, so anyone
// can send anything. Whatever arrives, opening it never panics, and only
// a token issued for that email opens: changing any byte of a real token,
// or presenting it for another email, gives nothing.
func FuzzDeviceToken(f *testing.F) {
	s := NewService(Config{DeviceKey: []byte("a device key of thirty-two bytes")})
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	// Built here rather than by issueDeviceToken, whose nonce is random:
	// fuzzing workers are other processes and must agree on the token.
	payload := []byte("sixteen byte nonce\x00\x00\x00\x00\x00\x00")[:devicePayloadBytes]
	binary.BigEndian.PutUint64(payload[deviceNonceBytes:], uint64(now.Add(-time.Hour).Unix()))
	real := base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.deviceMAC("ada@example.com", payload))
	if _, ok := s.openDeviceToken(s.issueDeviceToken("ada@example.com", now), "ada@example.com", nil, now); !ok {
		f.Fatal("an issued token does not open")
	}
	for _, seed := range []string{real, "", ".", "x.y", real + "=", strings.Repeat("A", 200), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(seed, "ada@example.com")
	}
	f.Add(real, "bob@example.com")
	f.Fuzz(func(t *testing.T, token, emailKey string) {
		nonce, ok := s.openDeviceToken(token, emailKey, nil, now)
		if ok != (token == real && emailKey == "ada@example.com") {
			t.Fatalf("openDeviceToken(%q, %q) = %q, %v; only the real token for its email opens", token, emailKey, nonce, ok)
		}
		if ok && nonce == "" {
			t.Fatal("a token opened without a nonce")
		}
	})
}

// TestDeviceTokenKeyRotation: while the server key is rotated a device
// token the old key signed still counts on a replica with both keys, and
// no longer once the old key is gone; the replica with both signs with
// the new key only.
func TestDeviceTokenKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := []byte("the old device key of 32 bytes.."), []byte("the new device key of 32 bytes..")
	old := NewService(Config{DeviceKey: oldKey})
	overlap := NewService(Config{DeviceKey: newKey, AcceptedDeviceKeys: [][]byte{oldKey}})
	// ahead holds the new key as ADMIT_SECRET_KEY_NEXT: it signs with the
	// old key and accepts the new one's tokens.
	ahead := NewService(Config{DeviceKey: oldKey, AcceptedDeviceKeys: [][]byte{newKey}})
	after := NewService(Config{DeviceKey: newKey})
	other := NewService(Config{DeviceKey: []byte("another device key of 32 bytes..")})
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const email = "ada@example.com"
	oldToken, newToken, otherToken := old.issueDeviceToken(email, now), overlap.issueDeviceToken(email, now), other.issueDeviceToken(email, now)
	for _, tc := range []struct {
		name  string
		s     *Service
		token string
		want  bool
	}{
		{"old key's token during the overlap", overlap, oldToken, true},
		{"new key's token during the overlap", overlap, newToken, true},
		{"another key's token during the overlap", overlap, otherToken, false},
		{"old key's token after the overlap", after, oldToken, false},
		{"the overlap's token after it (signed with the new key)", after, newToken, true},
		{"the overlap's token on the old key alone (never signed with the old key)", old, newToken, false},
		{"new key's token on a replica with it as its next key", ahead, newToken, true},
		{"old key's token on a replica with the new key as its next", ahead, oldToken, true},
		{"another key's token on a replica with a next key", ahead, otherToken, false},
		{"a token a replica with a next key signed, after the overlap (signed with the old key)", after, ahead.issueDeviceToken(email, now), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.s.openDeviceToken(tc.token, email, nil, now); ok != tc.want {
				t.Errorf("openDeviceToken = %v; want %v", ok, tc.want)
			}
		})
	}
	if _, ok := overlap.openDeviceToken(oldToken, "bob@example.com", nil, now); ok {
		t.Error("the old key's token opened for another email during the overlap")
	}
}
