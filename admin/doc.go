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
// Sessions and the sign-in are package login's; the JSON API and the
// Single sign-on page are other files' (api*.go, sso*.go).
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
//	POST /admin/{account}/users/{id}/{action}      deactivate, reactivate, remove, resend, reset
//	GET  /admin/{account}/roles                    who may do what
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
