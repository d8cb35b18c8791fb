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
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer with a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
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
	return &Sealer{aead: aead}, nil
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

// Open decrypts what Seal made for purpose.
func (s *Sealer) Open(sealed, purpose string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, fmt.Errorf("sealed value: unknown format")
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, fmt.Errorf("sealed value: not valid")
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}
