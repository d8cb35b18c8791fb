// Package gate hands the person signed in to admit to the platform's apps
// that speak no OpenID Connect: forward-auth for a reverse proxy in front
// of the app (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth,
// Envoy ext_authz over HTTP), and admit itself as the reverse proxy in
// front of one app (admit serve --upstream).
//
// Which app a request is for is the directory's decision
// (directory.Service.ForwardAuthApp: the app registered for the request's
// host and longest path prefix), and so is what the app is told
// (directory.Service.ForwardAuth, the provider's claims). This package
// reads the original request from the proxy's X-Forwarded-* headers,
// writes the identity headers and signs the X-Admit-Jwt token (ES256, with
// the keys of certs.TokenKeys: the provider's JWKS verifies it).
//
// The session is admit's session cookie, so the browser must send it with
// the app's requests: the proxy serves admit's sign-in paths on the app's
// host too (or the app sits under a path prefix on admit's own host), and
// the sign-in redirect goes to /login on the app's host, which must be a
// registered one. A host nobody registered gets 403, never a redirect.
//
// The answer for a session at an app, and the apps of a registered host,
// are kept for at most FreshFor (half a second) per replica, so that a
// deactivated membership, an ended session or a removed app loses access
// within a second everywhere while a page's burst of requests costs one
// look-up.
//
// Routes:
//
//	GET /auth/verify               forward-auth: 200 with the identity headers, or 401 with the
//	                               sign-in URL in Location (nginx), or with ?redirect=1 a 302 to it
//	                               (Traefik, Caddy); 403 for a host nobody registered or a person
//	                               the app's account refuses
//	GET /auth/verify/{path...}     the same, for Envoy ext_authz (path_prefix: /auth/verify)
//	/                              with an upstream: every path admit does not serve itself
package gate
