package directory

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// App is a relying party of admit's OpenID provider: one of the platform's
// applications that signs its users in through admit. The operator
// registers it; it is not account-scoped unless AccountID is set.
type App struct {
	ID       string
	Name     string
	ClientID string
	// SecretHash is the SHA-256 of the client secret; the secret itself is
	// shown once, when it is made. Empty for a public client.
	SecretHash string
	// RedirectURIs are compared exactly with the redirect_uri of a request
	// (RFC 6749 section 3.1.2.2; OAuth 2.0 Security BCP section 4.1.3): no
	// prefixes, no wildcards; only the port of a loopback one may differ
	// (AllowsRedirectURI).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back to, compared as redirect URIs are
	// (AllowsPostLogoutRedirectURI).
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI, when set, is where admit posts a logout token
	// when a person's membership ends (OpenID Back-Channel Logout 1.0).
	BackchannelLogoutURI string
	// Public marks a client that cannot keep a secret (a single-page or
	// native app): it has none, and must use PKCE with S256.
	Public bool
	// AccountID binds the app to one account; empty serves every account.
	AccountID string
	// ForwardAuthHost, when set, puts the app behind admit's forward-auth
	// and reverse proxy: requests for this host (host[:port], lower case)
	// are the app's, under PathPrefix when that is set too.
	ForwardAuthHost string
	PathPrefix      string
	// GroupFilter names the groups the app is told about; empty for all.
	GroupFilter GroupFilter
	// RefreshReuseInterval is how long after a refresh token's rotation
	// the app may present it again and still be answered (0 to
	// MaxRefreshReuseInterval, whole seconds; see RotateAppRefreshToken).
	RefreshReuseInterval time.Duration
	CreatedAt            time.Time
}

// Bounds of an app's refresh reuse interval.
//
// Refresh token rotation with reuse detection (OAuth 2.0 Security BCP
// section 4.14.2) signs out apps that refresh one token twice: two
// browser tabs of a single-page app at the same moment, replicas of a
// backend (oauth2-proxy) sharing one session, a retry after an answer
// lost on the way. Those happen within seconds of the rotation; a thief
// who replays a stolen token does so whenever they got it. Ten seconds
// covers the first and leaves the second to reuse detection, which
// revokes the family at the first use of a stale token after the
// interval. Okta's default grace period is 30 seconds, Auth0's and
// Keycloak's is none: admit's sits between, as a product whose tokens
// open every app of the platform should. At most a minute: beyond that a
// replayed token is more likely stolen than raced.
const (
	DefaultRefreshReuseInterval = 10 * time.Second
	MaxRefreshReuseInterval     = time.Minute
)

// NewApp is what the operator gives to register an app.
type NewApp struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string
	Public                 bool
	AccountID              string // "" for every account
	// ForwardAuthHost and PathPrefix register the app for forward-auth
	// (see App); an app may have them, redirect URIs, or both.
	ForwardAuthHost string
	PathPrefix      string
	// GroupFilter is as an operator writes it (see GroupFilter); "" for
	// all groups.
	GroupFilter string
	// RefreshReuseInterval is the app's (see App); nil for
	// DefaultRefreshReuseInterval.
	RefreshReuseInterval *time.Duration
}

// AppStore keeps the apps.
type AppStore interface {
	// CreateApp stores an app; Conflict when its client id exists.
	CreateApp(ctx context.Context, a App) error
	FindAppByClientID(ctx context.Context, clientID string) (App, error)
	FindApps(ctx context.Context) ([]App, error) // oldest first
	// FindAppsByForwardAuthHost returns the apps registered for a
	// forward-auth host (any path prefix).
	FindAppsByForwardAuthHost(ctx context.Context, host string) ([]App, error)
	// ForwardAuthHostInUse reports whether an app is registered for host,
	// or for a host that starts with portPrefix.
	ForwardAuthHostInUse(ctx context.Context, host, portPrefix string) (bool, error)
	UpdateAppSecret(ctx context.Context, id, secretHash string) error
	UpdateAppGroupFilter(ctx context.Context, id string, f GroupFilter) error
	UpdateAppRefreshReuse(ctx context.Context, id string, d time.Duration) error
	DeleteApp(ctx context.Context, id string) error
}

// Client ids and secrets carry a prefix so that secret scanners (and
// people) recognise one that leaked.
const (
	clientIDPrefix     = "admit_app_"
	clientSecretPrefix = "admit_secret_"
)

func newSecret(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// checkRedirectURI says what is wrong with a redirect URI an operator
// registers, or "". The rules are RFC 6749 section 3.1.2 and RFC 8252
// section 7.3: absolute, no fragment; https, or plain http only on a
// loopback address, where nothing but the machine itself can listen.
// Wildcards are refused because matching is exact anyway and a "*" would
// only mislead the operator.
func checkRedirectURI(s string) string {
	u, err := url.Parse(s)
	switch {
	case len(s) > 2000 || hasControl(s) || strings.ContainsAny(s, " \\"):
		return fmt.Sprintf("redirect URI %q has characters a URL cannot have", s)
	case s == "" || err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("redirect URI %q must be an absolute URL like https://app.example.com/callback", s)
	case strings.Contains(s, "#"):
		return fmt.Sprintf("redirect URI %q must not have a fragment (#...)", s)
	case strings.Contains(s, "*"):
		return fmt.Sprintf("redirect URI %q must not have a wildcard: register every URI exactly", s)
	case u.User != nil:
		return fmt.Sprintf("redirect URI %q must not carry a user name or password", s)
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return fmt.Sprintf("redirect URI %q must use https (plain http only on localhost or a loopback address)", s)
	}
	return fmt.Sprintf("redirect URI %q must use https", s)
}

func checkURIs(uris []string) ([]string, []string) {
	var problems, out []string
	for _, u := range uris {
		u = strings.TrimSpace(u)
		if p := checkRedirectURI(u); p != "" {
			problems = append(problems, p)
			continue
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, problems
}

// AllowsRedirectURI reports whether uri, the redirect_uri of an
// authorization request, is one of the app's: registered exactly, or a
// loopback redirect URI on another port.
func (a App) AllowsRedirectURI(uri string) bool { return allowsURI(a.RedirectURIs, uri) }

// AllowsPostLogoutRedirectURI reports whether uri, the
// post_logout_redirect_uri of a sign-out request, is one of the app's, by
// the same rule: a native app that listens for the code on a port the
// operating system gave it listens for the end of its sign-out the same
// way. The browser brings nothing there but the app's own state, less
// than the code a redirect URI on that port receives.
func (a App) AllowsPostLogoutRedirectURI(uri string) bool {
	return allowsURI(a.PostLogoutRedirectURIs, uri)
}

// allowsURI is the one rule for the URIs an app registers to have the
// browser sent back to: uri is one of registered exactly, or a loopback
// one of them on another port (loopbackOnAnyPort).
func allowsURI(registered []string, uri string) bool {
	for _, r := range registered {
		if uri == r || loopbackOnAnyPort(r, uri) {
			return true
		}
	}
	return false
}

// loopbackHosts are the redirect URIs whose port a request may choose:
// RFC 8252 section 7.3 has the authorization server allow any port of
// a loopback IP literal on http, because a native app listens on
// whichever port the operating system gives it. Not localhost (section
// 8.3 advises against it: the name may resolve elsewhere than the
// loopback interface, through a hosts file or DNS, and a firewall may
// treat it differently), nor another spelling of the address: a URI
// registered with one of those is matched exactly.
var loopbackHosts = []string{"http://127.0.0.1", "http://[::1]"}

// loopbackOnAnyPort reports whether requested is registered but for its
// port, registered being on http at 127.0.0.1 or [::1] (with a port or
// without). The rest (path, query) must be exactly as registered; the
// URIs are compared as written, not as a lenient parser reads them, so
// that nothing but digits can come between the address and the path (no
// user info: http://127.0.0.1:80@evil.example/cb stays another URI).
func loopbackOnAnyPort(registered, requested string) bool {
	for _, host := range loopbackHosts {
		reg, ok := strings.CutPrefix(registered, host)
		if !ok {
			continue
		}
		req, ok := strings.CutPrefix(requested, host)
		if !ok {
			return false
		}
		reg, ok = withoutPort(reg)
		if !ok {
			return false
		}
		req, ok = withoutPort(req)
		return ok && req == reg
	}
	return false
}

// withoutPort takes the port off what follows the host of a URI: ":"
// and a port number (1 to 65535, without leading zeros), if there is
// one; false when what follows is neither a port nor the path or query.
func withoutPort(rest string) (string, bool) {
	if after, ok := strings.CutPrefix(rest, ":"); ok {
		end := strings.IndexAny(after, "/?")
		if end < 0 {
			end = len(after)
		}
		port := after[:end]
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 || port[0] == '0' {
			return "", false
		}
		rest = after[end:]
	}
	if rest != "" && rest[0] != '/' && rest[0] != '?' {
		return "", false
	}
	return rest, true
}

// AddApp registers an app and returns it with its client secret, which is
// not kept and cannot be shown again ("" for a public app).
func (s *Service) AddApp(ctx context.Context, actor Actor, in NewApp) (App, string, error) {
	in.Name = strings.TrimSpace(in.Name)
	var problems []string
	problems = appendProblem(problems, validateName("app name", in.Name))
	in.ForwardAuthHost = strings.ToLower(strings.TrimSpace(in.ForwardAuthHost))
	in.PathPrefix = strings.TrimSpace(in.PathPrefix)
	// An app that only sits behind forward-auth needs no redirect URI.
	if len(in.RedirectURIs) == 0 && in.ForwardAuthHost == "" {
		problems = append(problems, "an app needs a redirect URI (OpenID Connect) or a forward-auth host")
	}
	redirects, bad := checkURIs(in.RedirectURIs)
	problems = append(problems, bad...)
	problems = append(problems, checkForwardAuth(in.ForwardAuthHost, in.PathPrefix)...)
	logouts, bad := checkURIs(in.PostLogoutRedirectURIs)
	problems = append(problems, bad...)
	in.BackchannelLogoutURI = strings.TrimSpace(in.BackchannelLogoutURI)
	if in.BackchannelLogoutURI != "" {
		problems = appendProblem(problems, checkRedirectURI(in.BackchannelLogoutURI))
	}
	filter, bad := parseGroupFilter(in.GroupFilter)
	problems = append(problems, bad...)
	reuse := DefaultRefreshReuseInterval
	if in.RefreshReuseInterval != nil {
		reuse = *in.RefreshReuseInterval
		problems = appendProblem(problems, checkRefreshReuse(reuse))
	}
	if len(problems) > 0 {
		return App{}, "", InvalidError(problems...)
	}
	a := App{ID: newID(), Name: in.Name, ClientID: newSecret(clientIDPrefix, 16), RedirectURIs: redirects,
		PostLogoutRedirectURIs: logouts, BackchannelLogoutURI: in.BackchannelLogoutURI, Public: in.Public, AccountID: in.AccountID,
		ForwardAuthHost: in.ForwardAuthHost, PathPrefix: in.PathPrefix, GroupFilter: filter, RefreshReuseInterval: reuse, CreatedAt: s.clock()}
	var secret string
	if !a.Public {
		secret = newSecret(clientSecretPrefix, 32)
		a.SecretHash = hashToken(secret)
	}
	err := s.store.Tx(ctx, func(tx Store) error {
		if a.AccountID != "" {
			if _, err := tx.FindAccount(ctx, a.AccountID); err != nil {
				return err
			}
		}
		if a.ForwardAuthHost != "" {
			taken, err := tx.FindAppsByForwardAuthHost(ctx, a.ForwardAuthHost)
			if err != nil {
				return err
			}
			for _, o := range taken {
				// /Docs and /docs are one path to servers that ignore case.
				if prefixRouteKey(o.PathPrefix) == prefixRouteKey(a.PathPrefix) {
					return ConflictError(fmt.Sprintf("app %s already serves %s%s", o.Name, a.ForwardAuthHost, o.PathPrefix))
				}
			}
		}
		if err := tx.CreateApp(ctx, a); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.AccountID, actor: actor, action: "app.added", targetType: "app", targetID: a.ID,
			data: map[string]any{"name": a.Name, "client_id": a.ClientID, "redirect_uris": a.RedirectURIs, "public": a.Public,
				"forward_auth_host": a.ForwardAuthHost, "path_prefix": a.PathPrefix, "group_filter": a.GroupFilter,
				"refresh_reuse_seconds": int(a.RefreshReuseInterval / time.Second)},
		})
	})
	if err != nil {
		return App{}, "", fmt.Errorf("add app: %w", err)
	}
	return a, secret, nil
}

// Apps lists every registered app, oldest first.
func (s *Service) Apps(ctx context.Context) ([]App, error) { return s.store.FindApps(ctx) }

// App returns the app with a client id; NotFound when there is none.
func (s *Service) App(ctx context.Context, clientID string) (App, error) {
	a, err := s.findApp(ctx, clientID)
	if KindOf(err) == NotFound {
		return App{}, NotFoundError(fmt.Sprintf("no app with client id %q (admit app list shows them)", clientID))
	}
	return a, err
}

// findApp finds the app of a client_id an app or a browser sent: one no
// app has is NotFound also when it is not text PostgreSQL can compare (a
// NUL, bytes that are not UTF-8), which it refuses with an error of its
// own: a 500 for anyone's typo.
func (s *Service) findApp(ctx context.Context, clientID string) (App, error) {
	if !lookupable(clientID) {
		return App{}, NotFoundError("no such app")
	}
	return s.store.FindAppByClientID(ctx, clientID)
}

// AuthenticateApp checks a confidential app's client secret, in constant
// time; a public app has no secret to check and is refused here.
func (s *Service) AuthenticateApp(ctx context.Context, clientID, secret string) (App, error) {
	a, err := s.findApp(ctx, clientID)
	if KindOf(err) == NotFound {
		return App{}, UnauthenticatedError("unknown client or wrong secret")
	}
	if err != nil {
		return App{}, err
	}
	if a.Public || secret == "" || subtle.ConstantTimeCompare([]byte(hashToken(secret)), []byte(a.SecretHash)) != 1 {
		return App{}, UnauthenticatedError("unknown client or wrong secret")
	}
	return a, nil
}

// RemoveApp deletes an app: its client id stops working at once, and so do
// the tokens issued to it.
func (s *Service) RemoveApp(ctx context.Context, actor Actor, clientID string) (App, error) {
	var a App
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = s.appIn(ctx, tx, clientID); err != nil {
			return err
		}
		if err := tx.DeleteApp(ctx, a.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.AccountID, actor: actor, action: "app.removed", targetType: "app", targetID: a.ID,
			data: map[string]any{"name": a.Name, "client_id": a.ClientID},
		})
	})
	if err != nil {
		return App{}, fmt.Errorf("remove app: %w", err)
	}
	return a, nil
}

// RotateAppSecret gives a confidential app a new client secret, returned
// once; the old one stops working at once.
func (s *Service) RotateAppSecret(ctx context.Context, actor Actor, clientID string) (App, string, error) {
	var a App
	secret := newSecret(clientSecretPrefix, 32)
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = s.appIn(ctx, tx, clientID); err != nil {
			return err
		}
		if a.Public {
			return ConflictError(fmt.Sprintf("app %s is public: it has no secret to rotate", a.Name))
		}
		a.SecretHash = hashToken(secret)
		if err := tx.UpdateAppSecret(ctx, a.ID, a.SecretHash); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.AccountID, actor: actor, action: "app.secret_rotated", targetType: "app", targetID: a.ID,
			data: map[string]any{"name": a.Name, "client_id": a.ClientID},
		})
	})
	if err != nil {
		return App{}, "", fmt.Errorf("rotate app secret: %w", err)
	}
	return a, secret, nil
}

// SetAppGroups changes the groups an app is told about (see GroupFilter;
// "" for all). ID tokens, userinfo and introspection read the app at each
// request, so they follow at once; forward-auth replicas keep an app's
// registration under a second.
func (s *Service) SetAppGroups(ctx context.Context, actor Actor, clientID, filter string) (App, error) {
	f, problems := parseGroupFilter(filter)
	if len(problems) > 0 {
		return App{}, InvalidError(problems...)
	}
	var a App
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = s.appIn(ctx, tx, clientID); err != nil {
			return err
		}
		previous := a.GroupFilter
		if previous == f {
			return nil
		}
		a.GroupFilter = f
		if err := tx.UpdateAppGroupFilter(ctx, a.ID, f); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.AccountID, actor: actor, action: "app.group_filter_changed", targetType: "app", targetID: a.ID,
			data: map[string]any{"name": a.Name, "client_id": a.ClientID, "group_filter": f, "previous": previous},
		})
	})
	if err != nil {
		return App{}, fmt.Errorf("set app groups: %w", err)
	}
	return a, nil
}

// checkRefreshReuse says what is wrong with a refresh reuse interval, or "".
func checkRefreshReuse(d time.Duration) string {
	if d < 0 || d > MaxRefreshReuseInterval || d%time.Second != 0 {
		return fmt.Sprintf("the refresh reuse interval must be whole seconds from 0s to %s (got %s)", MaxRefreshReuseInterval, d)
	}
	return ""
}

// SetAppRefreshReuse changes how long the app may present a rotated
// refresh token again (see DefaultRefreshReuseInterval; 0 for never). It
// holds from the next refresh on, on every replica.
func (s *Service) SetAppRefreshReuse(ctx context.Context, actor Actor, clientID string, d time.Duration) (App, error) {
	if p := checkRefreshReuse(d); p != "" {
		return App{}, InvalidError(p)
	}
	var a App
	err := s.store.Tx(ctx, func(tx Store) error {
		var err error
		if a, err = s.appIn(ctx, tx, clientID); err != nil {
			return err
		}
		previous := a.RefreshReuseInterval
		if previous == d {
			return nil
		}
		a.RefreshReuseInterval = d
		if err := tx.UpdateAppRefreshReuse(ctx, a.ID, d); err != nil {
			return err
		}
		return s.record(ctx, tx, change{
			accountID: a.AccountID, actor: actor, action: "app.refresh_reuse_changed", targetType: "app", targetID: a.ID,
			data: map[string]any{"name": a.Name, "client_id": a.ClientID, "refresh_reuse_seconds": int(d / time.Second),
				"previous": int(previous / time.Second)},
		})
	})
	if err != nil {
		return App{}, fmt.Errorf("set app refresh reuse interval: %w", err)
	}
	return a, nil
}

func (s *Service) appIn(ctx context.Context, tx Store, clientID string) (App, error) {
	a, err := tx.FindAppByClientID(ctx, strings.TrimSpace(clientID))
	if KindOf(err) == NotFound {
		return App{}, NotFoundError(fmt.Sprintf("no app with client id %q (admit app list shows them)", clientID))
	}
	return a, err
}
