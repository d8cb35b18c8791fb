package directory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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
// oneWins checks the errors of racers of which exactly one is to succeed:
// each other must be of kind lost (a Conflict, a Gone), never an internal
// error.
func oneWins(t *testing.T, what string, errs []error, lost directory.Kind) {
	t.Helper()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case directory.KindOf(err) != lost:
			t.Errorf("%s, racer %d: %v (kind %v); want success or kind %v", what, i, err, directory.KindOf(err), lost)
		}
	}
	if ok != 1 {
		t.Errorf("%s: %d racers succeeded, want 1 (%v)", what, ok, errs)
	}
}

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

// TestSSOAndSCIMOfTwoAccountsAtOnceMakeOnePerson: acme's identity provider
// signs a new person in (JIT) while hooli's SCIM creates them at the same
// moment: one user, a membership in each account.
func TestSSOAndSCIMOfTwoAccountsAtOnceMakeOnePerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme, hooli := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "hooli")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		_, tok, err := svc.CreateSCIMToken(ctx, hooli.ID, operator, "entra")
		if err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			email := fmt.Sprintf("both%d@acme.example", round)
			errs := race(2, func(i int) error {
				if i == 0 {
					_, err := svc.SignInWithSSO(ctx, c, directory.Identity{Email: email, FirstName: "Bo", LastName: "Th"})
					return err
				}
				_, err := svc.CreateSCIMUser(ctx, hooli.ID, tok, scimInput(email, email, "ext-"+email, "Bo", "Th", true))
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("round %d: %s: %v", round, []string{"SSO login", "SCIM create"}[i], err)
				}
			}
			if _, n := membershipsOf(t, s, email); n != 2 {
				t.Errorf("round %d: %d memberships, want 2", round, n)
			}
		}
	})
}

// TestAddAndSCIMCreateAtOnceMakeOneMember: an admin adds a person by hand
// while the account's SCIM creates the same address. One person, one
// membership; the one that came second is told the person is there
// (Conflict), never an internal error.
func TestAddAndSCIMCreateAtOnceMakeOneMember(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		_, tok, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			email := fmt.Sprintf("twice%d@acme.example", round)
			errs := race(2, func(i int) error {
				if i == 0 {
					_, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: email, FirstName: "Tw", LastName: "Ice"})
					return err
				}
				_, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput(email, email, "ext-"+email, "Tw", "Ice", true))
				return err
			})
			oneWins(t, fmt.Sprintf("round %d: admin add and SCIM create", round), errs, directory.Conflict)
			if _, n := membershipsOf(t, s, email); n != 1 {
				t.Errorf("round %d: %d memberships, want 1", round, n)
			}
		}
	})
}

// TestInvitationAcceptedTwiceAtOnce: a double submit of the invitation
// form. One person with one membership; the other submit is told the link
// was used (Gone, a readable page), never an internal error.
func TestInvitationAcceptedTwiceAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		for round := range 3 {
			email := fmt.Sprintf("invited%d@example.com", round)
			if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: email}); err != nil {
				t.Fatal(err)
			}
			link := linkOf(t, svc, email)
			errs := race(2, func(int) error {
				_, err := svc.AcceptInvitation(ctx, link, directory.Acceptance{FirstName: "In", LastName: "Vited", Password: "a passphrase of my own"})
				return err
			})
			oneWins(t, fmt.Sprintf("round %d: the invitation submitted twice", round), errs, directory.Gone)
			if _, n := membershipsOf(t, s, email); n != 1 {
				t.Errorf("round %d: %d memberships, want 1", round, n)
			}
		}
	})
}

// TestResetLinkUsedTwiceAtOnce: a reset link is single-use (rule 5) also
// when its form is submitted twice at once: one password is set, the
// other submit is Gone.
func TestResetLinkUsedTwiceAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		for round := range 3 {
			email := fmt.Sprintf("reset%d@example.com", round)
			addWithPassword(t, svc, acme.ID, email, "the initial password given")
			if err := svc.RequestPasswordReset(ctx, email); err != nil {
				t.Fatal(err)
			}
			token := resetLinkOf(t, svc, email)
			errs := race(racers, func(i int) error {
				_, err := svc.CompletePasswordReset(ctx, token, fmt.Sprintf("new passphrase number %d", i))
				return err
			})
			oneWins(t, fmt.Sprintf("round %d: the reset link used at once", round), errs, directory.Gone)
		}
	})
}

// TestAdminDoubleClicks: an admin's Add and Invite buttons pressed twice:
// one member or invitation, the other click a Conflict (a readable
// message), never an internal error.
func TestAdminDoubleClicks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		for round := range 3 {
			for _, what := range []string{"add", "invite"} {
				email := fmt.Sprintf("%s%d@example.com", what, round)
				errs := race(2, func(int) error {
					if what == "add" {
						_, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: email, FirstName: "Dou", LastName: "Ble", Password: "an initial passphrase"})
						return err
					}
					_, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: email})
					return err
				})
				oneWins(t, fmt.Sprintf("round %d: %s twice", round, what), errs, directory.Conflict)
				if _, n := membershipsOf(t, s, email); n != 1 {
					t.Errorf("round %d: %s: %d memberships, want 1", round, what, n)
				}
			}
		}
	})
}

// TestInvitedPersonSignsInTwiceAtOnce: an invited person answers the
// invitation by signing in through SSO, with a double click, or while
// submitting the invitation form too. Every login lets them in (the form
// may be told its link was used), and the membership is active once.
func TestInvitedPersonSignsInTwiceAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		for round := range 3 {
			email := fmt.Sprintf("invited%d@acme.example", round)
			if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: email}); err != nil {
				t.Fatal(err)
			}
			link := linkOf(t, svc, email)
			errs := race(4, func(i int) error {
				if i == 3 {
					_, err := svc.AcceptInvitation(ctx, link, directory.Acceptance{FirstName: "In", LastName: "Vited", Password: "a passphrase of my own"})
					if directory.KindOf(err) == directory.Gone {
						return nil
					}
					return err
				}
				_, err := svc.SignInWithSSO(ctx, c, directory.Identity{Email: email, FirstName: "In", LastName: "Vited"})
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("round %d: %s %d: %v (kind %v)", round, map[bool]string{true: "form", false: "login"}[i == 3], i, err, directory.KindOf(err))
				}
			}
			if _, n := membershipsOf(t, s, email); n != 1 {
				t.Errorf("round %d: %d memberships, want 1", round, n)
			}
		}
	})
}

// TestDeactivationsAtOnce: an admin deactivates a member twice at once
// (a double click, or the CLI beside the console): the member is
// deactivated, and it is told once.
func TestDeactivationsAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		for round := range 3 {
			email := fmt.Sprintf("off%d@example.com", round)
			if _, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: email, FirstName: "Of", LastName: "F"}); err != nil {
				t.Fatal(err)
			}
			for i, err := range race(3, func(int) error {
				_, err := svc.Deactivate(ctx, acme.ID, operator, email)
				return err
			}) {
				if err != nil {
					t.Errorf("round %d: deactivate %d: %v", round, i, err)
				}
			}
		}
		if got := auditActions(t, svc, acme.ID); countOf(got, "membership.deactivated") != 3 {
			t.Errorf("%d membership.deactivated audit events for 3 deactivations", countOf(got, "membership.deactivated"))
		}
	})
}

func countOf(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// TestOnePersonJoinsTwoAccountsAtOnce: two accounts take in the same new
// person at the same moment, each its own way (an admin's add, an
// invitation, SCIM, SSO): one user, a membership in each, and neither
// account is told the person exists.
func TestOnePersonJoinsTwoAccountsAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme, hooli := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "hooli")
		c := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		_, tok, err := svc.CreateSCIMToken(ctx, hooli.ID, operator, "entra")
		if err != nil {
			t.Fatal(err)
		}
		ways := map[string]func(email string) error{
			"acme add": func(email string) error {
				_, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: email, FirstName: "Jo", LastName: "In"})
				return err
			},
			"acme SSO": func(email string) error {
				_, err := svc.SignInWithSSO(ctx, c, directory.Identity{Email: email, FirstName: "Jo", LastName: "In"})
				return err
			},
			"hooli add": func(email string) error {
				_, err := svc.AddUser(ctx, hooli.ID, operator, directory.NewUser{Email: email, FirstName: "Jo", LastName: "In"})
				return err
			},
			"hooli invite": func(email string) error {
				_, err := svc.Invite(ctx, hooli.ID, operator, directory.NewInvitation{Email: email})
				return err
			},
			"hooli SCIM": func(email string) error {
				_, err := svc.CreateSCIMUser(ctx, hooli.ID, tok, scimInput(email, email, "ext-"+email, "Jo", "In", true))
				return err
			},
		}
		n := 0
		for _, a := range []string{"acme add", "acme SSO"} {
			for _, b := range []string{"hooli add", "hooli invite", "hooli SCIM"} {
				for range 2 {
					n++
					email := fmt.Sprintf("join%d@acme.example", n)
					for i, err := range race(2, func(i int) error { return ways[[]string{a, b}[i]](email) }) {
						if err != nil {
							t.Errorf("%s beside %s: %s: %v", a, b, []string{a, b}[i], err)
						}
					}
					if _, got := membershipsOf(t, s, email); got != 2 {
						t.Errorf("%s beside %s: %d memberships, want 2", a, b, got)
					}
				}
			}
		}
	})
}

// TestImportBesideSCIM: an admin's spreadsheet import runs while the
// account's SCIM creates some of the same people: the batch still
// finishes (the people SCIM made count as there already), every person
// is in the account once, and SCIM's creates that came second are a
// Conflict, never an internal error.
func TestImportBesideSCIM(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		_, tok, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		const n = 40
		var rows []directory.ImportRow
		for i := range n {
			rows = append(rows, directory.ImportRow{Line: i + 2, Email: fmt.Sprintf("row%d@example.com", i), FirstName: "Ro", LastName: "W"})
		}
		im, err := svc.CreateImport(ctx, acme.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword}, rows)
		if err != nil {
			t.Fatal(err)
		}
		errs := race(n/4+1, func(i int) error {
			if i == 0 {
				// As bulk.Runner does: a batch that lost the race for a
				// person to a SCIM create (each of its attempts) is run
				// again, and then counts that person as there already.
				for conflicts := 0; im.Status.Open(); {
					next, err := svc.RunImportBatch(ctx, im, time.Minute)
					if directory.KindOf(err) == directory.Conflict && conflicts < 10 {
						conflicts++
						continue
					}
					if err != nil {
						return err
					}
					im = next
				}
				return nil
			}
			email := fmt.Sprintf("row%d@example.com", (i-1)*4)
			_, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput(email, email, "ext-"+email, "Ro", "W", true))
			if directory.KindOf(err) == directory.Conflict {
				return nil
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		for i := range n {
			if _, got := membershipsOf(t, s, fmt.Sprintf("row%d@example.com", i)); got != 1 {
				t.Errorf("row%d: %d memberships", i, got)
			}
		}
	})
}
