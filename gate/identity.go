package gate

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/admit-dev/admit/directory"
)

// The identity headers an app behind admit reads. Any header with
// headerPrefix that a client sends is removed before the request goes on.
const (
	headerPrefix  = "X-Admit-"
	HeaderUserID  = "X-Admit-User-Id"
	HeaderEmail   = "X-Admit-Email"
	HeaderName    = "X-Admit-Name"
	HeaderAccount = "X-Admit-Account"
	HeaderRole    = "X-Admit-Role"
	HeaderGroups  = "X-Admit-Groups"
	HeaderJWT     = "X-Admit-Jwt"
)

// TokenTTL is the life of an X-Admit-Jwt token: it travels with one
// request, so a minute covers clock skew and nothing more.
const TokenTTL = time.Minute

// tokenClaims is the X-Admit-Jwt payload: the provider's claims (the same
// names as in its ID tokens), for the app as audience.
type tokenClaims struct {
	Issuer        string                     `json:"iss"`
	Subject       string                     `json:"sub"`
	Audience      string                     `json:"aud"`
	IssuedAt      int64                      `json:"iat"`
	Expiry        int64                      `json:"exp"`
	Email         string                     `json:"email"`
	EmailVerified bool                       `json:"email_verified"`
	Name          string                     `json:"name"`
	GivenName     string                     `json:"given_name"`
	FamilyName    string                     `json:"family_name"`
	Account       directory.AppClaimsAccount `json:"account"`
	Role          directory.Role             `json:"role"`
	Groups        []string                   `json:"groups"`
	AMR           []string                   `json:"amr,omitempty"`
}

// identityHeaders are the headers for claims, with token.
func identityHeaders(c directory.AppClaims, token string) http.Header {
	return http.Header{
		HeaderUserID:  {headerValue(c.Subject)},
		HeaderEmail:   {headerValue(c.Email)},
		HeaderName:    {headerValue(c.Name)},
		HeaderAccount: {headerValue(c.Account.Slug)},
		HeaderRole:    {headerValue(string(c.Role))},
		HeaderGroups:  {groupsValue(c.Groups)},
		HeaderJWT:     {token},
	}
}

// headerValue keeps a value on one header line: names and emails come
// from outside (SCIM, SSO, admins), and a CR or LF in one must not start
// another header at the proxy or the app.
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// groupsValue joins group names with commas, each name percent-encoding
// the comma, the percent sign and control characters, so that a group
// named "a,b" reads back as one group (split on ",", then unescape each).
func groupsValue(groups []string) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		var b strings.Builder
		for j := 0; j < len(g); j++ {
			c := g[j]
			if c == ',' || c == '%' || c < 0x20 || c == 0x7f {
				b.WriteString("%" + strings.ToUpper(hex2(c)))
				continue
			}
			b.WriteByte(c)
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, ",")
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&0xf]})
}

// FreshFor is how long a replica reuses its answer for a session and app.
// Under a second by design: a deactivation, an ended session or a changed
// role reaches every replica within it.
const FreshFor = 500 * time.Millisecond

// maxRemembered bounds the answers kept; past it, the oldest go.
const maxRemembered = 10000

// remembered is an answer kept until a time.
type remembered[T any] struct {
	value T
	until time.Time
}

// answers keeps recent answers: identity headers per session token and
// app, the apps of a host. Only answers for live sessions and registered
// hosts are kept, so a flood of made-up cookies or hosts adds nothing.
type answers[T any] struct {
	mu   sync.Mutex
	byID map[string]remembered[T]
}

func (a *answers[T]) get(key string, now time.Time) (T, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.byID[key]
	if !ok || !now.Before(e.until) {
		var zero T
		return zero, false
	}
	return e.value, true
}

func (a *answers[T]) put(key string, v T, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byID == nil {
		a.byID = map[string]remembered[T]{}
	}
	if len(a.byID) >= maxRemembered {
		for k, e := range a.byID {
			if !now.Before(e.until) {
				delete(a.byID, k)
			}
		}
		if len(a.byID) >= maxRemembered {
			clear(a.byID)
		}
	}
	a.byID[key] = remembered[T]{value: v, until: now.Add(FreshFor)}
}

// identify returns the identity headers for the session token at app:
// from the directory, or a replica's answer younger than FreshFor.
func (h *Handler) identify(ctx context.Context, token string, app directory.App) (http.Header, error) {
	if token == "" {
		return nil, directory.UnauthenticatedError("Please sign in.")
	}
	// The app's group filter is in the key: once the host's apps are read
	// anew, a changed filter is applied, not an answer made under the old.
	key := app.ID + "\x00" + string(app.GroupFilter) + "\x00" + token
	now := h.now()
	if h.fresh {
		if hdr, ok := h.identities.get(key, now); ok {
			return hdr, nil
		}
	}
	c, err := h.dir.ForwardAuth(ctx, token, app)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(tokenClaims{Issuer: h.issuer, Subject: c.Subject, Audience: app.ClientID,
		IssuedAt: now.Unix(), Expiry: now.Add(TokenTTL).Unix(), Email: c.Email, EmailVerified: c.EmailVerified,
		Name: c.Name, GivenName: c.GivenName, FamilyName: c.FamilyName, Account: c.Account, Role: c.Role,
		Groups: nonNil(c.Groups), AMR: c.AMR})
	if err != nil {
		return nil, err
	}
	jwt, err := h.keys.Sign(ctx, jose.ES256, "JWT", payload)
	if err != nil {
		return nil, err
	}
	hdr := identityHeaders(c, jwt)
	if h.fresh {
		h.identities.put(key, hdr, now)
	}
	return hdr, nil
}

// app returns the app that serves a request for host and rawPath (as the
// request wrote it: see MatchForwardAuthApp); the
// apps of a registered host are kept FreshFor too, so that an app added or
// removed is seen within a second, and a request otherwise costs no
// look-up of its app.
func (h *Handler) app(ctx context.Context, host, rawPath string) (directory.App, error) {
	host = strings.ToLower(host)
	now := h.now()
	apps, ok := []directory.App(nil), false
	if h.fresh {
		apps, ok = h.hosts.get(host, now)
	}
	if !ok {
		var err error
		if apps, err = h.dir.ForwardAuthApps(ctx, host); err != nil {
			return directory.App{}, err
		}
		if h.fresh && len(apps) > 0 {
			h.hosts.put(host, apps, now)
		}
	}
	return directory.MatchForwardAuthApp(apps, rawPath)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
