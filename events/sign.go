package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// secretPrefix marks a Standard Webhooks secret; what follows is the key,
// base64.
const secretPrefix = "whsec_"

// NewSecret returns a new signing secret: 32 random bytes (Standard
// Webhooks asks for 24 to 64), in the whsec_ form its libraries read.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Secrets makes webhook signing secrets sealed for storage, for those who
// add and rotate webhooks (the console and the API).
type Secrets struct {
	Sealer interface {
		Seal(plaintext []byte, purpose string) string
	}
}

// New returns a new secret, to show once, and the sealing the directory
// asks for as it stores it.
func (s Secrets) New() (string, func(purpose string) string) {
	secret := NewSecret()
	return secret, func(purpose string) string { return s.Sealer.Seal([]byte(secret), purpose) }
}

// secretKey returns the key of a whsec_ secret.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) < 24 {
		return nil, errors.New("a webhook secret is whsec_ and at least 24 bytes in base64")
	}
	return key, nil
}

// Signature returns the webhook-signature header of one delivery: a
// "v1,<base64 HMAC-SHA256>" of "id.timestamp.body" for each secret,
// separated by spaces (Standard Webhooks: a receiver accepts the message
// when any one matches, which is how a rotation overlaps).
func Signature(secrets []string, id string, at time.Time, body []byte) (string, error) {
	content := []byte(id + "." + strconv.FormatInt(at.Unix(), 10) + ".")
	content = append(content, body...)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(content)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
