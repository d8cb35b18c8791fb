package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func addWithPassword(t *testing.T, svc *directory.Service, accountID, email, password string) directory.User {
	t.Helper()
	added, err := svc.AddUser(context.Background(), accountID, operator, directory.NewUser{Email: email, FirstName: "F", LastName: "L", Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return added.Member.User
}

func TestSignInAnswersAlikeAndThrottles(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "ada@example.com", "correct horse battery")
		_, wrong := signIn(svc, "ada@example.com", "wrong password", directory.Client{Addr: "10.0.0.1"})
		_, unknown := signIn(svc, "nobody@example.com", "wrong password", directory.Client{Addr: "10.0.0.1"})
		if directory.KindOf(wrong) != directory.Unauthenticated || directory.Message(wrong) != directory.Message(unknown) || directory.KindOf(unknown) != directory.Unauthenticated {
			t.Fatalf("wrong password %q, unknown email %q: want the same Unauthenticated answer", wrong, unknown)
		}
		for range 4 { // the fifth failure for this email, in any case
			_, _ = signIn(svc, "ADA@example.com", "still wrong", directory.Client{Addr: "10.0.0.2"})
		}
		_, err := signIn(svc, "ada@example.com", "correct horse battery", directory.Client{Addr: "10.0.0.3"})
		if directory.KindOf(err) != directory.Throttled || !strings.Contains(directory.Message(err), "Try again in 15 minutes") {
			t.Fatalf("after 5 failures: %v; want Throttled for 15 minutes, even with the right password", err)
		}
		// The same holds for an email no one has, so throttling reveals nothing.
		for range 5 {
			_, _ = signIn(svc, "ghost@example.com", "x", directory.Client{Addr: "10.0.0.4"})
		}
		if _, err := signIn(svc, "ghost@example.com", "x", directory.Client{Addr: "10.0.0.4"}); directory.KindOf(err) != directory.Throttled {
			t.Errorf("unknown email after 5 failures: %v; want Throttled", err)
		}
		clk.Add(15 * time.Minute)
		if _, err := signIn(svc, "ada@example.com", "correct horse battery", directory.Client{Addr: "10.0.0.3"}); err != nil {
			t.Errorf("after the window: %v", err)
		}
		if got := auditActions(t, svc, a.ID); !strings.Contains(strings.Join(got, " "), "user.locked_out") {
			t.Errorf("audit %v; want a lockout event", got)
		}
	})
}

func TestSignInPerAddressThrottle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// attacker is the address of the i-th of 50 failures; same is
		// another address of the same client, other one of another client.
		attacker    func(i int) string
		same, other string
	}{
		{"IPv4", func(int) string { return "192.0.2.9" }, "::ffff:192.0.2.9", "192.0.2.10"},
		{"IPv6 hosts of one /64", func(i int) string { return fmt.Sprintf("2001:db8:0:7:%x::%x", i, i+1) }, "2001:db8:0:7:ffff:ffff:ffff:ffff", "2001:db8:0:8::1"},
		{"IPv4-mapped IPv6", func(int) string { return "::ffff:198.51.100.4" }, "198.51.100.4", "::ffff:198.51.100.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				svc, _ := newClockService(t, s)
				for i := range 50 {
					_, _ = signIn(svc, fmt.Sprintf("user%d@example.com", i), "x", directory.Client{Addr: tc.attacker(i)})
				}
				if _, err := signIn(svc, "fresh@example.com", "x", directory.Client{Addr: tc.same}); directory.KindOf(err) != directory.Throttled {
					t.Errorf("51st attempt from %s: %v; want Throttled", tc.same, err)
				}
				if _, err := signIn(svc, "fresh@example.com", "x", directory.Client{Addr: tc.other}); directory.KindOf(err) != directory.Unauthenticated {
					t.Errorf("first attempt from %s: %v; want only Unauthenticated", tc.other, err)
				}
			})
		})
	}
}

func TestDeviceTokenExemptsFromTheEmailLockout(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "ada@example.com", "correct horse battery")
		addWithPassword(t, svc, a.ID, "bob@example.com", "bobs own passphrase")
		const right = "correct horse battery"
		in, err := signIn(svc, "ada@example.com", right, directory.Client{Addr: "10.0.0.1"})
		if err != nil || in.Device == "" {
			t.Fatalf("sign in: %v, device token %q; want one", err, in.Device)
		}
		own := directory.Client{Addr: "10.0.0.1", Device: in.Device}
		bobs, _ := signIn(svc, "bob@example.com", "bobs own passphrase", directory.Client{Addr: "10.0.0.1"})
		for range 5 {
			_, _ = signIn(svc, "ada@example.com", "a stranger's guess", directory.Client{Addr: "203.0.113.7"})
		}
		altered := []byte(in.Device)
		altered[3] ^= 1
		for _, tc := range []struct {
			name     string
			from     directory.Client
			signedIn bool // or else Throttled
		}{
			{"no device token", directory.Client{Addr: "10.0.0.1"}, false},
			{"another person's device token", directory.Client{Addr: "10.0.0.1", Device: bobs.Device}, false},
			{"an altered device token", directory.Client{Addr: "10.0.0.1", Device: string(altered)}, false},
			{"garbage", directory.Client{Addr: "10.0.0.1", Device: "x.y"}, false},
			{"the person's own device token", own, true},
		} {
			_, err := signIn(svc, "ada@example.com", right, tc.from)
			if tc.signedIn && err != nil || !tc.signedIn && directory.KindOf(err) != directory.Throttled {
				t.Errorf("%s: %v; want signed in %v, else Throttled", tc.name, err, tc.signedIn)
			}
		}
		// Failures with the device token count against it alone: after 5
		// the device is locked out too, with the right password.
		for range 5 {
			if _, err := signIn(svc, "ada@example.com", "my own typo", own); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("failure with the device token: %v", err)
			}
		}
		if _, err := signIn(svc, "ada@example.com", right, own); directory.KindOf(err) != directory.Throttled {
			t.Errorf("after 5 failures on the device: %v; want Throttled", err)
		}
		if got := strings.Join(auditActions(t, svc, a.ID), " "); strings.Count(got, "user.locked_out") != 2 {
			t.Errorf("audit %v; want two lockouts, the email's and the device's", got)
		}
		// A token is good for DeviceTokenLifetime, no longer.
		clk.Add(signInWindowForTest)
		fresh, err := signIn(svc, "ada@example.com", right, own)
		if err != nil {
			t.Fatalf("after the window: %v", err)
		}
		clk.Add(directory.DeviceTokenLifetime)
		for range 5 {
			_, _ = signIn(svc, "ada@example.com", "a stranger's guess", directory.Client{Addr: "203.0.113.8"})
		}
		if _, err := signIn(svc, "ada@example.com", right, directory.Client{Addr: "10.0.0.1", Device: fresh.Device}); directory.KindOf(err) != directory.Throttled {
			t.Errorf("a device token a year old: %v; want no exemption", err)
		}
	})
}

// signInWindowForTest is the throttling window (unexported in directory).
const signInWindowForTest = 15 * time.Minute

func TestSessionsAcrossAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		b := mustAccount(t, svc, "beta")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "one password for all")
		if _, err := svc.AddUser(ctx, b.ID, operator, directory.NewUser{Email: "p@example.com", FirstName: "F", LastName: "L"}); err != nil {
			t.Fatal(err)
		}
		// alpha's admin set the password: until the person proves the
		// address, it opens alpha only (rule 10).
		in, err := svc.SignIn(ctx, "p@example.com", "one password for all", directory.Client{Addr: "127.0.0.1"})
		if err != nil || len(in.Accounts) != 1 || in.Preferred != a.ID {
			t.Fatalf("sign in with an unproven password: %+v, %v; want alpha only", in.Accounts, err)
		}
		if _, _, err := svc.StartSession(ctx, u.ID, b.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
			t.Fatalf("session in beta with alpha's password: %v; want Forbidden", err)
		}
		proveAddress(t, svc, "p@example.com", "one password for all")
		in, err = svc.SignIn(ctx, "p@example.com", "one password for all", directory.Client{Addr: "127.0.0.1"})
		if err != nil || len(in.Accounts) != 2 || in.Preferred != "" {
			t.Fatalf("sign in: %+v, %v; want two accounts and no choice yet", in, err)
		}
		token, _, err := svc.StartSession(ctx, u.ID, b.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.Authenticate(ctx, token)
		if err != nil || v.Account.ID != b.ID {
			t.Fatalf("authenticate: %+v, %v", v.Account, err)
		}
		if in, _ = svc.SignIn(ctx, "p@example.com", "one password for all", directory.Client{Addr: "127.0.0.1"}); in.Preferred != "" {
			t.Errorf("preferred = %q before any choice; want none", in.Preferred)
		}
		if err := svc.SwitchAccount(ctx, v, a.ID); err != nil {
			t.Fatal(err)
		}
		if in, _ = svc.SignIn(ctx, "p@example.com", "one password for all", directory.Client{Addr: "127.0.0.1"}); in.Preferred != a.ID {
			t.Errorf("preferred = %q; want the account chosen last", in.Preferred)
		}
		if v, _ = svc.Authenticate(ctx, token); v.Account.ID != a.ID {
			t.Errorf("after switching: %s; want alpha", v.Account.Slug)
		}
		other := mustAccount(t, svc, "gamma")
		if err := svc.SwitchAccount(ctx, v, other.ID); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("switch to an account of someone else: %v; want Forbidden", err)
		}
		if _, err := svc.Authenticate(ctx, token+"x"); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("forged token: %v", err)
		}
		// Idle for the idle timeout: the session is over.
		clk.Add(directory.SessionIdleTimeout)
		if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("idle session: %v; want Unauthenticated", err)
		}
	})
}

func TestSessionAbsoluteEndAndDeactivation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "one password for all")
		token, _, _ := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		// Used every 4 hours, the session lives until its absolute end.
		for i := 1; 4*time.Duration(i)*time.Hour < directory.SessionMaxAge; i++ {
			clk.Add(4 * time.Hour)
			if _, err := svc.Authenticate(ctx, token); err != nil {
				t.Fatalf("active session ended after %d hours: %v", 4*i, err)
			}
		}
		clk.Add(4 * time.Hour)
		if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("after the absolute end: %v", err)
		}
		token, _, _ = svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		if _, err := svc.Deactivate(ctx, a.ID, operator, "P@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("after deactivation: %v; want the session ended", err)
		}
		if _, err := svc.SignIn(ctx, "p@example.com", "one password for all", directory.Client{Addr: "127.0.0.1"}); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("sign-in of a deactivated member: %v; want Forbidden", err)
		}
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "p@example.com", FirstName: "F", LastName: "L"}); !strings.Contains(directory.Message(err), "reactivate") {
			t.Errorf("adding a deactivated member: %v; want advice to reactivate", err)
		}
		if _, err := svc.Reactivate(ctx, a.ID, operator, "p@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reactivate(ctx, a.ID, operator, "p@example.com"); directory.KindOf(err) != directory.Conflict {
			t.Errorf("reactivating an active member: %v; want Conflict", err)
		}
		if _, err := svc.SignIn(ctx, "p@example.com", "one password for all", directory.Client{Addr: "127.0.0.1"}); err != nil {
			t.Errorf("sign-in after reactivation: %v", err)
		}
	})
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		mine, _, _ := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		theirs, _, _ := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		v, err := svc.Authenticate(ctx, mine)
		if err != nil || !v.User.PasswordMustChange {
			t.Fatalf("visit %+v, %v; want a password that must change", v.User, err)
		}
		for _, tc := range []struct{ current, next, want string }{
			{"not it", "a brand new passphrase", "current password is not right"},
			{"initial password given", "initial password given", "different from your current"},
			{"initial password given", "short", "at least 12"},
		} {
			if _, _, err := svc.ChangePassword(ctx, v, tc.current, tc.next); directory.KindOf(err) != directory.Invalid || !strings.Contains(directory.Message(err), tc.want) {
				t.Errorf("change %q -> %q: %v; want %q", tc.current, tc.next, err, tc.want)
			}
		}
		renewed, _, err := svc.ChangePassword(ctx, v, "initial password given", "a brand new passphrase")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := svc.Authenticate(ctx, renewed); err != nil || v.User.PasswordMustChange || v.Account.ID != a.ID {
			t.Errorf("own session, renewed, after change: %v, must change %v", err, v.User.PasswordMustChange)
		}
		if _, err := svc.Authenticate(ctx, mine); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("own session's old token after change: %v; want ended (a copy of it must not outlive the change)", err)
		}
		if _, err := svc.Authenticate(ctx, theirs); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("other session after change: %v; want ended", err)
		}
		if _, err := svc.SignIn(ctx, "p@example.com", "a brand new passphrase", directory.Client{Addr: "127.0.0.1"}); err != nil {
			t.Errorf("sign in with the new password: %v", err)
		}
	})
}

func TestInitialPasswordExpires(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		if _, err := svc.SetPasswordPolicy(ctx, a.ID, operator, directory.PasswordPolicy{MinLength: 12, InitialPasswordDays: 3}); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * 24 * time.Hour)
		if _, err := svc.SignIn(ctx, "p@example.com", "initial password given", directory.Client{Addr: "127.0.0.1"}); err != nil {
			t.Fatalf("initial password on day 2 of 3: %v", err)
		}
		clk.Add(24*time.Hour + time.Minute)
		if _, err := svc.SignIn(ctx, "p@example.com", "initial password given", directory.Client{Addr: "127.0.0.1"}); directory.KindOf(err) != directory.Forbidden || !strings.Contains(directory.Message(err), "expired") {
			t.Errorf("expired initial password: %v; want Forbidden, expired", err)
		}
	})
}

func TestSweepDeletesOnlyWhatExpired(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "one password for all")
		old, _, _ := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		_, _ = svc.SignIn(ctx, "p@example.com", "wrong", directory.Client{Addr: "10.0.0.1"})
		clk.Add(directory.SessionIdleTimeout + time.Minute)
		fresh, _, _ := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		n, err := svc.Sweep(ctx)
		if err != nil || n != 3 { // the idle session, and the failure for the email and for the address
			t.Errorf("swept %d, %v; want 3", n, err)
		}
		if _, err := svc.Authenticate(ctx, fresh); err != nil {
			t.Errorf("the live session was swept: %v", err)
		}
		if _, err := svc.Authenticate(ctx, old); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the idle session: %v", err)
		}
	})
}

// TestProxiedStrangerDoesNotLockOutDevices: behind a reverse proxy every
// sign-in comes from the proxy's address, so the per-address count is the
// whole site's. A stranger's 50 failures without a device token filled
// it, and every sign-in, with a device token too, was refused for 15
// minutes. Attempts with a valid device token are not counted per
// address: failures without one do not touch them.
func TestProxiedStrangerDoesNotLockOutDevices(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		const right = "correct horse battery"
		addWithPassword(t, svc, a.ID, "ada@example.com", right)
		proxy := directory.Client{Addr: "10.0.0.1"}
		in, err := svc.SignIn(ctx, "ada@example.com", right, proxy)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			_, _ = svc.SignIn(ctx, fmt.Sprintf("user%d@example.com", i), "x", proxy)
		}
		if _, err := svc.SignIn(ctx, "ada@example.com", right, proxy); directory.KindOf(err) != directory.Throttled {
			t.Errorf("ada without her device token, through the proxy: %v; want Throttled", err)
		}
		if _, err := svc.SignIn(ctx, "ada@example.com", right, directory.Client{Addr: proxy.Addr, Device: in.Device}); err != nil {
			t.Errorf("ada with her device token, through the proxy: %v; want signed in", err)
		}
	})
}

// signIn is SignIn as the sign-in page does it: a failure is then
// recorded in the audit log.
// TestDeviceTokensShareOneLimit: each sign-in gives the browser a new
// device token, so whoever copied the cookie after each of a person's
// sign-ins (a shared computer) holds many. Together they buy 10 failures
// in 15 minutes, not 5 each; the failure that fills that count is in the
// audit log as a lockout of every device, though no one token's count
// reached its own limit.
func TestDeviceTokensShareOneLimit(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		const right = "correct horse battery"
		addWithPassword(t, svc, a.ID, "ada@example.com", right)
		var copies []directory.Client
		for range 4 {
			in, err := signIn(svc, "ada@example.com", right, directory.Client{Addr: "10.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			copies = append(copies, directory.Client{Addr: "203.0.113.7", Device: in.Device})
		}
		for i, n := range []int{5, 4, 1} {
			for range n {
				if _, err := signIn(svc, "ada@example.com", "a guess", copies[i]); directory.KindOf(err) != directory.Unauthenticated {
					t.Fatalf("guess with copy %d: %v; want Unauthenticated", i, err)
				}
			}
		}
		if _, err := signIn(svc, "ada@example.com", right, copies[3]); directory.KindOf(err) != directory.Throttled {
			t.Errorf("a fourth token, unused, after 10 failures of the others: %v; want Throttled", err)
		}
		var lockouts []map[string]any
		events, err := svc.AuditEvents(context.Background(), a.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Action == "user.locked_out" {
				var data map[string]any
				if err := json.Unmarshal(e.Data, &data); err != nil {
					t.Fatal(err)
				}
				lockouts = append(lockouts, data)
			}
		}
		slices.Reverse(lockouts)
		want := []map[string]any{{"device": true, "failures": 5.0}, {"device": true, "every_device": true, "failures": 10.0}}
		if diff := cmp.Diff(want, lockouts); diff != "" {
			t.Errorf("lockouts in the audit log (-want +got):\n%s", diff)
		}
		clk.Add(signInWindowForTest)
		if _, err := signIn(svc, "ada@example.com", right, copies[3]); err != nil {
			t.Errorf("the fourth token after the window: %v; want signed in", err)
		}
	})
}

// TestDeviceTokenEndsWithThePassword: a device token is bound to the
// email and the password hash it signed in with. Once the password is set
// anew (even to the same password), the person signs out everywhere, or
// the person is erased and the address given to someone else with that
// very password, the old token exempts from nothing: a stranger's lockout
// holds for it too.
func TestDeviceTokenEndsWithThePassword(t *testing.T) {
	t.Parallel()
	const email, right = "ada@example.com", "correct horse battery"
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, svc *directory.Service, a directory.Account, userID string)
	}{
		{"nothing changed", func(*testing.T, *directory.Service, directory.Account, string) {}},
		{"the password set anew, the same", func(t *testing.T, svc *directory.Service, _ directory.Account, userID string) {
			if err := svc.SetPassword(context.Background(), userID, operator, right); err != nil {
				t.Fatal(err)
			}
		}},
		{"the person signed out everywhere", func(t *testing.T, svc *directory.Service, _ directory.Account, userID string) {
			if err := svc.SignOutEverywhere(context.Background(), directory.Visit{User: directory.User{ID: userID, Email: email}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"the person erased, the address someone else's", func(t *testing.T, svc *directory.Service, a directory.Account, _ string) {
			if _, err := svc.ErasePerson(context.Background(), operator, email, directory.EraseOptions{}); err != nil {
				t.Fatal(err)
			}
			addWithPassword(t, svc, a.ID, email, right)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				svc := directory.NewService(directory.Config{Store: s, Hasher: fastHasher()})
				a := mustAccount(t, svc, "acme")
				u := addWithPassword(t, svc, a.ID, email, right)
				in, err := signIn(svc, email, right, directory.Client{Addr: "10.0.0.1"})
				if err != nil {
					t.Fatal(err)
				}
				tc.change(t, svc, a, u.ID)
				for range 5 {
					_, _ = signIn(svc, email, "a stranger's guess", directory.Client{Addr: "203.0.113.7"})
				}
				_, err = signIn(svc, email, right, directory.Client{Addr: "10.0.0.1", Device: in.Device})
				want := tc.name == "nothing changed"
				if exempt := err == nil; exempt != want {
					t.Errorf("the old device token after %s: %v; want exempt from the stranger's lockout %v", tc.name, err, want)
				}
			})
		})
	}
}

// TestDeviceTokenAfterSigningOutEverywhere: signing out everywhere ends
// the device tokens issued until then, in the same second too, and not
// those of the sign-ins after it.
func TestDeviceTokenAfterSigningOutEverywhere(t *testing.T) {
	t.Parallel()
	const email, right = "ada@example.com", "correct horse battery"
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, email, right)
		here := directory.Client{Addr: "10.0.0.1"}
		// On a whole second, the sign-in and the signing out at one
		// instant: a token holds whole seconds, and one of the second the
		// person signed out in may be from before.
		clk.Add(time.Second - time.Duration(clk.Now().Nanosecond()))
		before, err := signIn(svc, email, right, here)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SignOutEverywhere(ctx, directory.Visit{User: u}); err != nil {
			t.Fatal(err)
		}
		clk.Add(2 * time.Second)
		after, err := signIn(svc, email, right, here)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			_, _ = signIn(svc, email, "a stranger's guess", directory.Client{Addr: "203.0.113.7"})
		}
		if _, err := signIn(svc, email, right, directory.Client{Addr: "10.0.0.1", Device: before.Device}); err == nil {
			t.Error("a device token from before signing out everywhere is still exempt from the stranger's lockout")
		}
		if _, err := signIn(svc, email, right, directory.Client{Addr: "10.0.0.1", Device: after.Device}); err != nil {
			t.Errorf("the device token of a sign-in after signing out everywhere: %v; want exempt", err)
		}
	})
}

// TestConcurrentSignInsOfOnePerson: a success clears the person's count
// while other sign-ins of theirs are counting it (two tabs, a double
// click, a script). Each must still get its answer: the count and its
// oldest failure were two reads, and a clear between them answered
// "find oldest sign-in failure: no rows", an error of ours (a 500).
func TestConcurrentSignInsOfOnePerson(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := directory.NewService(directory.Config{Store: s, Hasher: fastHasher()})
		a := mustAccount(t, svc, "acme")
		const right = "correct horse battery"
		addWithPassword(t, svc, a.ID, "ada@example.com", right)
		var wg sync.WaitGroup
		// Fewer at once than the lockout's 5: attempts in flight count
		// until they are answered.
		errs := make(chan error, 200)
		for range 4 {
			wg.Go(func() {
				for range 50 {
					if _, err := svc.SignIn(context.Background(), "ada@example.com", right, directory.Client{Addr: "10.0.0.1"}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a concurrent sign-in with the right password: %v", err)
		}
	})
}

func signIn(svc *directory.Service, email, password string, from directory.Client) (directory.SignedIn, error) {
	in, err := svc.SignIn(context.Background(), email, password, from)
	if rerr := svc.RecordFailedSignIn(context.Background(), err); rerr != nil {
		return in, rerr
	}
	return in, err
}

// hangUpStore is a store whose caller hangs up right after a sign-in
// attempt is counted: the request's context ends there, as it does when a
// client closes its connection while its attempt waits (for the count, for
// a slot to hash its password).
type hangUpStore struct {
	*store.Store
	hangUp context.CancelFunc
}

func (s hangUpStore) AddSignInFailure(ctx context.Context, key, attempt string, at time.Time) error {
	err := s.Store.AddSignInFailure(ctx, key, attempt, at)
	s.hangUp()
	return err
}

// TestHungUpAttemptsLeaveNoRows: an attempt whose client hung up is taken
// back all the same. Counting before the check writes a row first; were it
// taken back on the request's context, every request cut off after its
// row was written would leave it (a cheap write for anyone, no password
// hashed: DESIGN rule 12), and count as a failure it never was.
func TestHungUpAttemptsLeaveNoRows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for i := range 20 {
			ctx, cancel := context.WithCancel(context.Background())
			svc := directory.NewService(directory.Config{Store: hangUpStore{s, cancel}, Hasher: fastHasher()})
			_, err := svc.SignIn(ctx, fmt.Sprintf("nobody%d@example.com", i), "guess", directory.Client{Addr: fmt.Sprintf("2001:db8:%x::1", i)})
			cancel()
			if err == nil {
				t.Fatal("signed in")
			}
		}
		var rows int
		if err := s.DB().Get(&rows, `SELECT COUNT(*) FROM sign_in_failures`); err != nil {
			t.Fatal(err)
		}
		if rows != 0 {
			t.Errorf("20 attempts cut off by a hang-up left %d rows; want 0", rows)
		}
	})
}

// TestChangePasswordLimitsGuesses: whoever holds a copied session cookie
// guesses the current password on the change form at most five times in
// the window, as at sign-in; the right one is then refused too, until the
// window passes. A stranger who filled the person's sign-in lockout does
// not keep the person from changing their password.
func TestChangePasswordLimitsGuesses(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme")
		u := addWithPassword(t, svc, a.ID, "p@example.com", "initial password given")
		for i := range 5 {
			from := directory.Client{Addr: fmt.Sprintf("192.0.2.%d", i+1)}
			if _, err := svc.SignIn(ctx, "p@example.com", "a stranger's guess", from); directory.KindOf(err) != directory.Unauthenticated {
				t.Fatalf("stranger's guess %d: %v", i, err)
			}
		}
		token, _, err := svc.StartSession(ctx, u.ID, a.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.Authenticate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, _, err := svc.ChangePassword(ctx, v, fmt.Sprintf("guess %d", i), "a brand new passphrase"); directory.KindOf(err) != directory.Invalid {
				t.Fatalf("guess %d: %v; want the current password refused", i, err)
			}
		}
		if _, _, err := svc.ChangePassword(ctx, v, "initial password given", "a brand new passphrase"); directory.KindOf(err) != directory.Throttled {
			t.Fatalf("the right password after five guesses: %v; want Throttled", err)
		}
		clk.Add(16 * time.Minute)
		if _, _, err := svc.ChangePassword(ctx, v, "initial password given", "a brand new passphrase"); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
}
