// Package invite serves the page behind an invitation link,
// /invite/{token}: a person new to admit chooses their password and
// confirms their name; a person who already has an admit password (through
// another account) signs in with it. Either way the invited membership
// becomes active and the link stops working.
//
// Creating, resending and withdrawing invitations are directory operations
// (the CLI and the admin UI call them); the emails are rendered and sent by
// package mail from the mail outbox.
//
// Routes:
//
//	GET  /invite/{token}   the invitation page, or why the link no longer works
//	POST /invite/{token}   accept (CSRF-protected form)
package invite
