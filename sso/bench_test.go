package sso_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkACS measures the assertion consumer service alone: verifying a
// signed response, the replay cache, just-in-time provisioning and the
// session. The IdP's work (making and signing the response) is outside the
// timer.
func BenchmarkACS(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		w := newWorld(b, s)
		run := func(b *testing.B, user func(i int) string) {
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				br := w.browser()
				acs, form := br.idpInitiated("okta", user(i), "")
				b.StartTimer()
				if p := br.post(acs, form); p.status != http.StatusSeeOther {
					b.Fatalf("ACS: %d %s", p.status, p.body)
				}
			}
		}
		b.Run("existing user", func(b *testing.B) {
			run(b, func(int) string { return "alice" })
		})
		b.Run("first login", func(b *testing.B) {
			run(b, func(i int) string {
				name := fmt.Sprintf("u%d-%d", b.N, i)
				w.addUser(name, name+"@example.com", "New", "Person")
				return name
			})
		})
	})
}

// BenchmarkOIDCCallback measures the redirect URI: the state, the code
// exchange with the provider (a loopback round trip, the provider's token
// signing included), ID token verification, userinfo where the ID token
// has no profile, just-in-time provisioning and the session. The
// authorization request and the provider's login are outside the timer.
func BenchmarkOIDCCallback(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		w := newWorld(b, s)
		p := w.newProvider()
		run := func(b *testing.B, connection string, user func(i int) string) {
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				br := w.browser()
				callback := br.oidcCallback(p, connection, user(i), "")
				b.StartTimer()
				if pg := br.get(callback); pg.status != http.StatusSeeOther {
					b.Fatalf("callback: %d %s", pg.status, pg.body)
				}
			}
		}
		b.Run("existing user, claims in ID token", func(b *testing.B) {
			run(b, "inline", func(int) string { return "bob" })
		})
		b.Run("existing user, claims from userinfo", func(b *testing.B) {
			run(b, "zitadel", func(int) string { return "bob" })
		})
		b.Run("first login", func(b *testing.B) {
			run(b, "inline", func(i int) string {
				name := fmt.Sprintf("o%d-%d", b.N, i)
				addUser(p, name, name+"@example.com", "New", "Person", true)
				return name
			})
		})
	})
}
