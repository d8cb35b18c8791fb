// Package provider is admit as an OpenID Provider for the platform's apps:
// an app with any OpenID Connect library signs its users in through admit,
// whichever way they sign in to admit (password, invitation, their
// account's SSO).
//
// The protocol is zitadel's certified op package; this package gives it
// its Storage over directory.Service, which decides everything about the
// people: which account the app signs them in to, whether their membership
// lets it, what the app is told (directory.AppClaims), and the life of
// codes and tokens (kept in the database, so any replica serves any step).
// Tokens are signed with the keys of certs.TokenKeys: ID tokens with
// RS256 (OpenID Connect's default, which every library accepts); the JWKS
// publishes every published ES256 and RS256 key.
//
// What the app gets: the authorization code flow only (no implicit or
// hybrid flows, no form_post: admit's pages allow no inline script), PKCE
// with S256 (required of public apps), client_secret_basic and
// client_secret_post, refresh tokens with rotation (a rotated refresh
// token presented again after the app's reuse interval revokes its whole
// family: directory.Service.RotateAppRefreshToken), userinfo, revocation,
// RP-initiated logout to a registered post_logout_redirect_uri (the
// admit session ends unasked only for an id_token_hint of its own
// sign-in: handleEndSession), and
// Back-Channel Logout 1.0: when a membership ends, the directory queues a
// logout for each of the person's sessions at each app they signed in to
// (in the same transaction), and the Notifier delivers the logout tokens
// through package fetch, each naming its session by the sid its ID tokens
// carry (directory.AppSessionID).
// A code presented twice ends the tokens issued from it (RFC 6749 section
// 4.1.2). The app may ask for an account with the scope account:SLUG, or
// by a login_hint in an account's verified domain (the directory decides:
// directory.RequestedAccount); prompt=login and max_age send the person to
// sign in again, prompt=none answers login_required instead;
// prompt=select_account shows a person in several accounts the account
// chooser when the app leaves the account to them
// (directory.Service.AppOffersAccountChoice), once: the sign-in before it
// does not show it too (ChoosesAccount); prompt=consent asks nothing
// (apps are the operator's: there is no consent page).
//
// An authorization request writes nothing until the person has signed in:
// op's request id is the request itself, sealed with a key of this
// package, carried by the sign-in URL through /login and back (DESIGN rule
// 12). op's own authorize callback is not served: the code goes out only
// in the answer to the browser that signed in.
//
// What op does not do as an app's library expects, this package does
// around it: the app's redirect URIs, and its post-logout redirect URIs,
// are matched by the directory's rule, exactly but for the port of a
// loopback IP literal (authorize.go, validateEndSession), and every
// authorization response names the issuer (RFC 9207) (authorize.go);
// discovery lists only what is served (handleDiscovery);
// introspection takes client_secret_post; errors at introspection and
// userinfo are OAuth JSON with their WWW-Authenticate challenges
// (writeOAuthError), and a storage fault at introspection is an error, not
// an inactive token (introspectionFaults); grants discovery does not list
// are refused before op reads them, and so are a code_verifier RFC 7636
// does not allow (wellFormedVerifier) and a code exchange without
// redirect_uri (redirectURIRequired); every error_description is
// printable ASCII (oauthText); expires_in is rounded, not cut
// (expiresInRounded); a scope without openid is
// invalid_scope (requireOpenID); codes, secrets and tokens are taken only from a form body or
// the Authorization header, never a URL, and the answers that carry them
// are not to be cached (appTransport). op logs through slog's default logger only: LogHandler,
// installed by main, brings its lines into the provider's logger.
//
// Routes (the issuer is ADMIT_BASE_URL):
//
//	GET  /.well-known/openid-configuration  discovery
//	GET  /oauth/keys                        the JWKS
//	GET  /oauth/authorize                   authorization request (op)
//	GET  /oauth/authorize/continue?id=      sign-in: sends a browser without a session to /login and back,
//	                                        then answers the app with a code or an error
//	POST /oauth/token                       code and refresh token exchange (op)
//	GET  /oauth/userinfo, POST              the claims, for an access token (op)
//	POST /oauth/revoke                      token revocation, RFC 7009 (op)
//	POST /oauth/introspect                  token introspection, RFC 7662 (op)
//	GET  /oauth/end_session, POST           RP-initiated logout; with a valid id_token_hint of the
//	                                        browser's person and sign-in it also ends the admit
//	                                        session, otherwise it asks the person first
//	POST /oauth/end_session/confirm         the person's answer: ends the admit session (CSRF-guarded)
package provider
