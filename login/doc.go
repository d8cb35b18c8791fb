// Package login is password sign-in and what a signed-in person does for
// themself: choosing between their accounts, changing their password, their
// name, signing out.
//
// Sessions are kept by package directory (in the database, so any replica
// serves any request); this package holds only the cookie that names one.
// A successful sign-in also leaves a device cookie, which outlives the
// session: directory holds an attempt that presents it for the same email
// only to that device's own failures, so a stranger's guesses do not lock
// the person out of their own browser.
// Single sign-on comes in through Realms: when the email belongs to an
// account that signs its people in through SSO, the sign-in page sends them
// there instead of asking for a password.
//
// Routes:
//
//	GET  /login                the sign-in form (return_to: a local path to land on)
//	POST /login                sign in
//	GET  /login/account        choose which account to open
//	POST /login/account        open (switch to) an account
//	GET  /logout, POST /logout sign out
//	GET  /me, POST /me         the signed-in home page; change your name
//	GET  /password/change      change your password (first, when it was set by someone else)
//	POST /password/change
//	GET  /password/reset       ask for a reset link (the same answer whether or not the email is known)
//	POST /password/reset
//	GET  /password/reset/{token}  choose a new password from the emailed link
//	POST /password/reset/{token}
package login
