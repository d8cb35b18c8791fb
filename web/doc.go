// Package web is what every HTML page of admit shares: the layout that
// carries an account's branding, rendering that never sends half a page,
// readable error pages, CSRF protection for forms, security headers with a
// strict Content-Security-Policy, and request ids for logs and support.
//
// It owns no pages of its own beyond the signed-out home page; the entry
// points (login, invite, admin, sso) parse their pages with ParsePage on top
// of the layout (the console's, ParseConsolePage, with its navigation) and
// serve them with a Renderer.
package web
