package directory

import (
	"context"
	"fmt"
	"slices"
)

// Everything sealed with the server key (DESIGN rule 7) is sealed for a
// purpose that binds it to its row; these functions are the one home of
// those purposes, for those who seal and open and for ResealSecrets.

// KeyPurpose binds a sealed private key to its record and kind. SAML keys
// keep the words they were sealed with before there were other kinds.
func KeyPurpose(kind KeyKind, id string) string {
	if kind == KeySAML || kind == "" {
		return "admit saml key " + id
	}
	return "admit " + string(kind) + " key " + id
}

// SecretKeyStore is what rotating the server key needs of the store
// beyond finding the sealed rows.
type SecretKeyStore interface {
	// ResealCertificateKey replaces a certificate's sealed key, unless the
	// row no longer holds old (Conflict): a value written since it was
	// read is not overwritten.
	ResealCertificateKey(ctx context.Context, id, old, resealed string) error
	// ResealConnectionSecret does the same for an OIDC client secret.
	ResealConnectionSecret(ctx context.Context, accountID, id, old, resealed string) error
	// LockKeyFingerprints returns the fingerprints of the key that seals
	// the database and of the one the last rotation replaced ("" before
	// any), and holds them until the transaction ends.
	LockKeyFingerprints(ctx context.Context) (current, previous string, err error)
	// RecordKeyFingerprints records the fingerprint of the key that seals
	// the database now, and of the one that sealed it before.
	RecordKeyFingerprints(ctx context.Context, current, previous string) error
	// RetiredKeyFingerprints returns the fingerprints of every key a
	// rotation replaced.
	RetiredKeyFingerprints(ctx context.Context) ([]string, error)
}

// Resealed counts what ResealSecrets sealed anew, by kind; what was
// sealed with the new key already is not counted.
type Resealed struct {
	Keys, ClientSecrets, WebhookSecrets int
}

// Total is the number of secrets sealed anew.
func (r Resealed) Total() int { return r.Keys + r.ClientSecrets + r.WebhookSecrets }

// ResealFunc returns sealed under the new server key, and whether that
// changed it (false when the new key sealed it already).
type ResealFunc func(sealed, purpose string) (resealed string, changed bool, err error)

// KeyRotation is who rotates the server key, and between which keys:
// their fingerprints, never the keys.
type KeyRotation struct {
	Actor Actor
	// Host is the machine the rotation ran on, for the audit event.
	Host string
	// Fingerprint is the new key's, PreviousFingerprint the old one's.
	Fingerprint, PreviousFingerprint string
}

// ResealSecrets seals every secret at rest anew with reseal and records
// the fingerprints of the new key and of the one it replaces, all in one
// transaction: a secret that does not open, or a row that changed
// meanwhile, changes nothing. Running it again finds nothing to do.
// Replicas may run meanwhile; whatever they seal with either key they
// still open, as long as each has both (see docs/operations.md).
//
// The rotation is audited on the installation (secret_key.rotated), in the
// same transaction, with the fingerprints and what was sealed anew; a run
// that changes nothing records nothing.
func (s *Service) ResealSecrets(ctx context.Context, r KeyRotation, reseal ResealFunc) (Resealed, error) {
	fingerprint, previousFingerprint := r.Fingerprint, r.PreviousFingerprint
	var n Resealed
	err := s.store.Tx(ctx, func(tx Store) error {
		n = Resealed{}
		// First, so that two rotations take turns: the second then finds
		// the first's key recorded.
		recorded, replaced, err := tx.LockKeyFingerprints(ctx)
		if err != nil {
			return err
		}
		switch {
		case recorded == previousFingerprint:
		case recorded == fingerprint && replaced == previousFingerprint:
			// Done before: whatever a replica sealed with the old key
			// since is sealed anew.
		case recorded == fingerprint:
			return InvalidError(fmt.Sprintf("the database belongs to the new key (key %s) already, and the old key (key %s) is not the key it replaced: are the two swapped?",
				short(fingerprint), short(previousFingerprint)))
		default:
			return ConflictError(fmt.Sprintf("the database belongs to key %s now, neither the new key (key %s) nor the old one (key %s): did another rotation finish meanwhile?",
				short(recorded), short(fingerprint), short(previousFingerprint)))
		}
		if recorded == previousFingerprint {
			// A key is rotated away from because it may have leaked: it
			// must never seal again, however many rotations later.
			retired, err := tx.RetiredKeyFingerprints(ctx)
			if err != nil {
				return err
			}
			if fingerprint == replaced || slices.Contains(retired, fingerprint) {
				return InvalidError(fmt.Sprintf("the new key (key %s) is a key an earlier rotation replaced: a rotation never goes back to a key; make a new one",
					short(fingerprint)))
			}
		}
		certs, err := tx.FindCertificates(ctx)
		if err != nil {
			return err
		}
		for _, c := range certs {
			v, changed, err := reseal(c.SealedKey, KeyPurpose(c.Kind, c.ID))
			if err != nil {
				return fmt.Errorf("%s key %s: %w", c.Kind, c.ID, err)
			}
			if changed {
				if err := tx.ResealCertificateKey(ctx, c.ID, c.SealedKey, v); err != nil {
					return err
				}
				n.Keys++
			}
		}
		conns, err := tx.FindAllConnections(ctx)
		if err != nil {
			return err
		}
		for _, c := range conns {
			if c.SealedSecret == "" {
				continue
			}
			v, changed, err := reseal(c.SealedSecret, ClientSecretPurpose(c.AccountID, c.Name))
			if err != nil {
				return fmt.Errorf("client secret of connection %s of account %s: %w", c.Name, c.AccountID, err)
			}
			if changed {
				if err := tx.ResealConnectionSecret(ctx, c.AccountID, c.ID, c.SealedSecret, v); err != nil {
					return err
				}
				n.ClientSecrets++
			}
		}
		hooks, err := tx.FindWebhooks(ctx, "")
		if err != nil {
			return err
		}
		for _, h := range hooks {
			// Locked: a replica rotating this webhook's secret meanwhile
			// waits, rather than having its new secret overwritten.
			w, err := tx.LockWebhook(ctx, h.ID)
			if KindOf(err) == NotFound {
				continue
			}
			if err != nil {
				return err
			}
			purpose, changed := WebhookSecretPurpose(w.ID), 0
			for _, sealed := range append([]*string{&w.Secret}, olderSealed(w.Older)...) {
				v, ch, err := reseal(*sealed, purpose)
				if err != nil {
					return fmt.Errorf("secret of webhook %s: %w", w.ID, err)
				}
				if ch {
					*sealed, changed = v, changed+1
				}
			}
			if changed > 0 {
				// UpdatedAt stays: the webhook did not change.
				if err := tx.UpdateWebhookSecrets(ctx, w); err != nil {
					return err
				}
				n.WebhookSecrets += changed
			}
		}
		if err := tx.RecordKeyFingerprints(ctx, fingerprint, previousFingerprint); err != nil {
			return err
		}
		again := recorded == fingerprint
		if again && n.Total() == 0 {
			return nil
		}
		return s.record(ctx, tx, change{
			actor: r.Actor, action: "secret_key.rotated", targetType: "secret_key", targetID: short(fingerprint),
			data: map[string]any{
				"from": short(previousFingerprint), "to": short(fingerprint), "host": r.Host, "again": again,
				"resealed_keys": n.Keys, "resealed_client_secrets": n.ClientSecrets, "resealed_webhook_secrets": n.WebhookSecrets,
			},
		})
	})
	return n, err
}

// short is how a key's fingerprint is shown.
func short(fingerprint string) string { return fingerprint[:min(12, len(fingerprint))] }

func olderSealed(older []OlderSecret) []*string {
	out := make([]*string, len(older))
	for i := range older {
		out[i] = &older[i].Sealed
	}
	return out
}
