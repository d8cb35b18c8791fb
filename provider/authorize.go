package provider

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"

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
	// requestURI is set when the request carries request_uri, which op's
	// oidc.AuthRequest has no field for: op would ignore it.
	requestURI bool
	// repeated names a parameter the request carries more than once
	// (RFC 6749 section 3.1: "MUST NOT be included more than once"), which
	// op reads the first of, where a proxy or the app's own logs may read
	// another: the request is refused rather than guessed at.
	repeated string
}

var _ op.AuthorizeValidator = authorizer{}

// handleAuthorize is op's authorization endpoint, with the authorizer.
func (h *Handler) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(op.ContextWithIssuer(r.Context(), h.issuer))
	a := h.authorizer
	if err := r.ParseForm(); err != nil {
		// op's answer (ParseAuthorizeRequest): parsed a second time, the
		// form would seem to be read.
		op.AuthRequestError(w, r, nil, oidc.ErrInvalidRequest().WithDescription("cannot parse form").WithParent(err), a)
		return
	}
	a.requestURI = r.Form.Get("request_uri") != ""
	for _, name := range slices.Sorted(maps.Keys(r.Form)) {
		if len(r.Form[name]) > 1 {
			a.repeated = name
			break
		}
	}
	op.Authorize(w, r, a)
}

// errRequestURINotSupported answers a request_uri (OpenID Connect Core
// sections 6.2 and 6.3): admit fetches no request object, as it reads
// none passed by value (op answers request with request_not_supported),
// and discovery says so (request_uri_parameter_supported false). Taking
// the request without it would sign the person in to what the app did
// not ask for: the parameters it put in the object would be lost.
func errRequestURINotSupported() *oidc.Error {
	return (&oidc.Error{ErrorType: "request_uri_not_supported"}).WithDescription("admit does not fetch request objects: send the parameters in the authorization request itself")
}

// errUnsupportedResponseType answers a response type other than code
// (RFC 6749 section 4.1.2.1): admit gives no app another, so it is the
// server's limit, unsupported_response_type. op answers
// unauthorized_client, which says that this app may not use it and sends
// its developer to ask for a registration that does not exist.
func errUnsupportedResponseType() *oidc.Error {
	return (&oidc.Error{ErrorType: "unsupported_response_type"}).WithDescription("admit supports the authorization code flow only: use response_type=code")
}

// requireOpenID refuses a request whose scope lacks openid with
// invalid_scope, at the authorization endpoint and at a refresh that
// narrows the scope. Without openid a request is plain OAuth 2.0, whose
// handling OpenID Connect Core leaves "entirely unspecified" (section
// 3.1.2.1); op issued an ID token anyway, as if openid had been asked.
// admit is a provider for signing people in: an app's sign-in, its
// claims (account, role, groups) and its logout all rest on the ID
// token, and the one API an access token serves is userinfo, OpenID
// Connect's own. A
// request without openid is an app's configuration mistake (a generic
// OAuth library given "profile email"); told so at once, by name, its
// developer adds the scope, where an access token without an ID token
// would fail later, somewhere less clear.
func requireOpenID(scopes []string) error {
	if slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil
	}
	return oidc.ErrInvalidScope().WithDescription("the scope must include openid: admit signs people in with OpenID Connect")
}

// ValidateAuthRequest checks an authorization request as op's own
// ValidateAuthRequestClient does, step for step, with admit's answers in
// four places: the redirect URI is the app's by the directory's rule
// (directory.App.AllowsRedirectURI; op matches a web app's exactly, and a
// native app's loopback URI on any port and any loopback host, localhost
// and https included, where admit allows another port only on http at
// 127.0.0.1 and [::1], RFC 8252 section 7.3); another response type than
// code is unsupported_response_type; a scope without openid is
// invalid_scope (requireOpenID); request_uri is refused. An error
// before the redirect URI is known good is shown on a page (pageErrors),
// never sent to the URI.
func (a authorizer) ValidateAuthRequest(ctx context.Context, req *oidc.AuthRequest, st op.Storage, verifier *op.IDTokenHintVerifier) (string, error) {
	c, err := st.GetClientByClientID(ctx, req.ClientID)
	if err != nil {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("unable to retrieve client by id").WithParent(err)
	}
	app, ok := c.(client)
	if !ok || !app.app.AllowsRedirectURI(req.RedirectURI) {
		return "", oidc.ErrInvalidRequestRedirectURI().WithDescription("the redirect_uri is not one registered for the app")
	}
	if a.repeated != "" {
		// Told at the redirect URI, which op read first and is the app's.
		return "", oidc.ErrInvalidRequest().WithDescription("the parameter %s is sent more than once", strconv.Quote(a.repeated))
	}
	if req.MaxAge, err = op.ValidateAuthReqPrompt(req.Prompt, req.MaxAge); err != nil {
		return "", err
	}
	if req.Scopes, err = op.ValidateAuthReqScopes(c, req.Scopes); err != nil {
		return "", err
	}
	if err := requireOpenID(req.Scopes); err != nil {
		return "", err
	}
	if req.ResponseType != "" && !op.ContainsResponseType(c.ResponseTypes(), req.ResponseType) {
		return "", errUnsupportedResponseType()
	}
	if err := op.ValidateAuthReqResponseType(c, req.ResponseType); err != nil { // none: invalid_request
		return "", err
	}
	if err := op.ValidateAuthReqCodeChallengeMethod(req.CodeChallenge, req.CodeChallengeMethod); err != nil {
		return "", err
	}
	sub, err := op.ValidateAuthReqIDTokenHint(ctx, req.IDTokenHint, verifier)
	if err != nil {
		return "", err
	}
	// Where op answers request, once the request is otherwise good (its
	// redirect URI above all).
	if a.requestURI {
		return "", errRequestURINotSupported()
	}
	return sub, nil
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
	// Every error op sends to the redirect URI is encoded here: its
	// description may name the app or an organisation (oauthText).
	for i, d := range dst["error_description"] {
		dst["error_description"][i] = oauthText(d)
	}
	return nil
}
