// Package admin is the admin console: the pages where the owners and admins
// of an account manage its people, under /admin/{account}/. The pages are
// rendered on the server, work without JavaScript, carry the account's
// branding (web.Renderer) and protect every form against CSRF.
//
// It decides nothing: who may do what is directory.Permissions (shown on the
// Roles page), and every change goes through directory.Service with the
// signed-in admin as the audited actor. The account in the path is checked
// against the session: a person who is not an active member of it gets the
// same 404 as for an account that does not exist, a member without console
// rights 403, and an admin whose session is open in another of their
// accounts a page to switch (as on /me). Everything a page names by id is
// looked up within that account, so another account's ids are 404 too.
//
// Platform operators (directory.Operator) enter every account's console
// without a membership there and are audited as the operator; /admin lists
// the accounts for them and creates one.
//
// Sessions and the sign-in are package login's; the JSON API is api*.go.
// The Single sign-on pages (sso*.go) leave the protocol work to package
// sso through ConnectionSetup, which cmd/admit passes in; the Test sign-in
// runs at package sso's /sso/{account}/test and comes back to the
// connection's test page with the login log's reference.
//
// Routes:
//
//	GET  /admin/{account}                          the Users page
//	GET  /admin/{account}/users                    people: search, filters, keyset pages
//	POST /admin/{account}/users/bulk               resend, deactivate, reactivate or remove the selected
//	GET  /admin/{account}/users/resend             how many never signed in; confirm
//	POST /admin/{account}/users/resend             resend the invitation to each of them
//	GET  /admin/{account}/users/new                Add user form
//	POST /admin/{account}/users/new
//	GET  /admin/{account}/invite                   Invite form
//	POST /admin/{account}/invite
//	GET  /admin/{account}/users/{id}               a person: membership, actions, audit trail
//	POST /admin/{account}/users/{id}/role          change their role
//	POST /admin/{account}/users/{id}/person        change their name and address (their home account only)
//	POST /admin/{account}/users/{id}/{action}      deactivate, reactivate, end-sessions, remove, resend, revoke, reset
//	GET  /admin/{account}/roles                    who may do what
//	GET  /admin/{account}/sso                      connections: state, certificate expiries
//	GET  /admin/{account}/sso/new                  add a SAML (?protocol=saml) or OIDC connection
//	POST /admin/{account}/sso/new
//	GET  /admin/{account}/sso/roles                the group-to-role mappings
//	POST /admin/{account}/sso/roles                map a group
//	POST /admin/{account}/sso/roles/unmap          remove a mapping
//	GET  /admin/{account}/sso/connections/{name}   values to paste, setup steps, Test sign-in, settings
//	POST /admin/{account}/sso/connections/{name}   change the settings
//	POST /admin/{account}/sso/connections/{name}/metadata  give or replace the IdP's metadata
//	GET  /admin/{account}/sso/connections/{name}/remove    confirm the removal
//	POST /admin/{account}/sso/connections/{name}/remove
//	GET  /admin/{account}/sso/connections/{name}/attempts  the login log
//	GET  /admin/{account}/sso/connections/{name}/test      a Test sign-in's result (?ref=)
//	GET  /admin, /admin/                           the accounts (an operator: all, and a form)
//	POST /admin/                                   an operator creates an account
//	GET  /admin/{account}/security                 password and sign-in policy
//	POST /admin/{account}/security
//	GET  /admin/{account}/branding                 name shown, logo URL, colour, sender name
//	POST /admin/{account}/branding
//	GET  /admin/{account}/scim                     SCIM base URL, tokens, recent SCIM activity
//	POST /admin/{account}/scim/tokens              make a token (shown on this response only)
//	POST /admin/{account}/scim/tokens/{id}/revoke
//	GET  /admin/{account}/domains                  domains, the TXT record to publish
//	POST /admin/{account}/domains                  add, verify or remove (action=)
//	GET  /admin/{account}/mail                     the account's mail and delivery states
//	GET  /admin/{account}/audit                    audit log: filters, keyset pages
//	GET  /admin/{account}/audit.csv                the same as CSV, formula cells neutralised
package admin
