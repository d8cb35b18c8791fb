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
