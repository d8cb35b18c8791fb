package certs_test

import (
	"context"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// verify checks a compact JWT against a JWKS as a relying party would:
// the key named by kid, with the algorithm the key is published for.
func verify(t *testing.T, jwks jose.JSONWebKeySet, token string) error {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := jwks.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		return errNoKey
	}
	if keys[0].Algorithm != jws.Signatures[0].Header.Algorithm {
		t.Fatalf("token alg %s, key published for %s", jws.Signatures[0].Header.Algorithm, keys[0].Algorithm)
	}
	_, err = jws.Verify(keys[0])
	return err
}

type noKeyError struct{}

func (noKeyError) Error() string { return "no key with that kid in the JWKS" }

var errNoKey = noKeyError{}

// TestTokenKeysRotation: a token signed before a rotation still verifies
// with the JWKS after both steps (its key is published as previous) and
// stops only when that key is retired; token keys rotate apart from the
// SAML certificate.
func TestTokenKeysRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		sealer := newSealer(t)
		saml := certs.New(certs.Config{Store: s, Sealer: sealer, KeyBits: 1024})
		keys := certs.NewTokenKeys(certs.Config{Store: s, Sealer: sealer, KeyBits: 1024})
		samlSet, err := saml.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256} {
			t.Run(string(alg), func(t *testing.T) {
				old, err := keys.Sign(ctx, alg, "JWT", []byte(`{"sub":"u1"}`))
				if err != nil {
					t.Fatal(err)
				}
				kind := directory.KeyES256
				if alg == jose.RS256 {
					kind = directory.KeyRS256
				}
				m := keys.Manager(kind)
				before, _ := m.Current(ctx)
				for step := 1; step <= 2; step++ {
					if _, err := m.Rotate(ctx); err != nil {
						t.Fatalf("rotate step %d: %v", step, err)
					}
					jwks, err := keys.JWKS(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if err := verify(t, jwks, old); err != nil {
						t.Errorf("after rotation step %d the older token does not verify: %v", step, err)
					}
				}
				fresh, err := keys.Sign(ctx, alg, "JWT", []byte(`{"sub":"u1"}`))
				if err != nil {
					t.Fatal(err)
				}
				jwks, _ := keys.JWKS(ctx)
				if err := verify(t, jwks, fresh); err != nil {
					t.Errorf("a token signed after rotating does not verify: %v", err)
				}
				if err := m.Retire(ctx, before.Active.Record.ID); err != nil {
					t.Fatal(err)
				}
				jwks, _ = keys.JWKS(ctx)
				if err := verify(t, jwks, old); err != errNoKey {
					t.Errorf("a token of a retired key: %v; want no key", err)
				}
				// Another kind's Manager does not know the key.
				other := directory.KeyRS256
				if kind == directory.KeyRS256 {
					other = directory.KeyES256
				}
				now, _ := m.Current(ctx)
				if err := keys.Manager(other).Retire(ctx, now.Published[len(now.Published)-1].Record.ID); directory.KindOf(err) != directory.NotFound {
					t.Errorf("retire through another kind: %v; want NotFound", err)
				}
			})
		}
		after, err := saml.Current(ctx)
		if err != nil || after.Active.Record.ID != samlSet.Active.Record.ID || len(after.Published) != 1 {
			t.Errorf("rotating token keys moved the SAML certificate: %+v, %v", after.Published, err)
		}
		jwks, _ := keys.JWKS(ctx)
		for _, k := range jwks.Keys {
			if k.Use != "sig" || !k.IsPublic() || k.KeyID == samlSet.Active.Record.ID {
				t.Errorf("JWKS key %s (%s): use %q, public %v", k.KeyID, k.Algorithm, k.Use, k.IsPublic())
			}
		}
	})
}
