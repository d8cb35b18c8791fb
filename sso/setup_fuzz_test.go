package sso_test

import (
	"strings"
	"testing"

	"github.com/admit-dev/admit/sso"
)

// FuzzMetadataFromFields: whatever an admin pastes as the provider's
// entity ID, single sign-on URL and certificate, MetadataFromFields either
// refuses it or writes metadata that admit's own check accepts, with that
// entity ID and no markup injected from the fields.
func FuzzMetadataFromFields(f *testing.F) {
	_, cert := keyPair(f, "idp")
	pemCert := "-----BEGIN CERTIFICATE-----\n" + b64(cert.Raw) + "\n-----END CERTIFICATE-----\n"
	f.Add("https://idp.example.com", "https://idp.example.com/sso", pemCert)
	f.Add(`a"><x/>`, "https://idp.example.com/sso?a=<b>&c", b64(cert.Raw))
	f.Add("", "http://localhost/sso", "not a certificate")
	f.Fuzz(func(t *testing.T, entityID, ssoURL, certificate string) {
		doc, err := sso.MetadataFromFields(entityID, ssoURL, certificate)
		if err != nil {
			return
		}
		md, err := sso.ParseMetadata(doc)
		if err != nil {
			t.Fatalf("MetadataFromFields(%q, %q) wrote metadata its own check refuses: %v\n%s", entityID, ssoURL, err, doc)
		}
		if md.EntityID != strings.TrimSpace(entityID) {
			t.Fatalf("entity ID %q came out as %q", entityID, md.EntityID)
		}
		if len(md.IDPSSODescriptors) != 1 || len(md.IDPSSODescriptors[0].SingleSignOnServices) != 1 {
			t.Fatalf("the fields made more than one descriptor or endpoint:\n%s", doc)
		}
	})
}
