// Package sso signs people in through their company's identity provider
// and hands what the provider asserted to the directory, which decides
// (just-in-time provisioning, directory.SignInWithSSO).
//
// Routes (Register):
//
//	GET  /sso/{account}/login                      the intranet link: starts the account's SSO
//	GET  /sso/{account}/test                       an admin's Test sign-in (test.go): a real login that changes nothing
//	GET  /sso/{account}/saml/{connection}/metadata the SP metadata for the identity provider
//	POST /sso/{account}/saml/{connection}/acs      the assertion consumer service
//	GET, POST /sso/{account}/saml/{connection}/slo single logout (HTTP-Redirect, HTTP-POST)
//	GET  /sso/{account}/oidc/{connection}/callback the OIDC redirect URI
//	GET, POST /sso/{account}/oidc/{connection}/initiate  OIDC third-party initiated login
//
// SAML (saml.go). Before crewjam sees a response or metadata, a streaming
// check bounds its size, depth, element and attribute counts and refuses
// DTDs and processing instructions (xmlbounds.go). What this package adds to
// crewjam/saml, which verifies the XML signatures and decrypts: an
// AudienceRestriction naming this connection is required; a bearer
// SubjectConfirmation is required; an InResponseTo must answer a request
// that this browser started at this connection (pending.go: the request is
// sealed into a SameSite=None cookie, so starting a login writes no row,
// the cookie survives the provider's cross-site POST, and any replica can
// finish the login); each request is answered once and each assertion id
// accepted once (database replay cache, written only after the signature
// was verified); a response without InResponseTo is accepted only where
// IdP-initiated login is allowed; validity windows are checked with the
// connection's clock skew; RelayState is only ever a local path.
//
// SAML single logout (slo.go): the provider's LogoutRequest, believed only
// when signed by one of the connection's signing certificates (the query's
// signature with HTTP-Redirect, the XML's through goxmldsig with HTTP-POST),
// issued by it, addressed here, fresh and used once, ends the sessions the
// connection's sign-ins opened for its NameID (directory.EndSAMLSessions)
// and is answered with a signed LogoutResponse; a person signing out of
// admit from such a session is sent on to the provider (ContinueLogout,
// called by package login), the LogoutRequest remembered in the browser as
// a sign-in is, and the provider's answer lands on the signed-out page.
// The messages are crewjam's types, signed with crewjam's signing context.
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
// A SAML connection may wait for its identity provider's metadata (made
// first, so the provider's admin gets admit's URLs): its SP metadata is
// served, its intranet link shows a page saying single sign-on is not
// finished (409), and its ACS refuses every post unread (409, noted in the
// login log as unverified). The directory decides what waiting means
// (directory.Connection.State).
//
// A refused login shows a page with a reference and little else; the
// typed reason goes to the log and to the connection's login log, which
// keeps answers it could verify apart from those anyone could have sent.
package sso
