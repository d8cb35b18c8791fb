package directory

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
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
		strings.ContainsAny(prefix, "?#*%\\; ") || path.Clean(prefix) != prefix || strings.HasSuffix(prefix, ".") || strings.Contains(prefix, "./")) {
		// A segment ending in a dot is the one without it to IIS.
		problems = append(problems, fmt.Sprintf("path prefix %q must be a clean path like /wiki: a leading slash, no trailing slash, no dot segments or segments ending in a dot, no ?, #, %%, *, ; or spaces", prefix))
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
// rawPath (as the request wrote it, percent-encoded); see
// MatchForwardAuthApp. NotFound when no app serves the request, which is
// how a host the operator never registered is refused.
func (s *Service) ForwardAuthApp(ctx context.Context, host, rawPath string) (App, error) {
	apps, err := s.ForwardAuthApps(ctx, host)
	if err != nil {
		return App{}, err
	}
	return MatchForwardAuthApp(apps, rawPath)
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
// a request for rawPath, the path as the request wrote it (percent-encoded,
// before any decoding): the longest path prefix the path is under (a prefix
// /wiki takes /wiki and /wiki/..., not /wikipedia). NotFound when none
// does.
//
// App servers disagree on what path a request names. The strictest read
// it as written: /globex%2Fx, /%67lobex/x and /globex//x are not under
// /globex to Express, ASP.NET or Go's ServeMux (each matches the raw path,
// segment by segment). The most lenient decode it, merge slashes, ignore
// case (Express, ASP.NET, IIS), ;parameters (Tomcat, Spring), and trailing
// dots and spaces and read \ as / (IIS): routeKey. Every other server
// reads between the two, and a prefix under which the path is read as
// written is under it on every reading. So a request is judged by the app
// both readings name, or, when no prefix is under the path as written
// (nor an app at the root), by the one app any reading could name. Any
// other spelling is Forbidden (/GLOBEX/x, /globex%2Fx beside a root app;
// /a;v=1/b/x beside apps at /a and /a/B, which Tomcat serves from /a):
// whichever app admit judged it by, the server behind might serve it
// from another. So is a path with a . or .. segment on any reading.
func MatchForwardAuthApp(apps []App, rawPath string) (App, error) {
	lenient, ok := routeKey(rawPath)
	if !ok {
		return App{}, ForbiddenError("the path has a . or .. segment on some servers' reading (%2e%2e, \\.., .. ); ask for it without them")
	}
	asWritten, _, _ := longestPrefix(apps, rawPath, escapedPrefix)
	best, tied, matched := longestPrefix(apps, lenient, prefixRouteKey)
	switch {
	case best < 0:
		return App{}, NotFoundError("no app serves " + rawPath)
	case tied || asWritten != best && (asWritten >= 0 || matched > 1):
		return App{}, ForbiddenError(fmt.Sprintf("%s reaches different apps on servers that read paths as written and on those that decode them and ignore case and ;parameters; ask for it as the app spells it", rawPath))
	}
	return apps[best], nil
}

// longestPrefix returns the index of the app whose path prefix, read with
// key, is the longest that the path k is under (-1 if none), whether
// another app's is as long, and how many apps' prefixes k is under.
func longestPrefix(apps []App, k string, key func(string) string) (best int, tied bool, matched int) {
	bestLen := -1
	best = -1
	for i, a := range apps {
		prefix := ""
		if a.PathPrefix != "" {
			prefix = key(a.PathPrefix)
		}
		if prefix != "" && k != prefix && !strings.HasPrefix(k, prefix+"/") {
			continue
		}
		matched++
		switch {
		case len(prefix) > bestLen:
			best, bestLen, tied = i, len(prefix), false
		case len(prefix) == bestLen:
			tied = true
		}
	}
	return best, tied, matched
}

// escapedPrefix is a path prefix as a browser writes it in a request
// (/café as /caf%C3%A9).
func escapedPrefix(prefix string) string {
	return (&url.URL{Path: prefix}).EscapedPath()
}

// prefixRouteKey is routeKey of a registered prefix, which is always
// readable (checkForwardAuth); "" (the root) stays "".
func prefixRouteKey(prefix string) string {
	if prefix == "" {
		return ""
	}
	k, _ := routeKey(prefix)
	return k
}

// routeKey is a raw path as the most lenient app servers route it:
// percent-decoded (nginx, IIS), \ as / (IIS), empty segments merged,
// each segment without its ;parameters (Tomcat, Spring) and its trailing
// dots and spaces (IIS, as Windows names files), and case folded as
// widely as any server compares (Express and ASP.NET ignore case;
// folding each letter's upper case to lower also makes ſ s, ı i and K,
// the Kelvin sign, k, as Java's equalsIgnoreCase and Unicode regular
// expressions do). Not ok when a segment is . or .. on that reading.
func routeKey(p string) (string, bool) {
	if plainKey(p) {
		return p, true
	}
	p, err := url.PathUnescape(p)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		seg, _, _ = strings.Cut(seg, ";")
		if t := strings.TrimRight(seg, " "); t == "." || t == ".." {
			return "", false
		}
		if seg = strings.TrimRight(seg, ". "); seg == "" {
			continue
		}
		b.WriteByte('/')
		for _, r := range seg {
			b.WriteRune(unicode.ToLower(unicode.ToUpper(r)))
		}
	}
	if b.Len() == 0 {
		return "/", true
	}
	return b.String(), true
}

// plainKey reports whether routeKey(p) is p: lower-case ASCII without
// %, \ or ;, no empty segment, none ending in a dot or a space. Most
// paths are, and are keyed without a copy.
func plainKey(p string) bool {
	if !strings.HasPrefix(p, "/") || len(p) > 1 && p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' || c == '%' || c == '\\' || c == ';':
			return false
		case c == '/' && i > 0 && (p[i-1] == '/' || p[i-1] == '.' || p[i-1] == ' '):
			return false
		}
	}
	last := p[len(p)-1]
	return last != '.' && last != ' '
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
