package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
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

// secretKeyRotate seals every secret at rest anew with the new key,
// opening it with the old one, and records the new key as the database's
// (see directory.ResealSecrets and docs/operations.md). The keys come as
// the replicas have them around the rotation: the new key in
// ADMIT_SECRET_KEY and the old in ADMIT_SECRET_KEY_PREVIOUS (the replicas
// already seal with the new key), or the old key in ADMIT_SECRET_KEY and
// the new in ADMIT_SECRET_KEY_NEXT (they only accept it so far).
func (c *cli) secretKeyRotate(ctx context.Context, args []string) error {
	if err := c.parse(c.flags("secret-key rotate"), args); err != nil {
		return err
	}
	switch {
	case c.cfg.SecretKeyPrevious != "" && c.cfg.SecretKeyNext != "":
		return directory.InvalidError("secret-key rotate takes the new key either in ADMIT_SECRET_KEY (the old one in ADMIT_SECRET_KEY_PREVIOUS) or in ADMIT_SECRET_KEY_NEXT (the old one in ADMIT_SECRET_KEY), not both: unset one of ADMIT_SECRET_KEY_PREVIOUS and ADMIT_SECRET_KEY_NEXT")
	case c.cfg.SecretKey != "" && c.cfg.SecretKeyNext != "":
		// Validate has checked the three keys; from here on the new key
		// is the current one, as it is after the rotation.
		c.cfg.SecretKey, c.cfg.SecretKeyPrevious, c.cfg.SecretKeyNext = c.cfg.SecretKeyNext, c.cfg.SecretKey, ""
		c.rotatingToNext = true
	case c.cfg.SecretKey == "" || c.cfg.SecretKeyPrevious == "":
		return directory.InvalidError("secret-key rotate needs the new key in ADMIT_SECRET_KEY and the old one in ADMIT_SECRET_KEY_PREVIOUS, or the old key in ADMIT_SECRET_KEY and the new one in ADMIT_SECRET_KEY_NEXT (make a new key with: admit secret-key generate)")
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
	newVar, oldVar := "ADMIT_SECRET_KEY", "ADMIT_SECRET_KEY_PREVIOUS"
	if c.rotatingToNext {
		newVar, oldVar = "ADMIT_SECRET_KEY_NEXT", "ADMIT_SECRET_KEY"
	}
	host, _ := os.Hostname()
	svc := directory.NewService(directory.Config{Store: s, Logger: c.logger(slog.LevelWarn)})
	start := time.Now()
	n, err := svc.ResealSecrets(ctx, directory.KeyRotation{Actor: c.actor(), Host: host, Fingerprint: fp, PreviousFingerprint: prevFP}, sealer.Reseal)
	if err != nil {
		return fmt.Errorf("nothing was changed (new key %s in %s, old key %s in %s): %w", fp[:12], newVar, prevFP[:12], oldVar, err)
	}
	took := time.Since(start)
	next := fmt.Sprintf("Next: once every replica runs with ADMIT_SECRET_KEY %s, and links and cookies of the old key may stop working, unset ADMIT_SECRET_KEY_PREVIOUS and restart the replicas one by one.", fp[:12])
	if c.rotatingToNext {
		next = fmt.Sprintf("Next: restart the replicas one by one with ADMIT_SECRET_KEY %s (the key now in ADMIT_SECRET_KEY_NEXT) and ADMIT_SECRET_KEY_PREVIOUS %s (the key now in ADMIT_SECRET_KEY), and no ADMIT_SECRET_KEY_NEXT; run this once more when the last is restarted. Once admit_secret_key_retired is 0 on every replica, and links and cookies of the old key may stop working, unset ADMIT_SECRET_KEY_PREVIOUS and restart them again.", fp[:12], prevFP[:12])
	}
	c.output(map[string]any{"fingerprint": fp[:12], "previous_fingerprint": prevFP[:12], "resealed_keys": n.Keys, "resealed_client_secrets": n.ClientSecrets,
		"resealed_webhook_secrets": n.WebhookSecrets, "seconds": took.Seconds()},
		fmt.Sprintf("Sealed %d secrets anew with key %s (%d private keys, %d OIDC client secrets, %d webhook secrets) in %v; the database now belongs to key %s.\n%s",
			n.Total(), fp[:12], n.Keys, n.ClientSecrets, n.WebhookSecrets, took.Round(time.Millisecond), fp[:12], next))
	return nil
}
