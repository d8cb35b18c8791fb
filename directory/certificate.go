package directory

import "time"

// CertificateState is where a service-provider certificate is in its life.
type CertificateState string

const (
	// CertNext is published in the SP metadata but not used yet, so that
	// identity providers learn it before it signs anything.
	CertNext CertificateState = "next"
	// CertActive signs requests and is what providers encrypt to.
	CertActive CertificateState = "active"
	// CertPrevious was active; it stays published and able to decrypt
	// until it is retired.
	CertPrevious CertificateState = "previous"
)

// KeyKind says what one of admit's own key pairs is for. Each kind
// rotates on its own, through the same states.
type KeyKind string

const (
	// KeySAML signs SAML requests and decrypts assertions (RSA).
	KeySAML KeyKind = "saml"
	// KeyES256 and KeyRS256 sign the tokens admit issues (ID tokens, and
	// the JWTs of forward-auth), published in the JWKS.
	KeyES256 KeyKind = "es256"
	KeyRS256 KeyKind = "rs256"
)

// KeyKinds lists the kinds of key pairs.
func KeyKinds() []KeyKind { return []KeyKind{KeySAML, KeyES256, KeyRS256} }

// Certificate is one of admit's own key pairs with its self-signed
// certificate. The private key is sealed with the server key (DESIGN
// rule 7); package certs opens it.
type Certificate struct {
	ID          string
	Kind        KeyKind
	State       CertificateState
	CertPEM     string
	SealedKey   string
	NotBefore   time.Time
	NotAfter    time.Time
	CreatedAt   time.Time
	ActivatedAt *time.Time
}
