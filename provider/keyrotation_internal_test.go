package provider

import (
	"bytes"
	"testing"

	"github.com/admit-dev/admit/directory"
)

// TestProviderKeyRotation: while the server key is rotated, access tokens
// and authorization requests sealed under one key of the rotation open on
// a replica that accepts it (as its previous key, or as its next), and
// not on one that does not; each seals with its own key only.
func TestProviderKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey, otherKey := bytes.Repeat([]byte("o"), 32), bytes.Repeat([]byte("n"), 32), bytes.Repeat([]byte("x"), 32)
	provider := func(key []byte, accepted ...[]byte) *Handler {
		t.Helper()
		h, err := New(Config{Issuer: "https://admit.example", Key: key, AcceptedKeys: accepted})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	old, overlap, ahead, after, other := provider(oldKey), provider(newKey, oldKey), provider(oldKey, newKey), provider(newKey), provider(otherKey, oldKey, newKey)
	type sealed struct{ token, request string }
	seal := func(h *Handler) sealed {
		t.Helper()
		tok, err := h.op.Crypto().Encrypt("token-id:subject")
		if err != nil {
			t.Fatal(err)
		}
		req, err := h.store.seal(directory.AppAuthorization{ID: "req"})
		if err != nil {
			t.Fatal(err)
		}
		return sealed{tok, req}
	}
	byOld, byOverlap, byAhead := seal(old), seal(overlap), seal(ahead)
	for _, tc := range []struct {
		name string
		h    *Handler
		s    sealed
		want bool
	}{
		{"old key's during the overlap", overlap, byOld, true},
		{"the overlap's on a replica with the new key as next", ahead, byOverlap, true},
		{"a replica with a next key's, during the overlap", overlap, byAhead, true},
		{"the overlap's after it (sealed with the new key)", after, byOverlap, true},
		{"a replica with a next key's, after the overlap (sealed with the old key)", after, byAhead, false},
		{"the overlap's on the old key alone", old, byOverlap, false},
		{"sealed by a replica that accepts both but has a third key", overlap, seal(other), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, err := tc.h.op.Crypto().Decrypt(tc.s.token)
			if got := err == nil && plain == "token-id:subject"; got != tc.want {
				t.Errorf("access token opens: %v (%q, %v); want %v", got, plain, err, tc.want)
			}
			a, err := tc.h.store.open(tc.s.request)
			if got := err == nil && a.ID == "req"; got != tc.want {
				t.Errorf("authorization request opens: %v (%v); want %v", got, err, tc.want)
			}
		})
	}
}
