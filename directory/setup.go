package directory

import (
	"net/url"
	"strings"
)

// MetadataSource is where a SAML connection's identity provider metadata
// comes from, as an admin gives it: a URL admit fetches (and refreshes
// from), a downloaded document, or the three fields a provider shows when
// it publishes no metadata (entity ID, single sign-on URL, signing
// certificate). The zero value is none: the connection waits for it.
type MetadataSource struct {
	URL      string
	Document []byte
	// The fields, for a provider without metadata; CertificatePEM may be
	// PEM or the bare base64 a provider's page shows.
	EntityID, SSOURL, CertificatePEM string
}

// Empty reports whether nothing was given.
func (m MetadataSource) Empty() bool {
	return m.URL == "" && len(m.Document) == 0 && m.EntityID == "" && m.SSOURL == "" && m.CertificatePEM == ""
}

// ConnectionURLs are what an identity provider's admin needs of a
// connection: the SAML service provider's values, or the OIDC client's,
// and the intranet link.
type ConnectionURLs struct {
	EntityID string `json:"sp_entity_id,omitempty"`
	ACS      string `json:"acs_url,omitempty"`
	// SLO is the SAML single logout URL (SingleLogoutService), where the
	// provider sends LogoutRequests and answers admit's.
	SLO              string `json:"slo_url,omitempty"`
	Metadata         string `json:"metadata_url,omitempty"`
	RedirectURI      string `json:"redirect_uri,omitempty"`
	InitiateLoginURI string `json:"initiate_login_uri,omitempty"`
	IntranetURL      string `json:"intranet_login_url"`
}

// entraIssuer reports whether issuer is Microsoft Entra ID's.
func entraIssuer(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && strings.EqualFold(u.Hostname(), "login.microsoftonline.com")
}

// withDefaults fills in what an OIDC connection leaves unsaid: Entra ID
// sends no email_verified; its tenant issuer and the domain rule are what
// make its email trustworthy, so its email trust is domain unless given.
func (o *OIDCSettings) withDefaults() *OIDCSettings {
	if o == nil {
		return nil
	}
	out := *o
	if out.EmailTrust == "" && entraIssuer(out.Issuer) {
		out.EmailTrust = EmailDomain
	}
	return &out
}
