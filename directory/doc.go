// Package directory is admit's core: accounts, users, memberships, roles,
// groups and the rules that govern them (who may be added where, which
// password is good enough, what every change leaves behind).
//
// Every entry point — the CLI, SSO, SCIM, invitations, the admin UI — calls
// the Service here and nothing else changes the directory. The Service writes
// through the Store interface declared in this package (implemented by
// package store on PostgreSQL and SQLite), and each change writes its audit
// event, and the events it announces to the platform (event.go: the
// outbox, which package events delivers), in the same transaction as the
// change itself.
//
// The package knows no HTTP, SQL, SAML, OIDC or SCIM: protocols turn their
// input into the values declared here, and translate the kinded errors of
// errors.go back into their own wire format.
package directory
