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
// Sign-in asks for the email first. Single sign-on comes in through Realms
// (home realm discovery): the second step offers the SSO of the email's
// domain beside the password form, or alone when its account requires it.
// The second step depends on the domain only, never on whether the address
// has an account. A post with the password as well (password managers,
// scripts) signs in at once, as it always did.
//
// Routes:
//
//	GET  /login                the first step (return_to: a local path to land on;
//	                           email: go straight to the second step for it)
//	POST /login                email alone: the second step; with password: sign in
//	GET  /login/account        choose which account to open
//	POST /login/account        open (switch to) an account
//	GET  /logout, POST /logout sign out (a session a SAML sign-in opened goes on
//	                           to its identity provider: SingleLogout, package sso);
//	                           ?signed_out=1 is where a single logout lands
//	GET  /me, POST /me         the signed-in home page; change your name
//	GET  /password/change      change your password (first, when it was set by someone else)
//	POST /password/change
//	GET  /password/reset       ask for a reset link (the same answer whether or not the email is known)
//	POST /password/reset
//	GET  /password/reset/{token}  choose a new password from the emailed link
//	POST /password/reset/{token}
package login
