package provider

import (
	"log/slog"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/admit-dev/admit/directory"
)

// authRequest is an authorization, for op.
// amr is read from the directory when it is loaded (directory.AppAMR).
type authRequest struct {
	directory.AppAuthorization
	amr []string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string         { return a.ID }
func (a *authRequest) GetACR() string        { return "" }
func (a *authRequest) GetAMR() []string      { return a.amr }
func (a *authRequest) GetAudience() []string { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time {
	if a.AuthTime == nil {
		return time.Time{}
	}
	return *a.AuthTime
}
func (a *authRequest) GetClientID() string { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.ResponseType) }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.ResponseMode) }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.UserID }
func (a *authRequest) Done() bool                         { return a.AppAuthorization.Done() }

// LogValue keeps secrets (state, nonce, challenge) out of op's logs.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.ID), slog.String("client_id", a.ClientID), slog.String("redirect_uri", a.RedirectURI))
}

// refreshRequest is a refresh token being exchanged, for op.
type refreshRequest struct {
	directory.AppToken
	amr    []string
	scopes []string // narrowed by the request, when it asks for fewer
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string       { return r.amr }
func (r *refreshRequest) GetAudience() []string  { return []string{r.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return r.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.ClientID }

// GetScopes is what this exchange grants: the scopes the request narrowed
// them to, once op has set them, else the refresh token's.
func (r *refreshRequest) GetScopes() []string {
	if len(r.scopes) > 0 {
		return r.scopes
	}
	return r.Scopes
}
func (r *refreshRequest) GetSubject() string          { return r.UserID }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }
