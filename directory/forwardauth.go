package directory

import (
	"context"
	"fmt"
	"net"
	"path"
	"strings"
)

// This file is what forward-auth and the reverse proxy (package gate)
// decide: which app a request for a host and path belongs to, and what
// that app is told about the person of a session. The claims are the
// provider's (AppClaimsFor): one answer to "who is this, for which
// account", whichever way an app asks.

// checkForwardAuth says what is wrong with a forward-auth host and path
// prefix an operator registers.
func checkForwardAuth(host, prefix string) []string {
	var problems []string
	if host == "" {
		if prefix != "" {
			problems = append(problems, "a path prefix needs a forward-auth host")
		}
		return problems
	}
	if !validHost(host) {
		problems = append(problems, fmt.Sprintf("forward-auth host %q must be a host name, with a port if not the default (app.example.com, localhost:8081), without a scheme or path", host))
	}
	if prefix != "" && (len(prefix) > 200 || hasControl(prefix) || !strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") ||
		strings.ContainsAny(prefix, "?#*%\\; ") || path.Clean(prefix) != prefix) {
		problems = append(problems, fmt.Sprintf("path prefix %q must be a clean path like /wiki: a leading slash, no trailing slash, no dot segments, no ?, #, %%, *, ; or spaces", prefix))
	}
	return problems
}

// validHost reports whether h is a lower-case host name or IP address,
// with an optional port: the form a Host header takes.
func validHost(h string) bool {
	if h == "" || len(h) > 260 {
		return false
	}
	name := h
	if hp, port, err := net.SplitHostPort(h); err == nil {
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
		name = hp
	} else if strings.Contains(h, ":") {
		return false
	}
	if net.ParseIP(name) != nil {
		return true
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return false
		}
	}
	return true
}

// ForwardAuthApp returns the app that serves a request for host and
// urlPath (the decoded path); see MatchForwardAuthApp. NotFound when no
// app serves the request, which is how a host the operator never
// registered is refused.
func (s *Service) ForwardAuthApp(ctx context.Context, host, urlPath string) (App, error) {
	apps, err := s.ForwardAuthApps(ctx, host)
	if err != nil {
		return App{}, err
	}
	return MatchForwardAuthApp(apps, urlPath)
}

// ForwardAuthApps returns the apps registered for a forward-auth host
// (host[:port], any case), for MatchForwardAuthApp.
func (s *Service) ForwardAuthApps(ctx context.Context, host string) ([]App, error) {
	host = strings.ToLower(host)
	if !validHost(host) {
		return nil, nil
	}
	return s.store.FindAppsByForwardAuthHost(ctx, host)
}

// ForwardAuthHostName reports whether an app is registered for host's
// name on any port, or none: a browser sends a cookie of app.example to
// app.example:8443 too, so every port of an app's name is the app's site.
// The name is taken as proxies route it: any case, a trailing dot.
func (s *Service) ForwardAuthHostName(ctx context.Context, host string) (bool, error) {
	host = strings.ToLower(host)
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		name = host
	}
	name = strings.TrimRight(strings.Trim(name, "[]"), ".")
	if !validHost(name) {
		return false, nil
	}
	withPort := name
	if strings.Contains(name, ":") { // an IPv6 address
		withPort = "[" + name + "]"
	}
	return s.store.ForwardAuthHostInUse(ctx, name, withPort+":")
}

// MatchForwardAuthApp picks, of the apps of one host, the one that serves
// urlPath: the longest path prefix that the cleaned path is under (a
// prefix /wiki takes /wiki and /wiki/..., not /wikipedia). Cleaning first
// keeps /wiki/../admin from passing for an app at /wiki. NotFound when
// none does.
//
// App servers disagree on what path a request names: most read it as
// written, the lenient ones (routeKey) ignore case and ;parameters. A
// spelling that reaches different apps on the two readings (/GLOBEX/x:
// the root app as written, the app at /globex leniently), or two apps
// leniently (/Docs and /docs), is Forbidden: whichever app admit judged
// the request by, the server behind might serve it from the other.
func MatchForwardAuthApp(apps []App, urlPath string) (App, error) {
	p := path.Clean("/" + urlPath)
	asWritten, _ := longestPrefix(apps, p, func(s string) string { return s })
	lenient, tied := longestPrefix(apps, p, routeKey)
	switch {
	case lenient < 0:
		return App{}, NotFoundError("no app serves " + p)
	case tied || asWritten >= 0 && asWritten != lenient:
		return App{}, ForbiddenError(fmt.Sprintf("%s reaches different apps on servers that read paths as written and on those that ignore case and ;parameters; ask for it as the app spells it", p))
	}
	return apps[lenient], nil
}

// longestPrefix returns the index of the app whose path prefix, read with
// key, is the longest that p is under (-1 if none), and whether another
// app's is as long.
func longestPrefix(apps []App, p string, key func(string) string) (best int, tied bool) {
	k, bestLen := key(p), -1
	best = -1
	for i, a := range apps {
		prefix := key(a.PathPrefix)
		if prefix != "" && k != prefix && !strings.HasPrefix(k, prefix+"/") {
			continue
		}
		switch {
		case len(prefix) > bestLen:
			best, bestLen, tied = i, len(prefix), false
		case len(prefix) == bestLen:
			tied = true
		}
	}
	return best, tied
}

// routeKey is a path as the most lenient app servers route it: Express,
// ASP.NET and IIS ignore case, and Tomcat and Spring drop each segment's
// ;parameters (/globex;v=1/x is /globex/x to them).
func routeKey(p string) string {
	if !strings.Contains(p, ";") {
		return strings.ToLower(p)
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i], _, _ = strings.Cut(seg, ";")
	}
	return strings.ToLower(strings.Join(segs, "/"))
}

// ForwardAuth returns what app is told about the person whose session
// token was sent with a request for it: the claims in the app's account,
// or in the session's account for an app of every account. The session
// and the membership are read on every call (Authenticate, AppClaimsFor),
// so a deactivation ends access as it ends sessions. Unauthenticated
// without a live session; Forbidden when the person may not use the app.
func (s *Service) ForwardAuth(ctx context.Context, token string, app App) (AppClaims, error) {
	v, err := s.Authenticate(ctx, token)
	if err != nil {
		return AppClaims{}, err
	}
	if v.Session.Host != "" && !strings.EqualFold(v.Session.Host, app.ForwardAuthHost) {
		// A session handed to one app's host is not a key to another's:
		// that app's host must be handed its own (the browser is sent to
		// sign in there, and finds itself signed in on admit's host).
		return AppClaims{}, UnauthenticatedError("Please sign in.")
	}
	if v.User.PasswordMustChange {
		return AppClaims{}, ForbiddenError("Please change your password at admit first.")
	}
	if app.AccountID == "" || app.AccountID == v.Account.ID {
		// Authenticate has just read and checked the session's membership
		// and its entry: the claims need not read them again.
		return s.appClaims(ctx, app, v.Account, v.User, v.Membership, v.Session.Credential)
	}
	return s.appClaimsFor(ctx, app, v.User.ID, app.AccountID, v.Session.Credential)
}
