package sso

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/fetch"
)

// maxMetadataBytes bounds an identity provider's metadata: a federation's
// aggregate is not what a connection points at.
const maxMetadataBytes = int(fetch.MetadataLimit)

// ParseMetadata reads an identity provider's SAML metadata: an
// EntityDescriptor, or an EntitiesDescriptor holding one with an
// IDPSSODescriptor. It checks what a login needs: a single sign-on
// endpoint with the HTTP-Redirect or HTTP-POST binding and at least one
// signing certificate.
func ParseMetadata(data []byte) (*saml.EntityDescriptor, error) {
	if len(data) > maxMetadataBytes {
		return nil, fmt.Errorf("the metadata is larger than %d bytes", maxMetadataBytes)
	}
	var root struct{ XMLName xml.Name }
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("the metadata is not XML: %v", err)
	}
	var ed *saml.EntityDescriptor
	switch root.XMLName.Local {
	case "EntityDescriptor":
		ed = &saml.EntityDescriptor{}
		if err := xml.Unmarshal(data, ed); err != nil {
			return nil, fmt.Errorf("the metadata is not a SAML EntityDescriptor: %v", err)
		}
	case "EntitiesDescriptor":
		var all saml.EntitiesDescriptor
		if err := xml.Unmarshal(data, &all); err != nil {
			return nil, fmt.Errorf("the metadata is not a SAML EntitiesDescriptor: %v", err)
		}
		for i := range all.EntityDescriptors {
			if len(all.EntityDescriptors[i].IDPSSODescriptors) > 0 {
				ed = &all.EntityDescriptors[i]
				break
			}
		}
		if ed == nil {
			return nil, errors.New("the metadata describes no identity provider (no IDPSSODescriptor)")
		}
	default:
		return nil, fmt.Errorf("the metadata's root element is %q, not EntityDescriptor", root.XMLName.Local)
	}
	if ed.EntityID == "" {
		return nil, errors.New("the metadata has no entityID")
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, errors.New("the metadata describes no identity provider (no IDPSSODescriptor); is it the service provider's metadata?")
	}
	dropUnusableCertificates(ed)
	if loc, _ := ssoEndpoint(ed); loc == "" {
		return nil, errors.New("the identity provider offers no single sign-on endpoint with the HTTP-Redirect or HTTP-POST binding, which admit uses to start a login")
	}
	if len(signingCertificates(ed)) == 0 {
		return nil, errors.New("the metadata holds no usable signing certificate")
	}
	return ed, nil
}

// ssoEndpoint is where an AuthnRequest goes, and with which binding:
// HTTP-Redirect when the provider offers it (a plain redirect), else
// HTTP-POST (a page that posts the signed request).
func ssoEndpoint(ed *saml.EntityDescriptor) (location, binding string) {
	for _, binding := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
		for _, d := range ed.IDPSSODescriptors {
			for _, s := range d.SingleSignOnServices {
				if s.Binding == binding && s.Location != "" {
					return s.Location, binding
				}
			}
		}
	}
	return "", ""
}

// signingCertificates are the certificates the provider signs with: every
// one listed for signing (or for no use in particular). Several at once is
// how a provider rolls its certificate over without an outage.
func signingCertificates(ed *saml.EntityDescriptor) []*x509.Certificate {
	var out []*x509.Certificate
	for _, d := range ed.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				if cert := parseCertificate(c.Data); cert != nil {
					out = append(out, cert)
				}
			}
		}
	}
	return out
}

// dropUnusableCertificates removes signing certificates that do not parse:
// crewjam refuses every response when one of the trusted certificates is
// unreadable, so one bad entry beside a good one (a rollover gone wrong)
// would stop all logins.
func dropUnusableCertificates(ed *saml.EntityDescriptor) {
	for i := range ed.IDPSSODescriptors {
		d := &ed.IDPSSODescriptors[i]
		kept := d.KeyDescriptors[:0]
		for _, kd := range d.KeyDescriptors {
			if kd.Use == "" || kd.Use == "signing" {
				certs := kd.KeyInfo.X509Data.X509Certificates[:0]
				for _, c := range kd.KeyInfo.X509Data.X509Certificates {
					if parseCertificate(c.Data) != nil {
						certs = append(certs, c)
					}
				}
				kd.KeyInfo.X509Data.X509Certificates = certs
				if len(certs) == 0 {
					continue
				}
			}
			kept = append(kept, kd)
		}
		d.KeyDescriptors = kept
	}
}

func parseCertificate(data string) *x509.Certificate {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
	if err != nil {
		return nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	return cert
}

// IDPExpiries returns the ends of the provider's signing certificates.
func IDPExpiries(metadata, account, connection string) []certs.Expiry {
	ed, err := ParseMetadata([]byte(metadata))
	if err != nil {
		return nil
	}
	var out []certs.Expiry
	for _, c := range signingCertificates(ed) {
		out = append(out, certs.Expiry{Kind: "idp", Account: account, Connection: connection, Serial: c.SerialNumber.Text(16), NotAfter: c.NotAfter})
	}
	return out
}

// SigningFingerprints are the SHA-256 fingerprints (hex) of the
// certificates ed's identity provider signs with: what the directory
// compares to notice a new signing key.
func SigningFingerprints(ed *saml.EntityDescriptor) []string {
	var out []string
	for _, c := range signingCertificates(ed) {
		sum := sha256.Sum256(c.Raw)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	return out
}

// CheckMetadata parses and checks an identity provider's metadata (see
// ParseMetadata) and returns it with its signing certificates, for the
// directory.
func CheckMetadata(data []byte) (directory.ConnectionMetadata, error) {
	ed, err := ParseMetadata(data)
	if err != nil {
		return directory.ConnectionMetadata{}, err
	}
	return directory.ConnectionMetadata{Metadata: string(data), SigningCertificates: SigningFingerprints(ed)}, nil
}

// FetchMetadata downloads metadata from url through the guarded client
// (https, or http to a host the operator allowed; at most 1 MiB) and
// checks it.
func FetchMetadata(ctx context.Context, client *fetch.Client, url string) (directory.ConnectionMetadata, error) {
	data, err := client.Get(ctx, url, fetch.MetadataLimit, "application/samlmetadata+xml, application/xml, text/xml")
	if err != nil {
		return directory.ConnectionMetadata{}, fmt.Errorf("fetch metadata: %w", err)
	}
	return CheckMetadata(data)
}
