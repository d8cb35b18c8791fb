// Package sso signs people in through their company's identity provider
// and hands what the provider asserted to the directory, which decides
// (just-in-time provisioning, directory.SignInWithSSO).
//
// Routes (Register):
//
//	GET  /sso/{account}/login                      the intranet link: starts the account's SSO
//	GET  /sso/{account}/saml/{connection}/metadata the SP metadata for the identity provider
//	POST /sso/{account}/saml/{connection}/acs      the assertion consumer service
//	GET  /sso/{account}/oidc/{connection}/callback the OIDC redirect URI
//	GET, POST /sso/{account}/oidc/{connection}/initiate  OIDC third-party initiated login
//
// SAML (saml.go). What this package adds to crewjam/saml, which verifies the XML
// signatures and decrypts: an AudienceRestriction naming this connection is
// required; a bearer SubjectConfirmation is required; an InResponseTo must
// answer a request that this browser started at this connection (the
// request state is in the database, bound to a SameSite=None cookie so that
// it survives the provider's cross-site POST and any replica can finish
// the login); a response without one is accepted only where IdP-initiated
// login is allowed; each assertion id is accepted once (database replay
// cache); validity windows are checked with the connection's clock skew;
// RelayState is only ever a local path.
//
// OIDC (oidc.go), with go-oidc and x/oauth2: the code flow with PKCE, the
// state, nonce and verifier kept like SAML's pending requests; go-oidc
// verifies the ID token's signature, issuer, audience and expiry, and this
// package the nonce, azp, issue time and an RFC 9207 iss; the email is
// believed only as the connection's EmailTrust allows (email_verified, or
// a single-tenant issuer with the domain rule; Google's hd).
//
// Everything this package fetches (metadata and its refresh, refresh.go;
// OpenID discovery, keys, token and userinfo) goes through the guarded
// client of package fetch, which owns the outbound rules. A refresh that
// changes a provider's signing certificates is the directory's to audit:
// this package hands it their fingerprints (SigningFingerprints).
//
// A refused login shows a page with a reference and little else; the
// typed reason goes to the log and to the connection's login log.
package sso
