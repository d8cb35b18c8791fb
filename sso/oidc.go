package sso

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// OIDCURLs returns what an OpenID provider's admin needs of an OIDC
// connection: the redirect URI to register, the initiate-login URI for
// intranet tiles started at the provider, and the intranet link.
func OIDCURLs(baseURL, accountSlug, connectionName string) URLs {
	base := strings.TrimSuffix(baseURL, "/") + "/sso/" + url.PathEscape(accountSlug)
	conn := base + "/oidc/" + url.PathEscape(connectionName)
	return URLs{RedirectURI: conn + "/callback", InitiateLoginURI: conn + "/initiate", IntranetURL: base + "/login"}
}

// ConnectionURLs returns the URLs of a connection of either protocol.
func ConnectionURLs(baseURL, accountSlug string, c directory.Connection) URLs {
	if c.Protocol == directory.ProtocolOIDC {
		return OIDCURLs(baseURL, accountSlug, c.Name)
	}
	return SAMLURLs(baseURL, accountSlug, c.Name)
}

// discoveryLifetime is how long a provider's discovery document is used
// before it is read again; its signing keys are re-read whenever a token
// names a key not seen yet.
const discoveryLifetime = time.Hour

type discovered struct {
	issuer string
	p      *oidc.Provider
	at     time.Time
}

// providers caches each OIDC connection's discovered provider, so a login
// costs no discovery round trip.
type providers struct {
	mu sync.Mutex
	m  map[string]discovered
}

// provider returns the connection's provider, discovering it when it is
// not known or its discovery is older than discoveryLifetime. A failed
// rediscovery keeps the last good one: a provider's hiccup should not stop
// logins that its keys can still verify.
func (h *Handler) provider(ctx context.Context, c directory.Connection) (*oidc.Provider, error) {
	issuer := c.Settings.OIDC.Issuer
	h.oidc.mu.Lock()
	d, ok := h.oidc.m[c.ID]
	h.oidc.mu.Unlock()
	ok = ok && d.issuer == issuer
	if ok && time.Since(d.at) < discoveryLifetime {
		return d.p, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.client), issuer)
	if err != nil {
		if ok {
			h.log.WarnContext(ctx, "OIDC rediscovery failed; using the last good configuration", "connection", c.ID, "issuer", issuer, "err", err)
			return d.p, nil
		}
		return nil, fmt.Errorf("discover %s: %w", issuer, err)
	}
	h.oidc.mu.Lock()
	if h.oidc.m == nil {
		h.oidc.m = map[string]discovered{}
	}
	h.oidc.m[c.ID] = discovered{issuer: issuer, p: p, at: time.Now()}
	h.oidc.mu.Unlock()
	return p, nil
}

// oauthConfig is the connection's OAuth 2.0 client, its secret unsealed.
func (h *Handler) oauthConfig(a directory.Account, c directory.Connection, p *oidc.Provider) (*oauth2.Config, error) {
	if h.secrets == nil {
		return nil, errors.New("no key to open client secrets with")
	}
	secret, err := h.secrets.Open(c.SealedSecret, directory.ClientSecretPurpose(a.ID, c.Name))
	if err != nil {
		return nil, fmt.Errorf("open client secret of connection %s: %w", c.Name, err)
	}
	scopes := c.Settings.OIDC.Scopes
	if len(scopes) == 0 {
		scopes = []string{"email", "profile"}
	}
	return &oauth2.Config{
		ClientID: c.Settings.OIDC.ClientID, ClientSecret: string(secret), Endpoint: p.Endpoint(),
		RedirectURL: OIDCURLs(h.base, a.Slug, c.Name).RedirectURI,
		Scopes:      append([]string{oidc.ScopeOpenID}, slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == oidc.ScopeOpenID })...),
	}, nil
}

// startOIDC sends the browser to the provider's authorization endpoint
// (code flow with PKCE), remembering state, nonce and verifier in this
// browser (a sealed cookie) so the callback may reach any replica.
func (h *Handler) startOIDC(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, returnTo, loginHint, test string) error {
	ctx := r.Context()
	if c.Settings.OIDC == nil {
		return fmt.Errorf("OIDC connection %s has no provider settings", c.ID)
	}
	p, err := h.provider(ctx, c)
	if err != nil {
		h.fail(w, r, a, &c, refuse(http.StatusBadGateway, "Your organisation's identity provider cannot be reached. Please try again in a moment.",
			"admit cannot read the OpenID configuration of connection "+c.Name+" at "+c.Settings.OIDC.Issuer, err), attempt{})
		return nil
	}
	cfg, err := h.oauthConfig(a, c, p)
	if err != nil {
		return err
	}
	now := h.now()
	st := pending{ID: randomToken(), Connection: c.ID, ReturnTo: returnTo, Test: test, Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Expires: now.Add(directory.SSORequestLifetime)}
	if err := h.pending.start(w, r, st, now); err != nil {
		return fmt.Errorf("remember OIDC state: %w", err)
	}
	state := st.ID
	opts := []oauth2.AuthCodeOption{oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)}
	if loginHint = strings.TrimSpace(loginHint); loginHint != "" && len(loginHint) <= 320 {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	http.Redirect(w, r, cfg.AuthCodeURL(state, opts...), http.StatusFound)
	return nil
}

// handleInitiate is third-party initiated login (OIDC Core 4): the
// provider's portal or an intranet tile sends the browser here with the
// issuer, and admit starts an ordinary code flow.
func (h *Handler) handleInitiate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, c, err := h.connectionAt(ctx, r, directory.ProtocolOIDC)
	if err != nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return directory.InvalidError("The sign-in link could not be read.")
	}
	if iss := r.Form.Get("iss"); strings.TrimSuffix(iss, "/") != strings.TrimSuffix(c.Settings.OIDC.Issuer, "/") {
		h.fail(w, r, a, &c, refuse(http.StatusBadRequest, "This sign-in link does not come from your organisation's identity provider.",
			"the initiate-login request names issuer "+strconv.Quote(iss)+", not "+c.Settings.OIDC.Issuer,
			fmt.Errorf("initiate login from issuer %q", iss)), attempt{})
		return nil
	}
	return h.startOIDC(w, r, a, c, h.returnTo(c, r.Form.Get("target_link_uri")), r.Form.Get("login_hint"), "")
}

// handleCallback takes the provider's answer at the redirect URI.
func (h *Handler) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, c, err := h.connectionAt(ctx, r, directory.ProtocolOIDC)
	if err != nil {
		status := http.StatusInternalServerError
		if directory.KindOf(err) == directory.NotFound {
			status = http.StatusNotFound
		}
		h.fail(w, r, a, nil, refuse(status, "This sign-in link is not set up in admit.", "the redirect URI names no OIDC connection: check the redirect URI registered at the provider", err), attempt{})
		return
	}
	var at attempt
	if rf := h.callback(w, r, a, c, &at); rf != nil {
		h.fail(w, r, a, &c, rf, at)
	}
}

// Messages of the callback's refusals.
const (
	notAccepted    = "Your organisation's identity provider sent a sign-in that admit cannot accept."
	startAgain     = "This sign-in was not started in this browser, or took too long. Please start again from your company's link."
	ourFault       = "Something went wrong on our side. Please try again in a moment."
	providerFailed = "Your organisation's identity provider did not complete the sign-in. Please try again in a moment."
)

func (h *Handler) callback(w http.ResponseWriter, r *http.Request, a directory.Account, c directory.Connection, at *attempt) *refusal {
	ctx := r.Context()
	q := r.URL.Query()
	forAdmin := "admit refused the sign-in of connection " + c.Name + "; the reference identifies the reason in its login log"
	// The browser gives up the pending sign-in first, whatever the answer:
	// it may be tried once from this browser. Its single use everywhere is
	// recorded once the answer is verified, below.
	req, err := h.pending.take(w, r, c, q.Get("state"), false, h.now())
	answer := ""
	if e := q.Get("error"); e != "" {
		answer = clipText(e, 100) + ": " + clipText(q.Get("error_description"), 300)
	}
	switch {
	case err != nil:
		// Not this browser's sign-in: whatever it says is nobody's word,
		// and is not shown on the page.
		reason := fmt.Errorf("state %q %w", clipText(q.Get("state"), 80), err)
		if answer != "" {
			reason = fmt.Errorf("%w (it carries the error %s)", reason, answer)
		}
		return refuse(http.StatusForbidden, startAgain, "", reason)
	}
	at.Test, at.testReturn = req.Test != "", req.ReturnTo
	switch {
	case answer != "":
		return refuse(http.StatusForbidden, "Your organisation's identity provider did not sign you in.",
			"the provider answered "+answer, fmt.Errorf("the provider answered %s", answer))
	}
	// RFC 9207: a provider that names itself in the answer must be this
	// connection's, or the answer was meant for another (a mix-up).
	if iss := q.Get("iss"); iss != "" && strings.TrimSuffix(iss, "/") != strings.TrimSuffix(c.Settings.OIDC.Issuer, "/") {
		return refuse(http.StatusForbidden, notAccepted, forAdmin, fmt.Errorf("the answer comes from issuer %q, not %q", clipText(iss, 200), c.Settings.OIDC.Issuer))
	}
	code := q.Get("code")
	if code == "" {
		return refuse(http.StatusBadRequest, "The sign-in response is missing.", "the provider redirected back with no code", errors.New("no code in the callback"))
	}
	if req.Nonce == "" || req.Verifier == "" {
		return refuse(http.StatusForbidden, startAgain, "", fmt.Errorf("state %q: the pending sign-in is not an OIDC one", clipText(req.ID, 80)))
	}
	p, err := h.provider(ctx, c)
	if err != nil {
		return refuse(http.StatusBadGateway, providerFailed, "admit cannot read the OpenID configuration of connection "+c.Name, err)
	}
	cfg, err := h.oauthConfig(a, c, p)
	if err != nil {
		return refuse(http.StatusInternalServerError, ourFault, "", err)
	}
	octx := oidc.ClientContext(ctx, h.client)
	tok, err := cfg.Exchange(octx, code, oauth2.VerifierOption(req.Verifier))
	if err != nil {
		return refuse(http.StatusBadGateway, providerFailed, "the provider refused to exchange the code: check the client id and secret of connection "+c.Name,
			fmt.Errorf("token request: %s", tokenError(err)))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse(http.StatusBadGateway, providerFailed, "the provider's token response has no ID token: is the openid scope allowed for the client?", errors.New("no id_token in the token response"))
	}
	idt, claims, err := h.verifyIDToken(ctx, p, c, raw, req.Nonce)
	if err != nil {
		if claims != nil {
			at.Claims = jsonClaims(claims)
		}
		return refuse(http.StatusForbidden, notAccepted, forAdmin, err)
	}
	// The code was exchanged and the ID token verified: this is the
	// provider's own answer, and the state is used up, on every replica.
	at.verified = true
	if err := h.dir.FinishSSO(ctx, c, req.ID, req.Expires); directory.KindOf(err) == directory.Conflict {
		return refuse(http.StatusForbidden, "This sign-in was already used. Please start again from your company's link.", "",
			fmt.Errorf("state %q: %w", clipText(req.ID, 80), err))
	} else if err != nil {
		return refuse(http.StatusInternalServerError, ourFault, "", err)
	}
	at.Subject = idt.Subject
	if needsUserInfo(claims, c.Settings.Mapping) && p.UserInfoEndpoint() != "" {
		if err := userInfo(octx, p, tok, idt.Subject, claims); err != nil {
			return refuse(http.StatusBadGateway, providerFailed, "admit could not read the person's claims from the provider's userinfo endpoint", err)
		}
	}
	at.Claims = jsonClaims(claims)
	// The state was single use already; remembering the token too refuses
	// the same ID token at any replica even if a state were ever reused.
	sum := sha256.Sum256([]byte(raw))
	if err := h.dir.AcceptAssertionOnce(ctx, c, "oidc:"+hex.EncodeToString(sum[:]), idt.Expiry); err != nil {
		if directory.KindOf(err) == directory.Conflict {
			at.verified = false // a copy of an answer already logged
			return refuse(http.StatusForbidden, "This sign-in was already used. Please start again from your company's link.", "", err)
		}
		return refuse(http.StatusInternalServerError, ourFault, "", err)
	}
	id, err := oidcIdentity(a, c, idt.Subject, claims, at.Claims)
	if err != nil {
		at.Identity = &id
		return refuse(http.StatusForbidden, "Your organisation's identity provider did not send an email address admit can trust.",
			"the ID token of connection "+c.Name+": "+directory.Message(err), err)
	}
	if at.Test {
		return h.trySignIn(w, r, a, c, id, *at)
	}
	return h.signIn(w, r, a, c, directory.BySSO(c), id, *at, req.ReturnTo)
}

// verifyIDToken checks what go-oidc checks (signature with the provider's
// keys and one of its algorithms, never none; issuer; audience; expiry)
// and what it leaves to the caller: the nonce, the authorized party when
// there are several audiences, and an issue time not in the future.
func (h *Handler) verifyIDToken(ctx context.Context, p *oidc.Provider, c directory.Connection, raw, nonce string) (*oidc.IDToken, map[string]any, error) {
	now := h.now()
	v := p.Verifier(&oidc.Config{ClientID: c.Settings.OIDC.ClientID, Now: func() time.Time { return now }})
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("ID token: %w", err)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, fmt.Errorf("ID token claims: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, claims, errors.New("the ID token's nonce is not the one this sign-in sent")
	}
	azp, _ := claims["azp"].(string)
	if (len(idt.Audience) > 1 || azp != "") && azp != c.Settings.OIDC.ClientID {
		return nil, claims, fmt.Errorf("the ID token was issued to %q (azp), not to this client", azp)
	}
	if idt.IssuedAt.After(now.Add(c.ClockSkew())) {
		return nil, claims, fmt.Errorf("the ID token is issued in the future (%s)", idt.IssuedAt.Format(time.RFC3339))
	}
	if strings.TrimSpace(idt.Subject) == "" {
		return nil, claims, errors.New("the ID token has no subject")
	}
	return idt, claims, nil
}

// needsUserInfo says whether the ID token lacks what a login needs: many
// providers put only the subject in the ID token and the rest behind the
// userinfo endpoint. A claim the connection maps explicitly counts too.
func needsUserInfo(claims map[string]any, m directory.AttributeMapping) bool {
	has := func(name string) bool { _, ok := claims[name]; return ok }
	if !has("email") || !(has("name") || has("given_name")) {
		return true
	}
	for _, name := range []string{m.Email, m.FirstName, m.LastName, m.DisplayName, m.Groups} {
		if name != "" && name != directory.NameIDClaim && !has(name) {
			return true
		}
	}
	return false
}

// userInfo adds the userinfo endpoint's claims that the ID token lacks;
// the ID token's own win. Its subject must be the ID token's (OIDC Core
// 5.3.2): a mismatch means the response is not about this person.
func userInfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, subject string, claims map[string]any) error {
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	if ui.Subject != subject {
		return fmt.Errorf("userinfo is about subject %q, the ID token about %q", ui.Subject, subject)
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return fmt.Errorf("userinfo claims: %w", err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// jsonClaims turns JSON claims into directory claims: strings, numbers and
// booleans as text, arrays of them as several values; objects are left out.
func jsonClaims(in map[string]any) directory.Claims {
	out := directory.Claims{}
	for k, v := range in {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if s, ok := scalar(e); ok {
					out.Add(k, s)
				}
			}
		default:
			if s, ok := scalar(v); ok {
				out.Add(k, s)
			}
		}
	}
	return out
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// googleIssuer is Google's; its hd claim names the Workspace domain.
const googleIssuer = "https://accounts.google.com"

// oidcIdentity maps the claims to an identity and decides whether the
// email may be believed (see directory.EmailTrust). The domain rule is
// kept by SignInWithSSO in any case.
func oidcIdentity(a directory.Account, c directory.Connection, subject string, raw map[string]any, claims directory.Claims) (directory.Identity, error) {
	o := c.Settings.OIDC
	m := c.Settings.Mapping
	trust := o.Trust()
	if trust == directory.EmailDomain && m.Email == "" && claims["email"] == nil {
		// Entra ID sends an email only for people with a mailbox; the
		// username (UPN) is in one of the tenant's verified domains.
		m.Email = "preferred_username"
	}
	id, err := directory.MapClaims(subject, claims, m)
	if err != nil {
		return id, err
	}
	id.Lasting = true // a sub is never reassigned (OIDC Core 2)
	verified, stated := boolClaim(raw["email_verified"])
	switch {
	case trust == directory.EmailVerified && !strings.EqualFold(id.From["email"], "email"):
		return id, directory.ForbiddenError(fmt.Sprintf("email_verified vouches only for the email claim, and the email came from %s; trust it with --email-trust domain if the provider's tenant is the company's own", id.From["email"]))
	case trust == directory.EmailVerified && !verified:
		return id, directory.ForbiddenError("the provider does not say the email is verified (email_verified is not true); for Entra ID use --email-trust domain")
	case stated && !verified:
		return id, directory.ForbiddenError("the provider says the email is not verified (email_verified is false)")
	}
	if edov, ok := boolClaim(raw["xms_edov"]); ok && !edov {
		// Entra ID's optional claim: is the email's domain verified by
		// the person's tenant?
		return id, directory.ForbiddenError("Entra ID says the email's domain is not verified by the tenant (xms_edov is false)")
	}
	if strings.TrimSuffix(o.Issuer, "/") == googleIssuer {
		// Any Google account can have a verified address of a company
		// domain (a personal account made before the company used Google);
		// only the hd claim says the account is the company's.
		hd, _ := raw["hd"].(string)
		if !slices.Contains(c.AllowedDomains(a), strings.ToLower(hd)) {
			return id, directory.ForbiddenError(fmt.Sprintf("the Google account is not one of %s's Google Workspace (hd %q)", a.Title(), hd))
		}
	}
	return id, nil
}

// boolClaim reads a boolean claim, which some providers send as a string.
// ok says whether the claim was there.
func boolClaim(v any) (value, ok bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b && err == nil, true
	}
	return false, false
}

// tokenError says why a token request failed: the status and the OAuth
// error code, which is all the guarded client passes on of an error
// answer (never its body, nor an error_description the server wrote).
func tokenError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Sprintf("%d %s", re.Response.StatusCode, re.ErrorCode)
		}
		return fmt.Sprintf("the provider answered %d", re.Response.StatusCode)
	}
	return err.Error()
}

// clipText shortens text that came from outside for a log line.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
