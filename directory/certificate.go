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

// Certificate is one of admit's own SAML key pairs. The private key is
// sealed with the server key (DESIGN rule 7); package certs opens it.
type Certificate struct {
	ID          string
	State       CertificateState
	CertPEM     string
	SealedKey   string
	NotBefore   time.Time
	NotAfter    time.Time
	CreatedAt   time.Time
	ActivatedAt *time.Time
}
