package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/admit-dev/admit/certs"
	"github.com/admit-dev/admit/directory"
)

// storage is op's Storage over the directory: op speaks the protocol, the
// directory decides and keeps the state.
type storage struct {
	dir  *directory.Service
	keys *certs.TokenKeys
	// requests seals an authorization request into the id op puts in the
	// sign-in URL, until the person is known and it is stored.
	requests *certs.Sealer
}

// requestPurpose binds sealed authorization requests to their use.
const requestPurpose = "admit provider authorization request"

func (s *storage) seal(a directory.AppAuthorization) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	return s.requests.Seal(b, requestPurpose), nil
}

// open returns the authorization request sealed in id; NotFound for
// anything that is not one of ours.
func (s *storage) open(id string) (directory.AppAuthorization, error) {
	var a directory.AppAuthorization
	b, err := s.requests.Open(id, requestPurpose)
	if err != nil || json.Unmarshal(b, &a) != nil {
		return a, directory.NotFoundError("This sign-in request is unknown or has expired. Go back to the app and sign in again.")
	}
	return a, nil
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

// idTokenAlg signs ID tokens: RS256 is OpenID Connect's default (Core
// section 3.1.3.7) and the one algorithm every library takes.
const idTokenAlg = jose.RS256

// protocolError turns a directory refusal into the OAuth error the app is
// told; anything else stays an error (server_error).
func protocolError(err error, as func() *oidc.Error) error {
	if refusal(err) {
		return as().WithDescription("%s", directory.Message(err)).WithParent(err)
	}
	return err
}

// refusal reports whether err is the directory refusing, not failing.
func refusal(err error) bool {
	switch directory.KindOf(err) {
	case directory.Invalid, directory.NotFound, directory.Forbidden, directory.Unauthenticated, directory.Gone:
		return true
	}
	return false
}

// userinfoFault is a storage fault at userinfo, where op answers any
// error 403 and logs nothing: it is logged here (through the default
// logger, so with the request, at the answer's level) and answered 500
// server_error by writeOAuthError.
func userinfoFault(ctx context.Context, err error) error {
	slog.ErrorContext(ctx, "userinfo failed", "err", err)
	return oidc.ErrServerError().WithDescription("admit could not read the access token")
}

// CreateAuthRequest keeps the request; hintSubject is the sub of the
// id_token_hint op verified, if any.
func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	if r.ResponseMode != "" && r.ResponseMode != oidc.ResponseModeQuery {
		// form_post needs an auto-submitting page, which admit's Content
		// Security Policy (no inline script) would stop halfway.
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	}
	method := ""
	if r.CodeChallenge != "" {
		method = string(r.CodeChallengeMethod)
		if method == "" {
			method = string(oidc.CodeChallengeMethodPlain)
		}
	}
	var maxAge *time.Duration
	if r.MaxAge != nil {
		// op has made prompt=login max_age=0.
		d := time.Duration(min(*r.MaxAge, uint(directory.SessionMaxAge/time.Second))) * time.Second
		maxAge = &d
	}
	a, err := s.dir.StartAppAuthorization(ctx, directory.AppAuthorization{
		ClientID: r.ClientID, RedirectURI: r.RedirectURI, State: r.State, Nonce: r.Nonce, Scopes: r.Scopes,
		ResponseType: string(r.ResponseType), ResponseMode: string(r.ResponseMode), CodeChallenge: r.CodeChallenge,
		CodeChallengeMethod: method, LoginHint: r.LoginHint, NoPrompt: slices.Contains(r.Prompt, oidc.PromptNone), MaxAge: maxAge,
		HintSubject: hintSubject, SelectAccount: slices.Contains(r.Prompt, oidc.PromptSelectAccount),
	})
	if err != nil {
		return nil, protocolError(err, oidc.ErrInvalidRequest)
	}
	if a.ID, err = s.seal(a); err != nil {
		return nil, err
	}
	return &authRequest{AppAuthorization: a}, nil
}

// AuthRequestByID opens a sealed request; op calls it only from its own
// callback, which this package does not serve.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	a, err := s.open(id)
	if err == nil {
		err = s.dir.CheckAppAuthorization(a)
	}
	if err != nil {
		return nil, protocolError(err, oidc.ErrInvalidRequest)
	}
	return &authRequest{AppAuthorization: a}, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	a, err := s.dir.AppAuthorizationByCode(ctx, code)
	if err != nil {
		// Unknown, used or expired: RFC 6749 section 5.2, invalid_grant.
		return nil, protocolError(err, oidc.ErrInvalidGrant)
	}
	amr, err := s.dir.AppAMR(ctx, a.AccountID, a.Credential)
	if err != nil {
		return nil, err
	}
	return &authRequest{a, amr}, nil
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.dir.IssueAppCode(ctx, id, code)
}

func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.dir.EndAppAuthorization(ctx, id)
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	a, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	t, _, err := s.dir.IssueAppTokens(ctx, a.AppAuthorization, false)
	if err != nil {
		return "", time.Time{}, protocolError(err, oidc.ErrInvalidGrant)
	}
	return t.ID, expiresInRounded(t.ExpiresAt), nil
}

// expiresInRounded is the expiry of an access token as op is given it:
// op sends expires_in as the whole seconds from now to it, cut (token.go,
// uint64(validity.Seconds())), so a 900-second token issued a few
// milliseconds before went out as 899. Half a second more makes that
// rounding, and expires_in the token's lifetime. op uses the time for
// nothing else: the token's own expiry is the directory's.
func expiresInRounded(t time.Time) time.Time { return t.Add(time.Second / 2) }

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	var (
		access  directory.AppToken
		refresh string
		err     error
	)
	switch r := req.(type) {
	case *authRequest:
		access, refresh, err = s.dir.IssueAppTokens(ctx, r.AppAuthorization, true)
	case *refreshRequest:
		// Before the rotation: a refusal leaves the refresh token as it was.
		if err := requireOpenID(r.GetScopes()); err != nil {
			return "", "", time.Time{}, err
		}
		access, refresh, err = s.dir.RotateAppRefreshToken(ctx, r.AppToken, r.scopes)
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	if err != nil {
		return "", "", time.Time{}, protocolError(err, oidc.ErrInvalidGrant)
	}
	return access.ID, refresh, expiresInRounded(access.ExpiresAt), nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	t, err := s.dir.AppRefreshToken(ctx, token)
	if err != nil {
		return nil, protocolError(err, oidc.ErrInvalidGrant)
	}
	amr, err := s.dir.AppAMR(ctx, t.AccountID, t.Credential)
	if err != nil {
		return nil, err
	}
	return &refreshRequest{AppToken: t, amr: amr}, nil
}

// TerminateSession is op's, called only from op's own end-session
// endpoint, which admit does not serve (handleEndSession is admit's):
// refused, so that no route to op's ends a person's tokens, or forgets
// their sign-ins, without the checks of handleEndSession.
func (s *storage) TerminateSession(context.Context, string, string) error {
	return oidc.ErrServerError().WithDescription("admit serves the end-session endpoint itself")
}

func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	var (
		t   directory.AppToken
		err error
	)
	if userID != "" {
		t, err = s.dir.AppAccessToken(ctx, tokenOrID)
	} else {
		t, err = s.dir.AppRefreshTokenForRevocation(ctx, tokenOrID)
	}
	// RFC 7009 section 2.2: an unknown or already invalid token is not an
	// error; neither is one of another client, which is left alone.
	if directory.KindOf(err) == directory.Unauthenticated || err == nil && t.ClientID != clientID {
		return nil
	}
	if err == nil {
		err = s.dir.RevokeAppToken(ctx, t)
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	t, err := s.dir.AppRefreshTokenForRevocation(ctx, token)
	if err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.UserID, t.ID, nil
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	kp, err := s.keys.Active(ctx, idTokenAlg)
	if err != nil {
		return nil, err
	}
	return signingKey{kp}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{idTokenAlg}, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	jwks, err := s.keys.JWKS(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(jwks.Keys))
	for i, k := range jwks.Keys {
		out[i] = publicKey{k}
	}
	return out, nil
}

func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	app, err := s.dir.App(ctx, clientID)
	if directory.KindOf(err) == directory.NotFound {
		// invalid_client (RFC 6749 section 5.2), the sender's mistake,
		// wherever op passes it on as it is: a plain error was op's 500
		// server_error at a refresh and at end_session (where
		// endSessionRefused keeps server errors). At the authorize
		// endpoint, an error page that redirects nowhere.
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return client{app}, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, secret string) error {
	_, err := s.dir.AuthenticateApp(ctx, clientID, secret)
	if directory.KindOf(err) == directory.Unauthenticated {
		return errors.New("unknown client or wrong secret")
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does
// its work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the claims in the ID token.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	var clientID, userID, accountID string
	var cred directory.Credential
	switch r := req.(type) {
	case *authRequest:
		clientID, userID, accountID, cred = r.ClientID, r.UserID, r.AccountID, r.Credential
	case *refreshRequest:
		clientID, userID, accountID, cred = r.ClientID, r.UserID, r.AccountID, r.Credential
	default:
		return fmt.Errorf("ID token for a request of type %T", req)
	}
	c, err := s.dir.AppClaimsFor(ctx, clientID, userID, accountID, cred)
	if err != nil {
		return protocolError(err, oidc.ErrInvalidGrant)
	}
	setClaims(info, c, scopes)
	if sid := directory.AppSessionID(userID, accountID, req.GetAuthTime()); sid != "" {
		// In the ID token only: the session it was issued in, which a
		// back-channel logout names (logout.go).
		info.AppendClaims("sid", sid)
	}
	return nil
}

// SetUserinfoFromToken answers userinfo: the claims of the access token's
// person now, refused once the membership has ended.
func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.dir.AppAccessToken(ctx, tokenID)
	if err != nil && !refusal(err) {
		return userinfoFault(ctx, err)
	}
	if err != nil || t.UserID != subject {
		return oidc.ErrAccessDenied().WithDescription("the access token is not valid")
	}
	c, err := s.dir.AppClaimsFor(ctx, t.ClientID, t.UserID, t.AccountID, t.Credential)
	if err != nil && !refusal(err) {
		return userinfoFault(ctx, err)
	}
	if err != nil {
		return protocolError(err, oidc.ErrAccessDenied)
	}
	setClaims(info, c, t.Scopes)
	// The ID token carries amr as its own claim; userinfo has no such
	// field, so it is added here for apps that read userinfo only.
	info.AppendClaims("amr", nonNil(c.AMR))
	return nil
}

// SetIntrospectionFromToken answers introspection for a token of the
// client's; a storage fault is no inactive token (introspectionFault).
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.dir.AppAccessToken(ctx, tokenID)
	if err != nil && !refusal(err) {
		return introspectionFault(ctx, err)
	}
	if err != nil || t.UserID != subject || t.ClientID != clientID {
		return oidc.ErrAccessDenied().WithDescription("the token is not active")
	}
	c, err := s.dir.AppClaimsFor(ctx, t.ClientID, t.UserID, t.AccountID, t.Credential)
	if err != nil && !refusal(err) {
		return introspectionFault(ctx, err)
	}
	if err != nil {
		return protocolError(err, oidc.ErrAccessDenied)
	}
	info := new(oidc.UserInfo)
	setClaims(info, c, t.Scopes)
	resp.SetUserInfo(info)
	resp.Active, resp.Scope, resp.ClientID, resp.Subject = true, t.Scopes, t.ClientID, t.UserID
	resp.Expiration, resp.IssuedAt, resp.AuthTime = oidc.FromTime(t.ExpiresAt), oidc.FromTime(t.CreatedAt), oidc.FromTime(t.AuthTime)
	resp.AuthenticationMethodsReferences = c.AMR
	return nil
}

// GetPrivateClaimsFromScopes adds nothing: access tokens are opaque.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

var errNoJWTProfile = oidc.ErrUnsupportedGrantType().WithDescription("the JWT profile grant is not supported")

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNoJWTProfile
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNoJWTProfile
}

func (s *storage) Health(ctx context.Context) error { return s.dir.Ping(ctx) }

// setClaims fills what the scopes ask for; the account, role and groups
// are always given: they are what an app of the platform needs to know.
func setClaims(info *oidc.UserInfo, c directory.AppClaims, scopes []string) {
	info.Subject = c.Subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name, info.GivenName, info.FamilyName = c.Name, c.GivenName, c.FamilyName
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email, info.EmailVerified = c.Email, oidc.Bool(c.EmailVerified)
	}
	info.AppendClaims("account", c.Account)
	info.AppendClaims("role", string(c.Role))
	info.AppendClaims("groups", nonNil(c.Groups))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// signingKey is the active RS256 key pair, for op.
type signingKey struct{ kp certs.KeyPair }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return certs.Algorithm(k.kp.Record.Kind)
}
func (k signingKey) Key() any   { return k.kp.Signer }
func (k signingKey) ID() string { return k.kp.Record.ID }

// publicKey is a published key of the JWKS, for op.
type publicKey struct{ jwk jose.JSONWebKey }

func (k publicKey) ID() string { return k.jwk.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.jwk.Algorithm)
}
func (k publicKey) Use() string { return k.jwk.Use }
func (k publicKey) Key() any    { return k.jwk.Key }
