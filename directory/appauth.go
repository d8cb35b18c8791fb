package directory

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file is what admit's OpenID provider decides: which account an app
// signs a person in to, whether it may, what the app is told about them,
// and the life of the codes and tokens it hands out. Package provider
// speaks the protocol (zitadel's op) and stores its state through here.

// Lifetimes of what the provider issues.
const (
	// AppAuthorizationTTL bounds an authorization from the authorize
	// request to the exchange of its code, sign-in included.
	AppAuthorizationTTL = 10 * time.Minute
	// AppCodeTTL is how long an issued code may be exchanged (RFC 6749
	// section 4.1.2: "a maximum authorization code lifetime of 10 minutes
	// is RECOMMENDED"; a minute is plenty for a back-channel exchange).
	AppCodeTTL = time.Minute
	// AppAccessTokenTTL is the life of an access token (and of the ID
	// token issued with it).
	AppAccessTokenTTL = 15 * time.Minute
	// AppRefreshTokenTTL is the life of a refresh token family: rotation
	// never extends it beyond the session's own maximum age.
	AppRefreshTokenTTL = SessionMaxAge
)

// AppAuthorization is one authorization request of an app, from the
// authorize endpoint until its code is exchanged: what the app asked for,
// then who signed in for which account, then the code's hash. Until the
// person has signed in it is kept by the browser (package provider seals
// it into the sign-in URL): an anonymous request writes nothing (DESIGN
// rule 12); it is stored once the person is known.
type AppAuthorization struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	LoginHint           string
	// NoPrompt is prompt=none: the app wants an answer without any page
	// shown (login_required when nobody is signed in). Not stored: it
	// matters only before the sign-in.
	NoPrompt bool
	// MaxAge is max_age (prompt=login is max_age=0): the sign-in must be
	// at most this old, or made after the request (AppNeedsSignIn). Not
	// stored, as NoPrompt.
	MaxAge *time.Duration
	// HintSubject is the sub of a verified id_token_hint: the person the
	// app expects. Not stored, as NoPrompt.
	HintSubject string
	// SelectAccount is prompt=select_account: the person chooses the
	// account, when the app leaves it to them (AppOffersAccountChoice).
	// Not stored, as NoPrompt.
	SelectAccount bool

	// Set when the person has signed in and the account is chosen.
	UserID     string
	AccountID  string
	Credential Credential
	AuthTime   *time.Time

	CodeHash      string
	CodeExpiresAt *time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Done reports whether a person was found for the authorization.
func (a AppAuthorization) Done() bool { return a.UserID != "" }

// TokenKind tells access tokens from refresh tokens.
type TokenKind string

const (
	AccessToken  TokenKind = "access"
	RefreshToken TokenKind = "refresh"
)

// AppToken is an access or refresh token issued to an app. Access tokens
// are found by ID (the provider seals the ID into the token it hands
// out); refresh tokens by the hash of the random token. Tokens of one
// sign-in share a family: reusing a rotated refresh token after the app's
// reuse interval ends the family (RotateAppRefreshToken).
type AppToken struct {
	ID         string
	Kind       TokenKind
	Hash       string // refresh tokens only
	FamilyID   string
	ClientID   string
	UserID     string
	AccountID  string
	Scopes     []string
	Credential Credential
	AuthTime   time.Time
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time // a refresh token that was rotated
}

// AppAuthStore keeps the provider's authorizations and tokens.
type AppAuthStore interface {
	// CreateAppAuthorization stores an authorization whose person is known.
	CreateAppAuthorization(ctx context.Context, a AppAuthorization) error
	FindAppAuthorizationByCode(ctx context.Context, codeHash string) (AppAuthorization, error)
	// ClaimAppAuthorizationCode marks the code used; NotFound when it was.
	ClaimAppAuthorizationCode(ctx context.Context, id, codeHash string) error
	// SetAppAuthorizationCode records the code, once: NotFound when it
	// has one already.
	SetAppAuthorizationCode(ctx context.Context, id, codeHash string, expiresAt time.Time) error
	// DeleteAppAuthorization deletes an authorization, unless its code was
	// claimed: that one stays until it expires, for a replay to find.
	DeleteAppAuthorization(ctx context.Context, id string) error
	// HoldAppAuthorization holds an authorization until the transaction
	// ends (the one that issues its tokens); NotFound when it is gone: its
	// code was replayed, or the person's access ended.
	HoldAppAuthorization(ctx context.Context, id string) error
	// RevokeAppAuthorization deletes an authorization whose code was
	// claimed: it was presented again. It waits for a transaction that
	// holds it.
	RevokeAppAuthorization(ctx context.Context, id string) error

	CreateAppToken(ctx context.Context, t AppToken) error
	FindAppToken(ctx context.Context, id string) (AppToken, error)
	FindAppTokenByHash(ctx context.Context, hash string) (AppToken, error)
	// HoldAppRefreshToken holds a refresh token, and the live (unused)
	// refresh tokens of its family, until the transaction ends (the one
	// that rotates or reuses it), and returns it as it is then; NotFound
	// when it is gone.
	HoldAppRefreshToken(ctx context.Context, familyID, id string) (AppToken, error)
	// UseAppTokenFamily marks the live refresh tokens of a family used.
	UseAppTokenFamily(ctx context.Context, familyID string, at time.Time) error
	DeleteAppTokenFamily(ctx context.Context, familyID string) error
	// DeleteAppTokensOfSignIn ends a person's tokens at one app that were
	// issued in sign-ins begun in [from, to), those a refresh in flight
	// is storing included (it waits for that refresh, as
	// DeleteAppTokensOfMembership does).
	DeleteAppTokensOfSignIn(ctx context.Context, userID, clientID string, from, to time.Time) error
	// DeleteExpiredAppState deletes authorizations and tokens past their
	// end and returns how many rows went.
	DeleteExpiredAppState(ctx context.Context, now time.Time) (int64, error)
}

// StartAppAuthorization checks an authorization request the protocol
// layer has checked too (client, redirect URI) and gives it its expiry; it
// stores nothing. Public apps must use PKCE with S256 (OAuth 2.0 Security
// BCP section 2.1.1): without it a stolen code could be exchanged by
// whoever holds it.
func (s *Service) StartAppAuthorization(ctx context.Context, in AppAuthorization) (AppAuthorization, error) {
	app, err := s.App(ctx, in.ClientID)
	if err != nil {
		return AppAuthorization{}, err
	}
	switch {
	case app.Public && in.CodeChallenge == "":
		return AppAuthorization{}, InvalidError("PKCE is required for this client: send code_challenge with code_challenge_method=S256")
	case in.CodeChallenge != "" && in.CodeChallengeMethod != "S256":
		return AppAuthorization{}, InvalidError("code_challenge_method must be S256")
	case in.CodeChallenge != "" && !s256Challenge(in.CodeChallenge):
		return AppAuthorization{}, InvalidError("code_challenge must be the S256 challenge of the code_verifier: its SHA-256 in base64url without padding, 43 characters (RFC 7636 section 4.2)")
	case len(in.State) > 1024 || len(in.Nonce) > 1024 || len(in.LoginHint) > 320 || len(in.HintSubject) > 128 || len(in.CodeChallenge) > 128 || len(in.Scopes) > 20:
		// Bounded: the request travels in the sign-in URL.
		return AppAuthorization{}, InvalidError("a request parameter is too long")
	}
	now := s.clock()
	in.ID, in.CreatedAt, in.ExpiresAt = "", now, now.Add(AppAuthorizationTTL)
	in.UserID, in.AccountID, in.Credential, in.AuthTime, in.CodeHash, in.CodeExpiresAt = "", "", Credential{}, nil, "", nil
	return in, nil
}

// s256Challenge reports whether c has the form of an S256 code challenge:
// a SHA-256 (32 bytes) in base64url without padding, 43 characters. A
// challenge of another form was not made by the method it names (a hex
// digest, standard base64 with its padding), and the app's exchange would
// fail whatever verifier it sent: it is told now, where its developer
// looks.
func s256Challenge(c string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// CheckPKCEVerifier refuses a code_verifier that is not one RFC 7636
// (section 4.1) allows: 43 to 128 characters of A-Z a-z 0-9 - . _ ~. The
// challenge travels in the browser's address bar, so a verifier of a few
// characters, or of a few words, is found from it by trying them all: a
// short one that matches its challenge is refused too.
func CheckPKCEVerifier(v string) error {
	if len(v) < 43 || len(v) > 128 || strings.Trim(v, verifierCharacters) != "" {
		return InvalidError("the code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)")
	}
	return nil
}

// verifierCharacters are the unreserved characters of RFC 3986, a
// verifier's alphabet.
const verifierCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// CheckAppAuthorization reports NotFound when a started authorization has
// expired.
func (s *Service) CheckAppAuthorization(a AppAuthorization) error {
	if !s.clock().Before(a.ExpiresAt) {
		return NotFoundError("This sign-in request has expired. Go back to the app and sign in again.")
	}
	return nil
}

// AppAuthorizationByCode returns the authorization a code was issued for,
// and uses the code up: it opens one exchange, also when exchanges race
// (RFC 6749 section 4.1.2), and a failed exchange ends it too. NotFound
// when the code is unknown, was presented already, or expired.
//
// A code presented again after its exchange revokes the tokens issued
// from it (RFC 6749 section 4.1.2: the authorization server "SHOULD
// revoke (when possible) all tokens previously issued based on that
// authorization code"): one of the two presenters stole it. The exchanged
// authorization is kept, marked used, until it expires
// (AppAuthorizationTTL) for this; its tokens are the family of its id.
func (s *Service) AppAuthorizationByCode(ctx context.Context, code string) (AppAuthorization, error) {
	a, err := s.store.FindAppAuthorizationByCode(ctx, hashToken(code))
	if KindOf(err) == NotFound {
		return AppAuthorization{}, s.replayedCode(ctx, code)
	}
	if err != nil {
		return AppAuthorization{}, err
	}
	if a.CodeExpiresAt == nil || !s.clock().Before(*a.CodeExpiresAt) || !a.Done() {
		return AppAuthorization{}, NotFoundError("the code has expired")
	}
	if err := s.store.ClaimAppAuthorizationCode(ctx, a.ID, hashToken(code)); err != nil {
		return AppAuthorization{}, err
	}
	return a, nil
}

// replayedCode revokes the tokens of the authorization whose code was
// used already, when it is one, and returns the NotFound of an unknown
// code either way.
func (s *Service) replayedCode(ctx context.Context, code string) error {
	unknown := NotFoundError("the code is unknown or was used already")
	if code == "" {
		return unknown
	}
	a, err := s.store.FindAppAuthorizationByCode(ctx, usedCodeHash(code))
	if KindOf(err) == NotFound {
		return unknown
	}
	if err != nil {
		return err
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		// The authorization goes first: an exchange of the code still
		// issuing its tokens holds it (issueTokens), so this waits for
		// those tokens and then deletes them too; an exchange that has not
		// got so far finds it gone and issues none. Deleting the family
		// alone let tokens committed a moment later live on.
		if err := tx.RevokeAppAuthorization(ctx, a.ID); err != nil {
			return err
		}
		if err := tx.DeleteAppTokenFamily(ctx, a.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.AccountID, actor: Actor{Source: SourceSystem}, action: "app.code_reused",
			targetType: "user", targetID: a.UserID, data: map[string]any{"client_id": a.ClientID},
		})
	})
	if err != nil {
		return fmt.Errorf("revoke the tokens of a reused code: %w", err)
	}
	return unknown
}

// usedCodeHash is what the store keeps for a code once it is claimed
// (ClaimAppAuthorizationCode).
func usedCodeHash(code string) string { return "used:" + hashToken(code) }

// IssueAppCode records the code handed out for an authorization.
func (s *Service) IssueAppCode(ctx context.Context, id, code string) error {
	return s.store.SetAppAuthorizationCode(ctx, id, hashToken(code), s.clock().Add(AppCodeTTL))
}

// EndAppAuthorization forgets an authorization (its code is exchanged, or
// it failed), so its code can never be used again. One whose code was
// exchanged stays, marked used, until it expires: a replay of the code
// finds it and revokes its tokens (AppAuthorizationByCode).
func (s *Service) EndAppAuthorization(ctx context.Context, id string) error {
	return s.store.DeleteAppAuthorization(ctx, id)
}

// CompleteAppAuthorization decides, for a signed-in visit, which account
// the app signs the person in to and whether it may: an app bound to an
// account serves only that account's members; any other app gets the
// session's account. The membership must be active and the way the person
// signed in must open the account (the trust rules), else Forbidden. The
// authorization is stored then, under a new id, ready for its code.
func (s *Service) CompleteAppAuthorization(ctx context.Context, a AppAuthorization, v Visit) (AppAuthorization, error) {
	if err := s.CheckAppAuthorization(a); err != nil {
		return AppAuthorization{}, err
	}
	app, err := s.App(ctx, a.ClientID)
	if err != nil {
		return AppAuthorization{}, err
	}
	accountID, err := s.appAccount(ctx, app, a, v)
	if err != nil {
		return AppAuthorization{}, err
	}
	err = s.store.Tx(ctx, func(tx Store) error {
		if err := s.enter(ctx, tx, accountID, v.User.ID, v.Session.Credential, v.Session.CreatedAt); err != nil {
			if KindOf(err) == Forbidden && app.AccountID != "" && !errors.Is(err, errSessionsEnded) {
				return ForbiddenError(fmt.Sprintf("%s is only for the members of one organisation, and your sign-in does not open it.", app.Name))
			}
			return err
		}
		authTime := v.Session.CreatedAt
		a.ID, a.UserID, a.AccountID, a.Credential, a.AuthTime = newSecret("", 24), v.User.ID, accountID, v.Session.Credential, &authTime
		if err := tx.CreateAppAuthorization(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: accountID, actor: Actor{Source: SourceUser, ID: v.User.ID, Name: v.User.Email}, action: "app.signed_in",
			targetType: "user", targetID: v.User.ID, data: map[string]any{"client_id": app.ClientID, "app": app.Name},
		})
	})
	if err != nil {
		return AppAuthorization{}, fmt.Errorf("authorize app: %w", s.auditRefusedEntry(ctx, err))
	}
	return a, nil
}

// AccountScopePrefix starts the scope with which an app asks for one
// account: "account:acme". A scope, not a parameter of its own, because
// every OpenID Connect library passes the scopes it is given (several
// pass no extra authorization parameters), and op hands scopes to the
// provider as they came.
const AccountScopePrefix = "account:"

// RequestedAccount returns the slug of the account scopes ask for, or "".
func RequestedAccount(scopes []string) string {
	for _, sc := range scopes {
		if slug, ok := strings.CutPrefix(sc, AccountScopePrefix); ok {
			return slug
		}
	}
	return ""
}

// appAccount decides which account an authorization signs the person in
// to: the app's when it is for one account (and it must be the one the
// app asks for, when it asks); else the account the app asks for (scope
// account:SLUG); else, when the app's login_hint is an email whose domain
// an account verified and the person is an active member there, that
// account (the home realm); else the session's account. Whether the
// person may enter it is enter's decision.
func (s *Service) appAccount(ctx context.Context, app App, a AppAuthorization, v Visit) (string, error) {
	asked := RequestedAccount(a.Scopes)
	var askedID string
	if asked != "" {
		acc, err := s.store.FindAccountBySlug(ctx, asked)
		if KindOf(err) == NotFound {
			return "", ForbiddenError(fmt.Sprintf("%s asked for an organisation (%q) that is not on admit.", app.Name, asked))
		}
		if err != nil {
			return "", err
		}
		askedID = acc.ID
	}
	switch {
	case app.AccountID != "":
		if askedID != "" && askedID != app.AccountID {
			return "", ForbiddenError(fmt.Sprintf("%s is only for the members of one organisation, not %q.", app.Name, asked))
		}
		return app.AccountID, nil
	case askedID != "":
		return askedID, nil
	}
	if email, err := NormalizeEmail(a.LoginHint); err == nil {
		acc, err := s.store.FindAccountByDomain(ctx, emailDomain(email))
		if err == nil {
			m, err := s.store.FindMembership(ctx, acc.ID, v.User.ID)
			if err == nil && m.Status == StatusActive {
				return acc.ID, nil
			}
		} else if KindOf(err) != NotFound {
			return "", err
		}
	}
	return v.Account.ID, nil
}

// AppOffersAccountChoice reports whether the person of v chooses the
// account for an authorization with prompt=select_account (OpenID Connect
// Core section 3.1.2.1: "prompt the End-User to select a user account"):
// a person is one user at admit, and what they select among is the
// accounts they belong to. So when the app leaves the account to them (it
// serves every account and names none with account:SLUG) and their
// sign-in opens more than one; otherwise there is nothing to choose, and
// the request goes on without a page.
func (s *Service) AppOffersAccountChoice(ctx context.Context, a AppAuthorization, v Visit) (bool, error) {
	if asks, err := s.AppAsksAccountChoice(ctx, a); !asks || err != nil {
		return false, err
	}
	accounts, err := s.AccountsOf(ctx, v)
	return len(accounts) > 1, err
}

// AppAsksAccountChoice reports whether the authorization has the person
// choose the account, whoever they are (AppOffersAccountChoice): a
// sign-in for it need not ask them first, or they would be asked twice.
func (s *Service) AppAsksAccountChoice(ctx context.Context, a AppAuthorization) (bool, error) {
	if !a.SelectAccount || RequestedAccount(a.Scopes) != "" {
		return false, nil
	}
	app, err := s.App(ctx, a.ClientID)
	if err != nil {
		return false, err
	}
	return app.AccountID == "", nil
}

// AccountChosen is the authorization once the person has chosen the
// account (AppOffersAccountChoice): the account their session is in is the
// app's (appAccount), ahead of the home realm of a login_hint, which would
// otherwise overrule the choice they were asked for.
func (a AppAuthorization) AccountChosen() AppAuthorization {
	a.SelectAccount, a.LoginHint = false, ""
	return a
}

// AppNeedsSignIn reports whether the visit's sign-in is too old for the
// authorization: with max_age (OIDC Core section 3.1.2.1; prompt=login is
// max_age=0), a sign-in older than that is, unless it was made after the
// request (the one the request asked for), so a fresh sign-in always
// satisfies it and never loops.
func (s *Service) AppNeedsSignIn(a AppAuthorization, v Visit) bool {
	if a.MaxAge == nil || !v.Session.CreatedAt.Before(a.CreatedAt) {
		return false
	}
	return s.clock().Sub(v.Session.CreatedAt) > *a.MaxAge
}

// AppClaims are what an app is told about the person it signed in.
type AppClaims struct {
	// Subject is the user id: stable for the person, whatever their email
	// becomes (OIDC Core section 5.7: never the email).
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	GivenName     string
	FamilyName    string
	Account       AppClaimsAccount
	Role          Role
	Groups        []string
	// AMR is how the person signed in (RFC 8176 values where one fits):
	// "pwd", or the SSO protocol ("saml", "oidc").
	AMR []string
}

// AppClaimsAccount names the account the person signed in to.
type AppClaimsAccount struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// AppClaimsFor returns what the app with clientID is told about a person
// in an account, signed in with cred. It refuses (Forbidden) when the
// membership is no longer active, the credential no longer opens the
// account, or the app is gone, so tokens issued earlier stop yielding
// claims at once.
func (s *Service) AppClaimsFor(ctx context.Context, clientID, userID, accountID string, cred Credential) (AppClaims, error) {
	app, err := s.store.FindAppByClientID(ctx, clientID)
	if KindOf(err) == NotFound {
		return AppClaims{}, ForbiddenError("the app is no longer registered")
	}
	if err != nil {
		return AppClaims{}, err
	}
	return s.appClaimsFor(ctx, app, userID, accountID, cred)
}

// appClaimsFor is AppClaimsFor of an app already read.
func (s *Service) appClaimsFor(ctx context.Context, app App, userID, accountID string, cred Credential) (AppClaims, error) {
	m, err := s.store.FindMembership(ctx, accountID, userID)
	if KindOf(err) == NotFound || err == nil && m.Status != StatusActive {
		return AppClaims{}, ForbiddenError("the person's access to this account has ended")
	}
	if err != nil {
		return AppClaims{}, err
	}
	u, err := s.store.FindUser(ctx, userID)
	if err != nil {
		return AppClaims{}, err
	}
	a, err := s.store.FindAccount(ctx, accountID)
	if err != nil {
		return AppClaims{}, err
	}
	verdict, err := checkEntry(ctx, s.store, a, u, m, cred)
	if err != nil {
		return AppClaims{}, err
	}
	if verdict.refusal != nil {
		return AppClaims{}, ForbiddenError(Message(verdict.refusal))
	}
	return s.appClaims(ctx, app, a, u, m, cred)
}

// appClaims builds what app is told about a membership whose entry with
// cred was checked. Every way an app learns about a person (ID token,
// userinfo, introspection, forward-auth) comes here, so the app's group
// filter is applied here and nowhere else.
func (s *Service) appClaims(ctx context.Context, app App, a Account, u User, m Membership, cred Credential) (AppClaims, error) {
	accountID, userID := a.ID, u.ID
	var err error
	c := AppClaims{
		Subject: u.ID, Email: u.Email, GivenName: u.FirstName, FamilyName: u.LastName,
		Name:    strings.TrimSpace(u.FirstName + " " + u.LastName),
		Account: AppClaimsAccount{ID: a.ID, Slug: a.Slug, Name: a.Title()}, Role: m.Role,
	}
	if c.Groups, err = s.store.FindGroupNamesOfMember(ctx, accountID, userID); err != nil {
		return AppClaims{}, err
	}
	c.Groups = app.GroupFilter.Apply(c.Groups)
	if c.AMR, err = s.AppAMR(ctx, accountID, cred); err != nil {
		return AppClaims{}, err
	}
	switch cred.Method {
	case MethodPassword:
		// A password proves the address only when its holder came through
		// a link mailed to it (an invitation or a reset).
		c.EmailVerified = u.PasswordProven
	case MethodSSO:
		conn, err := s.store.FindConnection(ctx, accountID, cred.ConnectionID)
		if err != nil && KindOf(err) != NotFound {
			return AppClaims{}, err
		}
		if err == nil {
			// The connection may assert only addresses in the account's
			// verified domains it serves: then the address is proven.
			c.EmailVerified = slices.Contains(allowedDomains(a, conn), emailDomain(u.Email))
		}
	}
	return c, nil
}

// AppAMR is the amr claim of a sign-in with cred to the account: "pwd",
// or the protocol of the connection ("saml", "oidc"); nil when the
// connection is gone.
func (s *Service) AppAMR(ctx context.Context, accountID string, cred Credential) ([]string, error) {
	switch cred.Method {
	case MethodPassword:
		return []string{"pwd"}, nil
	case MethodSSO:
		conn, err := s.store.FindConnection(ctx, accountID, cred.ConnectionID)
		if KindOf(err) == NotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []string{string(conn.Protocol)}, nil
	}
	return nil, nil
}

// IssueAppTokens issues an access token for a completed authorization, and
// a refresh token beside it when refresh is set; it returns the access
// token's ID and the refresh token itself.
func (s *Service) IssueAppTokens(ctx context.Context, a AppAuthorization, refresh bool) (AppToken, string, error) {
	now := s.clock()
	// The family is the authorization's id, so that a replayed code
	// finds the tokens issued from it (AppAuthorizationByCode).
	base := AppToken{FamilyID: a.ID, ClientID: a.ClientID, UserID: a.UserID, AccountID: a.AccountID, Scopes: a.Scopes,
		Credential: a.Credential, CreatedAt: now}
	if a.AuthTime != nil {
		base.AuthTime = *a.AuthTime
	}
	return s.issueTokens(ctx, base, nil, refresh, now.Add(AppRefreshTokenTTL), nil, 0)
}

// issueTokens issues an access token of base, with accessScopes when the
// request narrowed them, and a refresh token of base beside it when
// refresh is set: for the refresh token used (a rotation, or a reuse
// within reuse), else for the code of the authorization base.FamilyID.
func (s *Service) issueTokens(ctx context.Context, base AppToken, accessScopes []string, refresh bool, refreshEnd time.Time, used *AppToken, reuse time.Duration) (AppToken, string, error) {
	now := base.CreatedAt
	if _, err := s.AppClaimsFor(ctx, base.ClientID, base.UserID, base.AccountID, base.Credential); err != nil {
		return AppToken{}, "", err
	}
	access := base
	access.ID, access.Kind, access.ExpiresAt = newID(), AccessToken, now.Add(AppAccessTokenTTL)
	if len(accessScopes) > 0 {
		access.Scopes = accessScopes
	}
	var token string
	err := s.store.Tx(ctx, func(tx Store) error {
		if used != nil {
			// The database settles a race between two uses of one refresh
			// token: they take turns on it, and the second finds it used.
			held, err := tx.HoldAppRefreshToken(ctx, used.FamilyID, used.ID)
			if KindOf(err) == NotFound {
				return errRefreshEnded
			} else if err != nil {
				return err
			}
			switch {
			case held.UsedAt == nil:
				// A rotation. Every live token of the family is used up with
				// this one, the ones a reuse issued beside it too: the family
				// goes on as one chain, from the token issued now, and any
				// other token of it is stale from now on.
				if err := tx.UseAppTokenFamily(ctx, used.FamilyID, now); err != nil {
					return err
				}
			case reusable(*held.UsedAt, now, reuse):
				// A reuse: the app presents the token it rotated a moment
				// ago (two of its tabs or replicas refreshed at once, or the
				// answer was lost). The new refresh token is one more live
				// token of the family, beside the one the rotation issued:
				// the next rotation, of either, uses up both.
			default:
				return errReplayed
			}
		} else {
			// A code's tokens (their family is its authorization): the
			// authorization is held until they are stored, so that a replay
			// of the code or the end of the person's access (endAppAccess),
			// both of which delete it first, either finds the tokens or
			// leaves none to issue.
			if err := tx.HoldAppAuthorization(ctx, base.FamilyID); KindOf(err) == NotFound {
				return errCodeEnded
			} else if err != nil {
				return err
			}
			if err := tx.RecordAppSignIn(ctx, base.ClientID, base.AccountID, base.UserID, base.AuthTime, now, now.Add(SessionMaxAge)); err != nil {
				// The app may keep its own session as long as admit's longest:
				// until then, it is told if the membership ends.
				return err
			}
		}
		if err := tx.CreateAppToken(ctx, access); err != nil {
			return err
		}
		if !refresh {
			return nil
		}
		token = newSecret("admit_refresh_", 32)
		r := base
		r.ID, r.Kind, r.Hash, r.ExpiresAt = newID(), RefreshToken, hashToken(token), refreshEnd
		return tx.CreateAppToken(ctx, r)
	})
	switch err {
	case nil:
		return access, token, nil
	case errReplayed:
		return AppToken{}, "", s.revokeFamily(ctx, *used)
	case errCodeEnded, errRefreshEnded:
		return AppToken{}, "", err
	}
	return AppToken{}, "", fmt.Errorf("issue app tokens: %w", err)
}

// reusable reports whether a refresh token used (rotated) at usedAt may
// be presented again at now, under the app's reuse interval.
func reusable(usedAt, now time.Time, reuse time.Duration) bool {
	return reuse > 0 && !now.After(usedAt.Add(reuse))
}

var (
	errReplayed     = UnauthenticatedError("the refresh token was used already")
	errRefreshEnded = UnauthenticatedError("unknown refresh token")
	errCodeEnded    = NotFoundError("the code is unknown or was used already")
)

// revokeFamily ends every token of a refresh token's family: a used
// refresh token presented again after the app's reuse interval means two
// parties hold it (OAuth 2.0 Security BCP section 4.14.2), and neither
// can be told from the thief.
func (s *Service) revokeFamily(ctx context.Context, t AppToken) error {
	err := s.store.Tx(ctx, func(tx Store) error {
		if err := tx.DeleteAppTokenFamily(ctx, t.FamilyID); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: t.AccountID, actor: Actor{Source: SourceSystem}, action: "app.refresh_token_reused",
			targetType: "user", targetID: t.UserID, data: map[string]any{"client_id": t.ClientID, "family_id": t.FamilyID},
		})
	})
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return errReplayed
}

// AppRefreshToken returns the refresh token with that value, live, or
// rotated within its app's reuse interval (RotateAppRefreshToken decides
// again, in its transaction); a token rotated before that revokes its
// whole family and is refused. The caller checks that it is the token's
// client presenting it.
func (s *Service) AppRefreshToken(ctx context.Context, token string) (AppToken, error) {
	t, err := s.AppRefreshTokenForRevocation(ctx, token)
	if err != nil {
		return AppToken{}, err
	}
	if t.UsedAt != nil {
		app, err := s.store.FindAppByClientID(ctx, t.ClientID)
		if err != nil && KindOf(err) != NotFound {
			return AppToken{}, err
		}
		if err != nil || !reusable(*t.UsedAt, s.clock(), app.RefreshReuseInterval) {
			return AppToken{}, s.revokeFamily(ctx, t)
		}
	}
	if !s.clock().Before(t.ExpiresAt) {
		return AppToken{}, UnauthenticatedError("the refresh token has expired")
	}
	return t, nil
}

// AppRefreshTokenForRevocation finds a refresh token by its value, used or
// not: revoking a token is not using it.
func (s *Service) AppRefreshTokenForRevocation(ctx context.Context, token string) (AppToken, error) {
	t, err := s.store.FindAppTokenByHash(ctx, hashToken(token))
	if KindOf(err) == NotFound || err == nil && t.Kind != RefreshToken {
		return AppToken{}, UnauthenticatedError("unknown refresh token")
	}
	return t, err
}

// RotateAppRefreshToken exchanges a refresh token for a new access token
// and a new refresh token of the same family, ending at the family's end.
// The old one is used up. Presented again within the app's reuse interval
// (App.RefreshReuseInterval), by the app, it is answered as the first
// time (the grace period Okta, Auth0, Keycloak and Cognito offer apps
// that refresh concurrently or retry): with new tokens of the family, the
// refresh token live as long as the one its rotation issued. Presented
// after the interval it revokes the family, as does any token of the
// family made stale by a later rotation. scopes, when the request asked
// for fewer, narrow the access token only: the new refresh token keeps
// the old one's (RFC 6749 section 6: "the refresh token scope MUST be
// identical to that of the refresh token included by the client in the
// request"), so a later refresh may ask for all again.
func (s *Service) RotateAppRefreshToken(ctx context.Context, old AppToken, scopes []string) (AppToken, string, error) {
	app, err := s.store.FindAppByClientID(ctx, old.ClientID)
	if KindOf(err) == NotFound {
		return AppToken{}, "", ForbiddenError("the app is no longer registered")
	}
	if err != nil {
		return AppToken{}, "", err
	}
	base := old
	base.CreatedAt, base.UsedAt, base.Hash = s.clock(), nil, ""
	return s.issueTokens(ctx, base, scopes, true, old.ExpiresAt, &old, app.RefreshReuseInterval)
}

// AppAccessToken returns a live access token by ID.
func (s *Service) AppAccessToken(ctx context.Context, id string) (AppToken, error) {
	t, err := s.store.FindAppToken(ctx, id)
	if KindOf(err) == NotFound || err == nil && (t.Kind != AccessToken || !s.clock().Before(t.ExpiresAt)) {
		return AppToken{}, UnauthenticatedError("the access token is not valid")
	}
	return t, err
}

// RevokeAppToken ends a token and its family (RFC 7009 section 2.1: revoking
// a refresh token should revoke the access tokens of the same grant).
func (s *Service) RevokeAppToken(ctx context.Context, t AppToken) error {
	return s.store.DeleteAppTokenFamily(ctx, t.FamilyID)
}

// EndAppSignIn ends the tokens a person's sign-in that began at authTime
// gave an app: RP-initiated logout with an id_token_hint. The hint is an
// ID token, which travels in logout URLs (browser history, server logs,
// Referer), so it vouches for its own sign-in only: one taken from the
// laptop's history must not end the tokens the person's phone holds at
// the same app. authTime is the hint's auth_time, in whole seconds.
//
// The sign-in stays recorded (AppSignIns): whoever holds the ID token can
// send this request, not only the app, so it must not spare the app's
// session the back-channel logout when the membership ends. An app that
// did end it hears of a session it no longer has, and answers as for any
// unknown sid.
func (s *Service) EndAppSignIn(ctx context.Context, userID, clientID string, authTime time.Time) error {
	from := authTime.Truncate(time.Second)
	return s.store.DeleteAppTokensOfSignIn(ctx, userID, clientID, from, from.Add(time.Second))
}
