package login

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDeviceCookieAttributes(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		secure bool
		name   string
	}{
		{false, "admit_device"},
		{true, "__Host-admit_device"},
	} {
		rec := httptest.NewRecorder()
		deviceCookie{secure: tc.secure}.set(rec, "token", now)
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("secure %v: %d cookies; want 1", tc.secure, len(cookies))
		}
		c := cookies[0]
		if c.Name != tc.name || c.Value != "token" || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.secure {
			t.Errorf("secure %v: cookie %+v; want %s, HttpOnly, SameSite=Lax, Path=/, Secure %v", tc.secure, c, tc.name, tc.secure)
		}
		if c.MaxAge != 365*24*60*60 || !c.Expires.Equal(now.AddDate(1, 0, 0)) {
			t.Errorf("secure %v: Max-Age %d, Expires %v; want a year", tc.secure, c.MaxAge, c.Expires)
		}
	}
}
