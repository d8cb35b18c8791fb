package directory_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// refreshFamily is a person signed in to an app, holding the refresh
// token of the sign-in.
type refreshFamily struct {
	svc    *directory.Service
	clock  *clock
	app    directory.App
	first  string // the sign-in's refresh token
	access string // the access token issued with it
}

// newRefreshFamily signs pat in to an app of a new account slug, with the refresh reuse interval
// reuse (nil: the default), as the provider does, and returns the
// sign-in's refresh token.
func newRefreshFamily(t *testing.T, s *store.Store, slug string, reuse *time.Duration) refreshFamily {
	t.Helper()
	ctx := context.Background()
	svc, clk := newClockService(t, s)
	acme := mustAccount(t, svc, slug)
	added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@" + slug + ".example", FirstName: "Pat", LastName: "Q", Password: "a password the admin chose"})
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example/cb"}, RefreshReuseInterval: reuse})
	if err != nil {
		t.Fatal(err)
	}
	session, _, err := svc.StartSession(ctx, added.Member.User.ID, acme.ID, directory.ByPassword)
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Authenticate(ctx, session)
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.StartAppAuthorization(ctx, directory.AppAuthorization{ClientID: app.ClientID, RedirectURI: "https://wiki.example/cb", Scopes: []string{"openid", "offline_access"}, ResponseType: "code"})
	if err != nil {
		t.Fatal(err)
	}
	if a, err = svc.CompleteAppAuthorization(ctx, a, v); err != nil {
		t.Fatal(err)
	}
	if err := svc.IssueAppCode(ctx, a.ID, "code-of-"+slug); err != nil {
		t.Fatal(err)
	}
	claimed, err := svc.AppAuthorizationByCode(ctx, "code-of-"+slug)
	if err != nil {
		t.Fatal(err)
	}
	access, refresh, err := svc.IssueAppTokens(ctx, claimed, true)
	if err != nil {
		t.Fatal(err)
	}
	return refreshFamily{svc: svc, clock: clk, app: app, first: refresh, access: access.ID}
}

// refresh exchanges a refresh token as the provider does: it is looked up
// (op's TokenRequestByRefreshToken), then rotated.
func (f refreshFamily) refresh(token string) (string, error) {
	ctx := context.Background()
	old, err := f.svc.AppRefreshToken(ctx, token)
	if err != nil {
		return "", err
	}
	_, next, err := f.svc.RotateAppRefreshToken(ctx, old, nil)
	return next, err
}

// TestRefreshReuseInterval: a refresh token presented again within its
// app's reuse interval after its rotation gets new tokens of its family,
// the new refresh token live beside the rotation's, until either is
// rotated: then the other is stale too, and any stale token presented
// after the interval revokes the whole family, as before. With no
// interval, a second use revokes the family at once.
func TestRefreshReuseInterval(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		revoked := func(t *testing.T, f refreshFamily, tokens ...string) {
			t.Helper()
			for i, tok := range tokens {
				if _, err := f.svc.AppRefreshToken(ctx, tok); directory.KindOf(err) != directory.Unauthenticated {
					t.Errorf("refresh token %d after the family was revoked: %v; want Unauthenticated", i, err)
				}
			}
			if _, err := f.svc.AppAccessToken(ctx, f.access); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("the sign-in's access token after the family was revoked: %v; want Unauthenticated", err)
			}
		}

		t.Run("reuse within the interval, then the chain goes on", func(t *testing.T) {
			f := newRefreshFamily(t, s, "reuse", nil)
			if f.app.RefreshReuseInterval != directory.DefaultRefreshReuseInterval {
				t.Fatalf("new app's interval %s; want the default %s", f.app.RefreshReuseInterval, directory.DefaultRefreshReuseInterval)
			}
			first, err := f.refresh(f.first)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Add(directory.DefaultRefreshReuseInterval) // the interval's last moment
			twin, err := f.refresh(f.first)
			if err != nil {
				t.Fatalf("the rotated token again within the interval: %v; want new tokens", err)
			}
			if twin == "" || twin == first {
				t.Fatalf("the reuse gave refresh token %q; want a new one", twin)
			}
			// Either may go on; the other is then stale.
			next, err := f.refresh(twin)
			if err != nil {
				t.Fatalf("refreshing the reuse's token: %v", err)
			}
			f.clock.Add(directory.DefaultRefreshReuseInterval + time.Second)
			if _, err := f.refresh(first); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("the token the reuse's rotation made stale, after the interval: %v; want Unauthenticated", err)
			}
			revoked(t, f, next, twin, f.first)
		})

		t.Run("the rotated token after the interval", func(t *testing.T) {
			f := newRefreshFamily(t, s, "after", nil)
			first, err := f.refresh(f.first)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Add(directory.DefaultRefreshReuseInterval + time.Second)
			if _, err := f.refresh(f.first); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("the rotated token after the interval: %v; want Unauthenticated", err)
			}
			revoked(t, f, first)
		})

		t.Run("a token stale from an earlier rotation", func(t *testing.T) {
			// Within the interval of the latest rotation, but not of its
			// own: the token of two rotations ago.
			f := newRefreshFamily(t, s, "stale", nil)
			first, err := f.refresh(f.first)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Add(directory.DefaultRefreshReuseInterval + time.Second)
			second, err := f.refresh(first)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.refresh(f.first); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("the first token, a moment after the second rotation: %v; want Unauthenticated", err)
			}
			revoked(t, f, second)
		})

		t.Run("no interval", func(t *testing.T) {
			none := time.Duration(0)
			f := newRefreshFamily(t, s, "none", &none)
			first, err := f.refresh(f.first)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.refresh(f.first); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("the rotated token again at once, without an interval: %v; want Unauthenticated", err)
			}
			revoked(t, f, first)
		})
	})
}

// TestConcurrentRefreshes: several refreshes of one token at the same
// moment (an app's tabs or replicas) all get tokens, within the
// interval, and leave one chain: rotating any of the tokens they got
// makes all the others stale. On PostgreSQL they are made to meet: each
// is held where it stores its tokens, or where it waits for the one that
// does, until all have started.
func TestConcurrentRefreshes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f := newRefreshFamily(t, s, "acme", nil)
		const n = 4
		var release func()
		if s.Dialect() == "postgres" {
			release = holdApps(ctx, t, s, f.app.ClientID)
		}
		var wg sync.WaitGroup
		got := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { got[i], errs[i] = f.refresh(f.first) })
		}
		if release != nil {
			// One stores its tokens (its insert waits on the app's row), the
			// others wait on the refresh token it holds.
			waitForLocks(ctx, t, s, n)
			release()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("refresh %d of %d at once: %v; want tokens", i, n, err)
			}
		}
		if t.Failed() {
			return
		}
		slices.Sort(got)
		if len(slices.Compact(slices.Clone(got))) != n {
			t.Fatalf("the refreshes got %q; want %d different refresh tokens", got, n)
		}
		next, err := f.refresh(got[0])
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(directory.DefaultRefreshReuseInterval + time.Second)
		for _, tok := range got[1:] {
			if _, err := f.svc.AppRefreshToken(ctx, tok); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("a token of the concurrent refreshes after another's rotation and the interval: %v; want Unauthenticated", err)
			}
		}
		if _, err := f.svc.AppRefreshToken(ctx, next); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the newest token after a stale one came back: %v; want Unauthenticated (the family revoked)", err)
		}
	})
}

// holdApps holds, on PostgreSQL, the app's row until release is called
// (or the test ends): a transaction storing a token of the app waits
// there, on its foreign key, with the real code.
func holdApps(ctx context.Context, t *testing.T, s *store.Store, clientID string) (release func()) {
	t.Helper()
	hold, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hold.Rollback() })
	if _, err := hold.ExecContext(ctx, `SELECT client_id FROM apps WHERE client_id = $1 FOR UPDATE`, clientID); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := hold.Rollback(); err != nil {
			t.Error(err)
		}
	}
}

// waitForLocks returns once n statements of the test's PostgreSQL
// database wait for a lock.
func waitForLocks(ctx context.Context, t *testing.T, s *store.Store, n int) {
	t.Helper()
	for {
		var got int
		if err := s.DB().GetContext(ctx, &got, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d statements wait for a lock; want %d", got, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
