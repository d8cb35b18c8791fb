package provider

import (
	"context"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authorizer is op's Authorizer for the authorization endpoint and its
// answers: the provider, with admit's checks of an authorization request
// in op's hook for them (op.AuthorizeValidator).
type authorizer struct {
	*op.Provider
}

var _ op.AuthorizeValidator = authorizer{}

// handleAuthorize is op's authorization endpoint, with the authorizer.
func (h *Handler) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(op.ContextWithIssuer(r.Context(), h.issuer))
	op.Authorize(w, r, h.authorizer)
}

// ValidateAuthRequest checks an authorization request as op's own
// ValidateAuthRequestClient does, step for step, but for the redirect
// URI, which the app's rule decides (directory.App.AllowsRedirectURI):
// op matches a web app's exactly, and a native app's loopback URI on any
// port and any loopback host, localhost and https included; admit allows
// another port only on http at 127.0.0.1 and [::1] (RFC 8252 section 7.3).
// An error before the redirect URI is known good is shown on a page
// (pageErrors), never sent to the URI.
func (authorizer) ValidateAuthRequest(ctx context.Context, req *oidc.AuthRequest, st op.Storage, verifier *op.IDTokenHintVerifier) (string, error) {
	c, err := st.GetClientByClientID(ctx, req.ClientID)
	if err != nil {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("unable to retrieve client by id").WithParent(err)
	}
	app, ok := c.(client)
	if !ok || !app.app.AllowsRedirectURI(req.RedirectURI) {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("the redirect_uri is not one registered for the app")
	}
	if req.MaxAge, err = op.ValidateAuthReqPrompt(req.Prompt, req.MaxAge); err != nil {
		return "", err
	}
	if req.Scopes, err = op.ValidateAuthReqScopes(c, req.Scopes); err != nil {
		return "", err
	}
	if err := op.ValidateAuthReqResponseType(c, req.ResponseType); err != nil {
		return "", err
	}
	if err := op.ValidateAuthReqCodeChallengeMethod(req.CodeChallenge, req.CodeChallengeMethod); err != nil {
		return "", err
	}
	return op.ValidateAuthReqIDTokenHint(ctx, req.IDTokenHint, verifier)
}
