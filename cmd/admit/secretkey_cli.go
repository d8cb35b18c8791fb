package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/admit-dev/admit/directory"
)

// secretKeyGenerate prints a fresh secret key. It opens no database: the
// key is for ADMIT_SECRET_KEY of a new installation or of a rotation.
func (c *cli) secretKeyGenerate(ctx context.Context, args []string) error {
	if err := c.parse(c.flags("secret-key generate"), args); err != nil {
		return err
	}
	key := newSecretKey()
	fp, err := keyFingerprint(mustDecode(key))
	if err != nil {
		return err
	}
	c.output(map[string]string{"key": key, "fingerprint": fp[:12]}, key)
	return nil
}

func mustDecode(key string) []byte {
	b, err := decodeSecretKey(key)
	if err != nil {
		panic(err) // newSecretKey makes only keys that decode
	}
	return b
}

// secretKeyRotate seals every secret at rest anew with ADMIT_SECRET_KEY,
// opening it with ADMIT_SECRET_KEY_PREVIOUS, and records the new key as
// the database's (see directory.ResealSecrets and docs/operations.md).
func (c *cli) secretKeyRotate(ctx context.Context, args []string) error {
	if err := c.parse(c.flags("secret-key rotate"), args); err != nil {
		return err
	}
	if c.cfg.SecretKey == "" || c.cfg.SecretKeyPrevious == "" {
		return directory.InvalidError("secret-key rotate needs the new key in ADMIT_SECRET_KEY and the old one in ADMIT_SECRET_KEY_PREVIOUS (make a new key with: admit secret-key generate)")
	}
	s, keys, err := c.open(ctx, c.logger(slog.LevelWarn))
	if err != nil {
		return err
	}
	defer s.Close()
	sealer, err := keys.sealer()
	if err != nil {
		return err
	}
	// open has checked both keys against the database; these only name
	// them in it.
	fp, err := keyFingerprint(mustDecode(c.cfg.SecretKey))
	if err != nil {
		return err
	}
	prevFP, err := keyFingerprint(mustDecode(c.cfg.SecretKeyPrevious))
	if err != nil {
		return err
	}
	svc := directory.NewService(directory.Config{Store: s, Logger: c.logger(slog.LevelWarn)})
	start := time.Now()
	n, err := svc.ResealSecrets(ctx, sealer.Reseal, fp, prevFP)
	if err != nil {
		return fmt.Errorf("nothing was changed: %w", err)
	}
	took := time.Since(start)
	c.output(map[string]any{"fingerprint": fp[:12], "previous_fingerprint": prevFP[:12], "resealed_keys": n.Keys, "resealed_client_secrets": n.ClientSecrets,
		"resealed_webhook_secrets": n.WebhookSecrets, "seconds": took.Seconds()},
		fmt.Sprintf("Sealed %d secrets anew with key %s (%d private keys, %d OIDC client secrets, %d webhook secrets) in %v; the database now belongs to key %s.\n"+
			"Next: once every replica runs with ADMIT_SECRET_KEY %s, and links and cookies of the old key may stop working, unset ADMIT_SECRET_KEY_PREVIOUS and restart the replicas one by one.",
			n.Total(), fp[:12], n.Keys, n.ClientSecrets, n.WebhookSecrets, took.Round(time.Millisecond), fp[:12], fp[:12]))
	return nil
}
