package login_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestConcurrentGuessesHitTheLockout: the lockout is counted before the
// password is checked, so a stranger who sends a burst of guesses at once
// gets no more of them checked than one who sends them one by one.
// Before, every request of the burst passed the count (nothing was
// written yet) and each was checked: dozens of guesses per window.
func TestConcurrentGuessesHitTheLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		const email = "pat@acme.example"
		s.add(t, a, email, "initial password given")

		p := s.browser(t)
		p.get("/login")
		token := csrfToken.FindStringSubmatch(p.last)[1]
		const burst = 30
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := p.client.PostForm(s.server.URL+"/login", url.Values{"email": {email}, "password": {"a guess"}, "csrf_token": {token}})
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if checked := statuses[http.StatusUnauthorized]; checked > 5 || statuses[http.StatusTooManyRequests] != burst-checked {
			t.Errorf("a burst of %d guesses: %v; want at most 5 checked (401), the rest refused (429)", burst, statuses)
		}
		// Refused guesses leave nothing behind (DESIGN rule 12): the
		// person's count and the client's hold the checked ones only.
		u, err := st.FindUserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"user:" + u.ID, "addr:127.0.0.1"} {
			if n, _, err := st.CountSignInFailures(context.Background(), key, time.Now().Add(-time.Hour)); err != nil || n != statuses[http.StatusUnauthorized] {
				t.Errorf("rows counted for %s: %d, %v; want %d", key, n, err, statuses[http.StatusUnauthorized])
			}
		}
	})
}

// TestPasswordChangeRenewsTheSession: a person who changes their password
// because someone has their session cookie (a shared computer, a copied
// cookie) gets a new session; the copy ends with every other session.
func TestPasswordChangeRenewsTheSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		const email = "pat@acme.example"
		s.add(t, a, email, "initial password given")
		p := s.browser(t)
		p.signIn(email, "initial password given")
		p.post("/password/change", url.Values{"current": {"initial password given"}, "password": {"my own secret phrase"}, "confirm": {"my own secret phrase"}})
		stolen := p.cookieOf("admit_session")
		thief := s.browser(t).withCookie("admit_session", stolen)
		if _, path := thief.get("/me"); path != "/me" {
			t.Fatalf("the copied cookie before the change: landed on %s", path)
		}
		p.get("/password/change")
		if status, path := p.post("/password/change", url.Values{"current": {"my own secret phrase"}, "password": {"a newer secret phrase"}, "confirm": {"a newer secret phrase"}}); status != 200 || path != "/me?changed=password" {
			t.Fatalf("the change: %d %s", status, path)
		}
		if renewed := p.cookieOf("admit_session"); renewed == "" || renewed == stolen {
			t.Errorf("the session cookie after the change is %q; want a new one", renewed)
		}
		if _, path := p.get("/me"); path != "/me" {
			t.Errorf("the person after the change: landed on %s; want /me", path)
		}
		if _, path := thief.get("/me"); path == "/me" {
			t.Errorf("the copied cookie still opens /me after the password change")
		}
	})
}

// TestResetOutlastsAStrangersLockout: a stranger can keep a person's
// address locked out for as long as they like (5 guesses each 15
// minutes); the person's way out on a browser that never signed in is a
// reset, which proves the address. The browser that completed it is then
// held to its own count, as one that signed in before: the stranger's
// next round of guesses, right after the reset, does not lock it out.
func TestResetOutlastsAStrangersLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		const email = "pat@acme.example"
		s.add(t, a, email, "initial password given")
		stranger := s.browser(t)
		guess := func() {
			for range 5 {
				stranger.signIn(email, "a guess")
			}
		}
		guess()
		pat := s.browser(t)
		if status := pat.signIn(email, "initial password given"); status != http.StatusTooManyRequests {
			t.Fatalf("pat while locked out: %d; want 429", status)
		}
		pat.get("/password/reset")
		pat.post("/password/reset", url.Values{"email": {email}})
		link := s.mailedResetPath(t)
		pat.get(link)
		pat.post(link, url.Values{"password": {"a fresh secret phrase"}, "confirm": {"a fresh secret phrase"}})
		guess() // the stranger again, before pat signs in
		if status := pat.signIn(email, "a fresh secret phrase"); status != http.StatusOK {
			t.Errorf("pat, on the browser that completed the reset: %d; want signed in", status)
		}
		if status := s.browser(t).signIn(email, "a fresh secret phrase"); status != http.StatusTooManyRequests {
			t.Errorf("another browser: %d; want still locked out (429)", status)
		}
	})
}
