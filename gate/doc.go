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
// The session is admit's session cookie, and a cookie belongs to one
// host. An app on admit's own host (a path prefix there, or admit as the
// proxy) shares it: the sign-in redirect goes to /login and back. An app
// on another host gets the browser by a hand-off (handoff.go, and
// directory's handoff.go): a nonce on the app's host, sign-in on admit's
// host (where single sign-on ends), then a single-use code bound to the
// app, the URL and the nonce that opens a session on the app's host. The
// proxy serves admit's /login paths on the app's host for this. A host
// nobody registered gets 403, never a redirect.
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
//	                               the app's account refuses; 400 for an Upgrade but a WebSocket
//	GET /auth/verify/{path...}     the same, for Envoy ext_authz (path_prefix: /auth/verify)
//	GET /login/handoff?to=URL      on an app's host: the nonce, then admit's host; on admit's host
//	                               (with binding=): sign in if need be, then the code for the app's host
//	GET /login/handoff/{code}      on an app's host: the code becomes a session there
//	/                              with an upstream: every path admit does not serve itself
package gate
