package provider

import (
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/admit-dev/admit/directory"
)

// client is an app, for op.
type client struct{ app directory.App }

var _ op.Client = client{}

func (c client) GetID() string                    { return c.app.ClientID }
func (c client) RedirectURIs() []string           { return c.app.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string { return c.app.PostLogoutRedirectURIs }

// ApplicationType is web for every app: op then matches redirect URIs
// exactly wherever it still matches them (for its native type it ignores
// the port and the host of a loopback URI, localhost and https included).
// Redirect and post-logout redirect URIs are the directory's rule, not
// op's (authorizer.ValidateAuthRequest, Handler.validateEndSession;
// TestEndSessionLoopbackPort).
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }

func (c client) AuthMethod() oidc.AuthMethod {
	if c.app.Public {
		return oidc.AuthMethodNone
	}
	// op takes client_secret_post as well, as the provider's Config allows.
	return oidc.AuthMethodBasic
}

func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

// LoginURL is where op sends the browser once the request is kept: the
// sign-in step of this package.
func (c client) LoginURL(id string) string { return continuePath + "?id=" + url.QueryEscape(id) }

func (c client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c client) IDTokenLifetime() time.Duration      { return directory.AppAccessTokenTTL }

// DevMode lets op accept a registered http redirect URI: registration
// (directory.AddApp) allows http on loopback addresses only.
func (c client) DevMode() bool { return true }

func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed keeps, beyond OpenID Connect's own scopes, the one that
// names the account the app asks for (account:SLUG, see
// directory.RequestedAccount); op drops any other.
func (c client) IsScopeAllowed(scope string) bool {
	slug, ok := strings.CutPrefix(scope, directory.AccountScopePrefix)
	return ok && slug != "" && len(slug) <= 63
}

// IDTokenUserinfoClaimsAssertion puts the claims in the ID token as well as
// at userinfo: most apps read the ID token only.
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }
