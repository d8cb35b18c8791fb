package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/admit-dev/admit/directory"
)

// Store is what the Manager needs of the directory's store.
type Store interface {
	Tx(ctx context.Context, fn func(tx directory.Store) error) error
	FindCertificates(ctx context.Context) ([]directory.Certificate, error)
}

// Config builds a Manager.
type Config struct {
	Store  Store
	Sealer *Sealer
	// Kind is the kind of key pairs the Manager keeps; default SAML.
	Kind directory.KeyKind
	// CommonName names the certificates (the host of ADMIT_BASE_URL).
	CommonName string
	// Validity is how long a new certificate is valid; default 5 years.
	Validity time.Duration
	// KeyBits is the RSA key size (SAML, RS256); default 2048, what every
	// identity provider and every JOSE library accepts.
	KeyBits int
	Now     func() time.Time
	Logger  *slog.Logger
}

// Manager keeps admit's key pairs of one kind. One Manager per kind share
// the rotation rules below: a SAML certificate and a token signing key
// move through next, active and previous alike.
type Manager struct {
	store    Store
	sealer   *Sealer
	kind     directory.KeyKind
	cn       string
	validity time.Duration
	bits     int
	now      func() time.Time
	log      *slog.Logger

	// Opened key pairs by id: a certificate never changes once made, so
	// its opened key can be kept; which ones are in use is read from the
	// store (at most every cacheFor), so all replicas follow a rotation.
	mu     sync.Mutex
	opened map[string]KeyPair
	set    Set
	readAt time.Time
}

// cacheFor is how long a replica uses the set of key pairs it read before
// reading it again: how long a rotation takes to reach every replica.
const cacheFor = 30 * time.Second

// New returns a Manager.
func New(cfg Config) *Manager {
	m := &Manager{store: cfg.Store, sealer: cfg.Sealer, kind: cfg.Kind, cn: cfg.CommonName, validity: cfg.Validity, bits: cfg.KeyBits,
		now: cfg.Now, log: cfg.Logger, opened: map[string]KeyPair{}}
	if m.kind == "" {
		m.kind = directory.KeySAML
	}
	if m.validity <= 0 {
		m.validity = 5 * 365 * 24 * time.Hour
	}
	if m.bits == 0 {
		m.bits = 2048
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.cn == "" {
		m.cn = "admit"
	}
	return m
}

// KeyPair is an opened certificate: its record, the parsed certificate and
// the private key.
type KeyPair struct {
	Record      directory.Certificate
	Certificate *x509.Certificate
	// Key is the RSA private key (SAML, RS256); nil for ES256.
	Key *rsa.PrivateKey
	// Signer is the private key whatever its kind.
	Signer crypto.Signer
}

// Set is the key pairs in use.
type Set struct {
	Active KeyPair
	// Published are all certificates in the metadata: active first, then
	// next, then previous.
	Published []KeyPair
}

// Decrypting returns the keys to try on an encrypted assertion, active
// first.
func (s Set) Decrypting() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, len(s.Published))
	for i, kp := range s.Published {
		keys[i] = kp.Key
	}
	return keys
}

func (m *Manager) clock() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

// Current returns the key pairs in use, creating the first active one when
// there is none (first start).
func (m *Manager) Current(ctx context.Context) (Set, error) {
	m.mu.Lock()
	if m.set.Active.Signer != nil && m.now().Sub(m.readAt) < cacheFor {
		set := m.set
		m.mu.Unlock()
		return set, nil
	}
	m.mu.Unlock()
	set, err := m.load(ctx)
	if err != nil {
		return Set{}, err
	}
	if set.Active.Signer == nil {
		if _, err := m.create(ctx, directory.CertActive); err != nil && directory.KindOf(err) != directory.Conflict {
			return Set{}, err
		}
		// Another replica may have made it first: read what won.
		if set, err = m.load(ctx); err != nil {
			return Set{}, err
		}
		if set.Active.Signer == nil {
			return Set{}, fmt.Errorf("no active %s key pair after creating one", m.kind)
		}
	}
	m.mu.Lock()
	m.set, m.readAt = set, m.now()
	m.mu.Unlock()
	return set, nil
}

// Check opens every stored key pair, making none: ErrWrongKey says the
// sealer's key is not the one they were sealed with.
func (m *Manager) Check(ctx context.Context) error {
	_, err := m.load(ctx)
	return err
}

func (m *Manager) load(ctx context.Context) (Set, error) {
	records, err := m.records(ctx, m.store)
	if err != nil {
		return Set{}, err
	}
	var set Set
	var next, previous []KeyPair
	for _, r := range records {
		kp, err := m.open(r)
		if err != nil {
			return Set{}, err
		}
		switch r.State {
		case directory.CertActive:
			set.Active = kp
		case directory.CertNext:
			next = append(next, kp)
		default:
			previous = append(previous, kp)
		}
	}
	if set.Active.Signer != nil {
		set.Published = append(set.Published, set.Active)
	}
	set.Published = append(append(set.Published, next...), previous...)
	return set, nil
}

func (m *Manager) open(r directory.Certificate) (KeyPair, error) {
	m.mu.Lock()
	kp, ok := m.opened[r.ID]
	m.mu.Unlock()
	if ok {
		kp.Record = r // the state may have moved on
		return kp, nil
	}
	block, _ := pem.Decode([]byte(r.CertPEM))
	if block == nil {
		return KeyPair{}, fmt.Errorf("certificate %s: no PEM block", r.ID)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return KeyPair{}, fmt.Errorf("certificate %s: %w", r.ID, err)
	}
	der, err := m.sealer.Open(r.SealedKey, purpose(r.Kind, r.ID))
	if err != nil {
		return KeyPair{}, fmt.Errorf("certificate %s: %w", r.ID, err)
	}
	kp = KeyPair{Record: r, Certificate: cert}
	if r.Kind == directory.KeyES256 {
		key, err := x509.ParsePKCS8PrivateKey(der)
		ec, ok := key.(*ecdsa.PrivateKey)
		if err != nil || !ok {
			return KeyPair{}, fmt.Errorf("certificate %s key: not an ECDSA key (%v)", r.ID, err)
		}
		kp.Signer = ec
	} else {
		key, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return KeyPair{}, fmt.Errorf("certificate %s key: %w", r.ID, err)
		}
		kp.Key, kp.Signer = key, key
	}
	m.mu.Lock()
	m.opened[r.ID] = kp
	m.mu.Unlock()
	return kp, nil
}

// purpose binds a sealed key to its record and kind.
func purpose(kind directory.KeyKind, id string) string { return directory.KeyPurpose(kind, id) }

// records returns the key pairs of the Manager's kind, newest first.
func (m *Manager) records(ctx context.Context, st interface {
	FindCertificates(ctx context.Context) ([]directory.Certificate, error)
}) ([]directory.Certificate, error) {
	all, err := st.FindCertificates(ctx)
	if err != nil {
		return nil, fmt.Errorf("find certificates: %w", err)
	}
	var out []directory.Certificate
	for _, r := range all {
		if r.Kind == m.kind {
			out = append(out, r)
		}
	}
	return out, nil
}

// newKey makes a private key of the Manager's kind, and its sealable form.
func (m *Manager) newKey() (crypto.Signer, []byte, error) {
	if m.kind == directory.KeyES256 {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("generate key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		return key, der, err
	}
	key, err := rsa.GenerateKey(rand.Reader, m.bits)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	return key, x509.MarshalPKCS1PrivateKey(key), nil
}

// create makes a key pair in state; Conflict when one of the kind in that
// state exists.
func (m *Manager) create(ctx context.Context, state directory.CertificateState) (directory.Certificate, error) {
	key, keyDER, err := m.newKey()
	if err != nil {
		return directory.Certificate{}, err
	}
	now := m.clock()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return directory.Certificate{}, fmt.Errorf("serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: m.cn, Organization: []string{"admit"}},
		// A little in the past, for identity providers whose clocks lag.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(m.validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	if m.kind != directory.KeySAML {
		// Token keys sign; they never encrypt.
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return directory.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	id := uuid.Must(uuid.NewV7()).String()
	rec := directory.Certificate{
		ID: id, Kind: m.kind, State: state, CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		SealedKey: m.sealer.Seal(keyDER, purpose(m.kind, id)),
		NotBefore: tmpl.NotBefore.UTC(), NotAfter: tmpl.NotAfter.UTC(), CreatedAt: now,
	}
	if state == directory.CertActive {
		rec.ActivatedAt = &now
	}
	err = m.store.Tx(ctx, func(tx directory.Store) error { return tx.CreateCertificate(ctx, rec) })
	if err != nil {
		return directory.Certificate{}, fmt.Errorf("store certificate: %w", err)
	}
	m.forget()
	m.log.InfoContext(ctx, "created key pair", "kind", m.kind, "id", id, "state", state, "not_after", rec.NotAfter)
	return rec, nil
}

// forget drops the cached set, so this replica sees its own change at once.
func (m *Manager) forget() {
	m.mu.Lock()
	m.set, m.readAt = Set{}, time.Time{}
	m.mu.Unlock()
}

// List returns every certificate of the Manager's kind, newest first.
func (m *Manager) List(ctx context.Context) ([]directory.Certificate, error) {
	if _, err := m.Current(ctx); err != nil {
		return nil, err
	}
	return m.records(ctx, m.store)
}

// Rotation says what Rotate did.
type Rotation struct {
	// Published is set by the first step: the new certificate, in the
	// metadata but not used yet.
	Published *directory.Certificate
	// Activated is set by the second step: the certificate that now signs;
	// Previous is the one it replaced, still published.
	Activated *directory.Certificate
	Previous  *directory.Certificate
}

// Rotate takes the next step of a rotation: with no next certificate it
// publishes a new one; with one, it makes it active and keeps the old
// active one published as previous.
func (m *Manager) Rotate(ctx context.Context) (Rotation, error) {
	if _, err := m.Current(ctx); err != nil {
		return Rotation{}, err
	}
	records, err := m.records(ctx, m.store)
	if err != nil {
		return Rotation{}, err
	}
	var next, active *directory.Certificate
	for i := range records {
		switch records[i].State {
		case directory.CertNext:
			next = &records[i]
		case directory.CertActive:
			active = &records[i]
		}
	}
	if next == nil {
		rec, err := m.create(ctx, directory.CertNext)
		if directory.KindOf(err) == directory.Conflict {
			return Rotation{}, directory.ConflictError("another rotation is under way; run admit certs list")
		}
		if err != nil {
			return Rotation{}, err
		}
		return Rotation{Published: &rec}, nil
	}
	now := m.clock()
	err = m.store.Tx(ctx, func(tx directory.Store) error {
		if active != nil {
			if err := tx.SetCertificateState(ctx, active.ID, directory.CertPrevious, now); err != nil {
				return err
			}
		}
		return tx.SetCertificateState(ctx, next.ID, directory.CertActive, now)
	})
	if err != nil {
		return Rotation{}, fmt.Errorf("activate certificate: %w", err)
	}
	m.forget()
	next.State, next.ActivatedAt = directory.CertActive, &now
	out := Rotation{Activated: next}
	if active != nil {
		active.State = directory.CertPrevious
		out.Previous = active
	}
	m.log.InfoContext(ctx, "activated key pair", "kind", m.kind, "id", next.ID)
	return out, nil
}

// Retire removes a previous (or a not yet used next) certificate from the
// metadata and deletes its key. The active one cannot be retired: rotate
// first.
func (m *Manager) Retire(ctx context.Context, id string) error {
	err := m.store.Tx(ctx, func(tx directory.Store) error {
		records, err := m.records(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range records {
			if r.ID != id {
				continue
			}
			if r.State == directory.CertActive {
				return directory.ConflictError("the active certificate cannot be retired; run admit certs rotate (twice) to replace it first")
			}
			return tx.DeleteCertificate(ctx, id)
		}
		return directory.NotFoundError(fmt.Sprintf("no certificate %s among the %s key pairs (admit certs list --kind %s shows them)", id, m.kind, m.kind))
	})
	if err != nil {
		return fmt.Errorf("retire certificate: %w", err)
	}
	m.forget()
	m.mu.Lock()
	delete(m.opened, id)
	m.mu.Unlock()
	m.log.InfoContext(ctx, "retired key pair", "kind", m.kind, "id", id)
	return nil
}
