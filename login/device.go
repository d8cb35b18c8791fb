package login

import (
	"net/http"
	"time"

	"github.com/admit-dev/admit/directory"
)

// deviceCookie carries the device token a password sign-in gives the
// browser (package directory makes and checks it). It outlives sessions
// and sign-outs on purpose: it is how the person's own browser is told
// apart from a stranger's when their email is locked out.
type deviceCookie struct {
	// secure marks the cookie Secure and gives it the __Host- prefix, so
	// that no subdomain can plant one.
	secure bool
}

func (c deviceCookie) name() string {
	if c.secure {
		return "__Host-admit_device"
	}
	return "admit_device"
}

func (c deviceCookie) set(w http.ResponseWriter, token string, now time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: c.name(), Value: token, Path: "/", Expires: now.Add(directory.DeviceTokenLifetime),
		MaxAge:   int(directory.DeviceTokenLifetime / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (c deviceCookie) token(r *http.Request) string {
	if ck, err := r.Cookie(c.name()); err == nil {
		return ck.Value
	}
	return ""
}
