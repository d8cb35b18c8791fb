package sso

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/crewjam/saml"

	"github.com/admit-dev/admit/certs"
)

// maxMetadataBytes bounds an identity provider's metadata: a federation's
// aggregate is not what a connection points at.
const maxMetadataBytes = 1 << 20

// ParseMetadata reads an identity provider's SAML metadata: an
// EntityDescriptor, or an EntitiesDescriptor holding one with an
// IDPSSODescriptor. It checks what a login needs: a single sign-on
// endpoint with the HTTP-Redirect or HTTP-POST binding and at least one
// signing certificate.
func ParseMetadata(data []byte) (*saml.EntityDescriptor, error) {
	if err := metadataBounds.check(data); err != nil {
		return nil, fmt.Errorf("the metadata is not XML admit reads: %w", err)
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

// FetchMetadata downloads and checks metadata from url.
func FetchMetadata(ctx context.Context, client *http.Client, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("metadata URL %q: %v", url, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetch metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetch metadata: %s answered %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return "", fmt.Errorf("fetch metadata: %w", err)
	}
	if _, err := ParseMetadata(data); err != nil {
		return "", err
	}
	return string(data), nil
}
