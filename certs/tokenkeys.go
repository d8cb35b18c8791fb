package certs

import (
	"context"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/admit-dev/admit/directory"
)

// TokenKeys are the keys that sign the tokens admit issues: an ES256 and an
// RS256 key pair, each rotated by its own Manager like the SAML
// certificates. RS256 is there because OpenID Connect makes it the default
// for ID tokens (Core section 3.1.3.7) and some libraries take nothing
// else; ES256 signs admit's own short-lived JWTs, smaller and cheaper.
// The JWKS publishes every published key of both kinds (next, active and
// previous), so a token signed before a rotation verifies until it
// expires, and one signed after it by a key consumers fetched in advance.
type TokenKeys struct {
	ES256 *Manager
	RS256 *Manager
}

// NewTokenKeys returns the two Managers over cfg (whose Kind is ignored).
func NewTokenKeys(cfg Config) *TokenKeys {
	es, rs := cfg, cfg
	es.Kind, rs.Kind = directory.KeyES256, directory.KeyRS256
	return &TokenKeys{ES256: New(es), RS256: New(rs)}
}

// Manager returns the Manager of a kind; nil for a kind that signs no
// tokens.
func (k *TokenKeys) Manager(kind directory.KeyKind) *Manager {
	switch kind {
	case directory.KeyES256:
		return k.ES256
	case directory.KeyRS256:
		return k.RS256
	}
	return nil
}

// Algorithm is the JOSE algorithm of a key kind.
func Algorithm(kind directory.KeyKind) jose.SignatureAlgorithm {
	if kind == directory.KeyES256 {
		return jose.ES256
	}
	return jose.RS256
}

// Active returns the key pair that signs with alg now, creating the first
// one on first use.
func (k *TokenKeys) Active(ctx context.Context, alg jose.SignatureAlgorithm) (KeyPair, error) {
	m := k.RS256
	switch alg {
	case jose.ES256:
		m = k.ES256
	case jose.RS256:
	default:
		return KeyPair{}, fmt.Errorf("no token signing key for %s", alg)
	}
	set, err := m.Current(ctx)
	if err != nil {
		return KeyPair{}, err
	}
	return set.Active, nil
}

// JWKS returns the public keys of every published key pair of both kinds,
// each named by its id (the kid of the tokens it signs).
func (k *TokenKeys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	var out jose.JSONWebKeySet
	for _, m := range []*Manager{k.ES256, k.RS256} {
		set, err := m.Current(ctx)
		if err != nil {
			return jose.JSONWebKeySet{}, err
		}
		for _, kp := range set.Published {
			out.Keys = append(out.Keys, PublicJWK(kp))
		}
	}
	return out, nil
}

// PublicJWK is the public half of a key pair as a JWK.
func PublicJWK(kp KeyPair) jose.JSONWebKey {
	return jose.JSONWebKey{Key: kp.Signer.Public(), KeyID: kp.Record.ID, Algorithm: string(Algorithm(kp.Record.Kind)), Use: "sig"}
}

// Sign signs claims (a JSON object) as a compact JWS with the active key
// of alg; typ is the token's media type ("JWT", "logout+jwt"), which keeps
// a token of one kind from passing for another.
func (k *TokenKeys) Sign(ctx context.Context, alg jose.SignatureAlgorithm, typ string, claims []byte) (string, error) {
	kp, err := k.Active(ctx, alg)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: kp.Signer, KeyID: kp.Record.ID}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("token signer: %w", err)
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return jws.CompactSerialize()
}
