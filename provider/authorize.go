package provider

import (
	"context"
	"net/http"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authorizer is op's Authorizer for the authorization endpoint and its
// answers: the provider, with admit's checks of an authorization request
// in op's hook for them (op.AuthorizeValidator), and the issuer in every
// authorization response (Encoder).
type authorizer struct {
	*op.Provider
	issuer string
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

// Encoder is op's, adding iss to every authorization response op encodes
// with it, success (code and state) and error alike: RFC 9207 section 2,
// which discovery advertises (authorization_response_iss_parameter_supported).
// With it an app that talks to several providers can tell which one
// answered, and a mix-up attack (a response of one provider taken for
// another's) fails; openid-client, for one, checks it. op encodes
// nothing else with the authorizer's Encoder.
func (a authorizer) Encoder() httphelper.Encoder {
	return issuerEncoder{a.Provider.Encoder(), a.issuer}
}

type issuerEncoder struct {
	httphelper.Encoder
	issuer string
}

func (e issuerEncoder) Encode(src any, dst map[string][]string) error {
	if err := e.Encoder.Encode(src, dst); err != nil {
		return err
	}
	dst["iss"] = []string{e.issuer}
	return nil
}
