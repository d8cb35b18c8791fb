package directory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// racers is how many requests each race sends at once: a double click is
// two, a retrying identity provider a few; eight makes PostgreSQL's
// collisions certain without making the test slow.
const racers = 8

// race runs fn from n goroutines released together, and returns their
// errors in order.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// membershipsOf counts the user's memberships (the directory's own view,
// as the person's home page lists them).
func membershipsOf(t *testing.T, s *store.Store, email string) (directory.User, int) {
	t.Helper()
	u, err := s.FindUserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("find %s: %v", email, err)
	}
	var n int
	if err := s.DB().Get(&n, s.DB().Rebind(`SELECT count(*) FROM memberships WHERE user_id = ?`), u.ID); err != nil {
		t.Fatal(err)
	}
	return u, n
}

// TestFirstSSOLoginsAtOnceMakeOnePerson: a brand-new person double-clicks
// the intranet tile (or opens two tabs): every login signs in the one same
// person, with one membership. PostgreSQL failed all but one with a
// unique violation on memberships_pkey.
func TestFirstSSOLoginsAtOnceMakeOnePerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		for round := range 3 {
			email := fmt.Sprintf("new%d@acme.example", round)
			got := make([]directory.SSOSignIn, racers)
			errs := race(racers, func(i int) error {
				var err error
				got[i], err = svc.SignInWithSSO(ctx, c, directory.Identity{Subject: "sub-" + email, Lasting: true, Email: email, FirstName: "Ann", LastName: "Lee"})
				return err
			})
			u, n := membershipsOf(t, s, email)
			for i, err := range errs {
				if err != nil {
					t.Errorf("round %d: login %d: %v", round, i, err)
					continue
				}
				if got[i].Member.User.ID != u.ID {
					t.Errorf("round %d: login %d signed in user %s; the directory has %s", round, i, got[i].Member.User.ID, u.ID)
				}
			}
			if n != 1 {
				t.Errorf("round %d: %d memberships, want 1", round, n)
			}
		}
	})
}
