package certs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sealer encrypts secrets at rest with a key derived from the server key
// (AES-256-GCM). Each sealed value is bound to a purpose string, so a value
// sealed for one row cannot be passed off as another's.
//
// While the server key is being rotated a Sealer also holds the other
// keys of the rotation (ADMIT_SECRET_KEY_PREVIOUS, ADMIT_SECRET_KEY_NEXT):
// it opens what any of them sealed, and seals with the current one only.
type Sealer struct {
	aead     cipher.AEAD
	accepted []cipher.AEAD // empty outside a rotation
}

// NewSealer returns a Sealer with a 32-byte key, and the 32-byte keys,
// if any, that it accepts as well: they only open.
func NewSealer(key []byte, accepted ...[]byte) (*Sealer, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{aead: aead}
	for _, k := range accepted {
		a, err := newAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("accepted %w", err)
		}
		s.accepted = append(s.accepted, a)
	}
	return s, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sealing key: want 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return aead, nil
}

const sealedPrefix = "v1."

// Seal encrypts plaintext for purpose.
func (s *Sealer) Seal(plaintext []byte, purpose string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, []byte(purpose)))
}

// ErrWrongKey says a sealed value does not open with this server key: the
// server key changed, or replicas have different ones.
var ErrWrongKey = errors.New("a secret at rest does not open with this server key (is ADMIT_SECRET_KEY the same on every replica, and the one it was stored with?)")

// Open decrypts what Seal made for purpose, with the current key or an
// accepted one.
func (s *Sealer) Open(sealed, purpose string) ([]byte, error) {
	plain, _, err := s.open(sealed, purpose)
	return plain, err
}

// open also says whether the current key opened the value.
func (s *Sealer) open(sealed, purpose string) (plain []byte, current bool, err error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, false, fmt.Errorf("sealed value: unknown format")
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, false, fmt.Errorf("sealed value: not valid")
	}
	nonce, box := b[:s.aead.NonceSize()], b[s.aead.NonceSize():]
	if plain, err := s.aead.Open(nil, nonce, box, []byte(purpose)); err == nil {
		return plain, true, nil
	}
	for _, a := range s.accepted {
		if plain, err := a.Open(nil, nonce, box, []byte(purpose)); err == nil {
			return plain, false, nil
		}
	}
	return nil, false, ErrWrongKey
}

// Reseal returns sealed under the current key: unchanged (and changed
// false) when the current key sealed it already, so that resealing twice
// writes nothing the second time.
func (s *Sealer) Reseal(sealed, purpose string) (resealed string, changed bool, err error) {
	plain, current, err := s.open(sealed, purpose)
	if err != nil || current {
		return sealed, false, err
	}
	return s.Seal(plain, purpose), true, nil
}
