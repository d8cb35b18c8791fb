package directory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAppClaims is the table of what an app is told about a person:
// email_verified only when something proved the address (an emailed link,
// or a login through a connection serving the account's verified domain),
// amr by how they signed in, groups from SCIM and from the last SSO login.
func TestAppClaims(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		okta := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		sso, err := svc.SignInWithSSO(ctx, okta, directory.Identity{Email: "sam@acme.example", FirstName: "Sam", LastName: "Sso", Groups: []string{"Engineering", "Admins"}})
		if err != nil {
			t.Fatal(err)
		}
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@elsewhere.example", FirstName: "Pat", LastName: "Set", Password: "a password the admin chose"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: "ivy@elsewhere.example", Role: directory.RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		ivy, err := svc.AcceptInvitation(ctx, linkOf(t, svc, "ivy@elsewhere.example"), directory.Acceptance{FirstName: "Ivy", LastName: "Invited", Password: "ivy's own passphrase"})
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example.com/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			user string
			cred directory.Credential
			want directory.AppClaims
		}{
			{"SSO through the verified domain's connection", sso.Member.User.ID, directory.BySSO(okta), directory.AppClaims{
				Subject: sso.Member.User.ID, Email: "sam@acme.example", EmailVerified: true, Name: "Sam Sso", GivenName: "Sam", FamilyName: "Sso",
				Role: directory.RoleMember, Groups: []string{"Admins", "Engineering"}, AMR: []string{"saml"}}},
			{"a password an admin set", added.Member.User.ID, directory.ByPassword, directory.AppClaims{
				Subject: added.Member.User.ID, Email: "pat@elsewhere.example", Name: "Pat Set", GivenName: "Pat", FamilyName: "Set",
				Role: directory.RoleMember, AMR: []string{"pwd"}}},
			{"a password set through the emailed invitation", ivy.User.ID, directory.ByPassword, directory.AppClaims{
				Subject: ivy.User.ID, Email: "ivy@elsewhere.example", EmailVerified: true, Name: "Ivy Invited", GivenName: "Ivy", FamilyName: "Invited",
				Role: directory.RoleAdmin, AMR: []string{"pwd"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := svc.AppClaimsFor(ctx, app.ClientID, tc.user, acme.ID, tc.cred)
				if err != nil {
					t.Fatal(err)
				}
				tc.want.Account = directory.AppClaimsAccount{ID: acme.ID, Slug: "acme", Name: "ACME"}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
			})
		}
		other := mustAccount(t, svc, "other")
		if _, err := svc.AppClaimsFor(ctx, app.ClientID, ivy.User.ID, other.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("claims in an account the person is not in: %v; want Forbidden", err)
		}
		if _, err := svc.Deactivate(ctx, acme.ID, operator, "ivy@elsewhere.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AppClaimsFor(ctx, app.ClientID, ivy.User.ID, acme.ID, directory.ByPassword); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("claims of a deactivated member: %v; want Forbidden", err)
		}
	})
}

// TestAppStateIsSwept: authorizations and tokens past their end are
// deleted by the sweep that every replica runs.
func TestAppStateIsSwept(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q", Password: "a password the admin chose"})
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := svc.StartSession(ctx, added.Member.User.ID, acme.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.Authenticate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		// Starting writes nothing: anonymous requests cost no rows.
		started, err := svc.StartAppAuthorization(ctx, directory.AppAuthorization{ClientID: app.ClientID, RedirectURI: "https://wiki.example/cb", Scopes: []string{"openid"}, ResponseType: "code"})
		if err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, s, "app_authorizations"); got != 0 {
			t.Fatalf("%d authorizations stored before anyone signed in", got)
		}
		a, err := svc.CompleteAppAuthorization(ctx, started, v)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.IssueAppTokens(ctx, a, true); err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, s, "app_authorizations") + countRows(t, s, "app_tokens"); got != 3 {
			t.Fatalf("%d rows before the sweep; want 3", got)
		}
		// A request completed after its expiry is refused.
		late := started
		late.ExpiresAt = late.CreatedAt
		if _, err := svc.CompleteAppAuthorization(ctx, late, v); directory.KindOf(err) != directory.NotFound {
			t.Errorf("completing an expired request: %v; want NotFound", err)
		}
		clk.Add(max(directory.AppAuthorizationTTL, directory.AppAccessTokenTTL) + time.Second)
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, s, "app_authorizations") + countRows(t, s, "app_tokens"); got != 1 {
			t.Errorf("%d rows after the authorizations and the access token ended; want 1 (the refresh token)", got)
		}
		clk.Add(directory.AppRefreshTokenTTL)
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if got := countRows(t, s, "app_tokens"); got != 0 {
			t.Errorf("%d tokens after the refresh token ended; want 0", got)
		}
	})
}

// signInToApp runs an authorization of the app for the person to the
// end: a session, the authorization, its tokens.
func signInToApp(t *testing.T, svc *directory.Service, app directory.App, userID, accountID string) {
	t.Helper()
	ssoSignInToApp(t, svc, app, directory.ByPassword, userID, accountID)
}

// TestMembershipEndQueuesBackchannelLogouts: deactivating a member (admin
// or SCIM) or deleting them (SCIM) queues a logout for each app with a
// back-channel URI they signed in to, in the same transaction, and ends
// their tokens; a logout that keeps failing is given up and audited.
func TestMembershipEndQueuesBackchannelLogouts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q", Password: "a password the admin chose"})
		if err != nil {
			t.Fatal(err)
		}
		userID := added.Member.User.ID
		told, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Told", RedirectURIs: []string{"https://told.example/cb"}, BackchannelLogoutURI: "https://told.example/logout"})
		if err != nil {
			t.Fatal(err)
		}
		untold, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Untold", RedirectURIs: []string{"https://untold.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		_, scimToken, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "Okta")
		if err != nil {
			t.Fatal(err)
		}
		for _, end := range []struct {
			name string
			fn   func() error
		}{
			{"admin deactivation", func() error { _, err := svc.Deactivate(ctx, acme.ID, operator, "pat@acme.example"); return err }},
			{"SCIM deactivation", func() error {
				_, err := svc.ReplaceSCIMUser(ctx, acme.ID, scimToken, added.Member.Membership.ID, directory.SCIMUserInput{
					Profile: directory.SCIMProfile{UserName: "pat@acme.example"}, Email: "pat@acme.example", Active: false}, directory.IfVersion{})
				return err
			}},
			{"SCIM deletion", func() error {
				return svc.DeleteSCIMUser(ctx, acme.ID, scimToken, added.Member.Membership.ID, directory.IfVersion{})
			}},
		} {
			t.Run(end.name, func(t *testing.T) {
				signInToApp(t, svc, told, userID, acme.ID)
				signInToApp(t, svc, untold, userID, acme.ID)
				if err := end.fn(); err != nil {
					t.Fatal(err)
				}
				due, err := svc.ClaimAppLogouts(ctx, 10)
				if err != nil || len(due) != 1 || due[0].ClientID != told.ClientID || due[0].UserID != userID || due[0].App.BackchannelLogoutURI != "https://told.example/logout" {
					t.Fatalf("logouts due: %+v, %v; want one, to the app that asked", due, err)
				}
				if n := countRows(t, s, "app_tokens") + countRows(t, s, "app_sign_ins"); n != 0 {
					t.Errorf("%d tokens and sign-ins left", n)
				}
				if err := svc.FinishAppLogout(ctx, due[0], nil); err != nil {
					t.Fatal(err)
				}
				if _, err := svc.Reactivate(ctx, acme.ID, operator, "pat@acme.example"); err != nil && end.name != "SCIM deletion" {
					t.Fatal(err)
				}
			})
		}

		// A logout that keeps failing is tried AppLogoutAttempts times.
		if _, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		signInToApp(t, svc, told, userID, acme.ID)
		if _, err := svc.Deactivate(ctx, acme.ID, operator, "pat@acme.example"); err != nil {
			t.Fatal(err)
		}
		for attempt := 1; attempt <= directory.AppLogoutAttempts; attempt++ {
			due, err := svc.ClaimAppLogouts(ctx, 10)
			if err != nil || len(due) != 1 || due[0].Attempts != attempt {
				t.Fatalf("attempt %d: %+v, %v", attempt, due, err)
			}
			if err := svc.FinishAppLogout(ctx, due[0], errors.New("503 Service Unavailable")); err != nil {
				t.Fatal(err)
			}
			clk.Add(10 * time.Minute)
		}
		if n := countRows(t, s, "app_logouts"); n != 0 {
			t.Errorf("%d logouts left after giving up", n)
		}
		if acts := auditActions(t, svc, acme.ID); acts[len(acts)-1] != "app.backchannel_logout_failed" {
			t.Errorf("audit ends with %v", acts[len(acts)-3:])
		}
	})
}

// TestReusedCodeRevokesItsTokens: a code presented again after its
// exchange is refused, and the tokens issued from it end (RFC 6749
// section 4.1.2), refresh tokens rotated since included.
func TestReusedCodeRevokesItsTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme")
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q", Password: "a password the admin chose"})
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example/cb"}})
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
		authorize := func(code string) directory.AppAuthorization {
			t.Helper()
			a, err := svc.StartAppAuthorization(ctx, directory.AppAuthorization{ClientID: app.ClientID, RedirectURI: "https://wiki.example/cb", Scopes: []string{"openid"}, ResponseType: "code"})
			if err != nil {
				t.Fatal(err)
			}
			if a, err = svc.CompleteAppAuthorization(ctx, a, v); err != nil {
				t.Fatal(err)
			}
			if err := svc.IssueAppCode(ctx, a.ID, code); err != nil {
				t.Fatal(err)
			}
			return a
		}
		// The exchange, as the provider runs it.
		exchange := func(code string) (directory.AppToken, string, error) {
			a, err := svc.AppAuthorizationByCode(ctx, code)
			if err != nil {
				return directory.AppToken{}, "", err
			}
			defer func() { _ = svc.EndAppAuthorization(ctx, a.ID) }()
			return svc.IssueAppTokens(ctx, a, true)
		}
		authorize("the first code")
		access, refresh, err := exchange("the first code")
		if err != nil {
			t.Fatal(err)
		}
		// Tokens of another sign-in stay.
		authorize("another code")
		otherAccess, _, err := exchange("another code")
		if err != nil {
			t.Fatal(err)
		}
		old, err := svc.AppRefreshToken(ctx, refresh)
		if err != nil {
			t.Fatal(err)
		}
		rotatedAccess, rotated, err := svc.RotateAppRefreshToken(ctx, old, nil)
		if err != nil {
			t.Fatal(err)
		}

		if _, _, err := exchange("the first code"); directory.KindOf(err) != directory.NotFound {
			t.Fatalf("the code again: %v; want NotFound (invalid_grant)", err)
		}
		for name, id := range map[string]string{"access token": access.ID, "access token after rotation": rotatedAccess.ID} {
			if _, err := svc.AppAccessToken(ctx, id); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("%s after the code's replay: %v; want Unauthenticated", name, err)
			}
		}
		if _, err := svc.AppRefreshToken(ctx, rotated); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("rotated refresh token after the code's replay: %v; want Unauthenticated", err)
		}
		if _, err := svc.AppAccessToken(ctx, otherAccess.ID); err != nil {
			t.Errorf("another sign-in's access token: %v; want it to stay", err)
		}
		events, err := svc.AuditEvents(ctx, acme.ID, 20)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			found = found || e.Action == "app.code_reused"
		}
		if !found {
			t.Error("no app.code_reused audit event")
		}
		if _, _, err := exchange("a code never issued"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("an unknown code: %v; want NotFound", err)
		}
	})
}

// TestCodeEndedWhileExchanged: an exchange claims its code, then checks
// the app and the person, then stores the tokens. A replay of the code, or
// the end of the person's access (sign out everywhere, an admin ending
// their sessions), that comes in between must leave no tokens behind:
// RFC 6749 section 4.1.2 asks that a replay revoke the tokens of the
// code, and the person was told their access ended. Here the steps run in
// that order one after the other, as two requests interleave.
func TestCodeEndedWhileExchanged(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		added, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "pat@acme.example", FirstName: "Pat", LastName: "Q", Password: "a password the admin chose"})
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		for i, between := range []struct {
			name string
			fn   func(code string, v directory.Visit) error
		}{
			{"the code replayed", func(code string, _ directory.Visit) error {
				if _, err := svc.AppAuthorizationByCode(ctx, code); directory.KindOf(err) != directory.NotFound {
					t.Errorf("the replay: %v; want NotFound", err)
				}
				return nil
			}},
			{"sign out everywhere", func(_ string, v directory.Visit) error { return svc.SignOutEverywhere(ctx, v) }},
			{"an admin ending the sessions", func(string, directory.Visit) error {
				_, err := svc.EndSessions(ctx, acme.ID, operator, "pat@acme.example")
				return err
			}},
		} {
			t.Run(between.name, func(t *testing.T) {
				token, _, err := svc.StartSession(ctx, added.Member.User.ID, acme.ID, directory.ByPassword)
				if err != nil {
					t.Fatal(err)
				}
				v, err := svc.Authenticate(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				started, err := svc.StartAppAuthorization(ctx, directory.AppAuthorization{ClientID: app.ClientID, RedirectURI: "https://wiki.example/cb", Scopes: []string{"openid", "offline_access"}, ResponseType: "code"})
				if err != nil {
					t.Fatal(err)
				}
				a, err := svc.CompleteAppAuthorization(ctx, started, v)
				if err != nil {
					t.Fatal(err)
				}
				code := fmt.Sprintf("code-%d", i)
				if err := svc.IssueAppCode(ctx, a.ID, code); err != nil {
					t.Fatal(err)
				}
				claimed, err := svc.AppAuthorizationByCode(ctx, code)
				if err != nil {
					t.Fatal(err)
				}
				if err := between.fn(code, v); err != nil {
					t.Fatal(err)
				}
				access, refresh, err := svc.IssueAppTokens(ctx, claimed, true)
				if err == nil {
					t.Errorf("tokens issued for the code after %s (access %s, refresh %t)", between.name, access.ID, refresh != "")
				} else if directory.KindOf(err) != directory.NotFound {
					t.Errorf("issuing after %s: %v; want NotFound (invalid_grant)", between.name, err)
				}
				if n := countRows(t, s, "app_tokens"); n != 0 {
					t.Errorf("%d tokens stored after %s; want 0", n, between.name)
				}
			})
		}
	})
}

// TestRefreshInFlightWhenAccessEnds: on PostgreSQL, a refresh that is
// storing its new tokens while the person's access ends (an admin ends
// their sessions, they sign out everywhere, or the app signs them out at
// end_session) must not leave those tokens alive: a DELETE that waits on
// the row the refresh locked deletes only the rows there were when it
// started, and a thief who refreshes in a loop would keep a refresh token
// through the very step meant to lock them out. The refresh is paused,
// with the real code, where it stores the new tokens (their foreign key
// waits on the app's row, which the test holds); the end of access starts
// meanwhile; then the refresh goes on.
func TestRefreshInFlightWhenAccessEnds(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	for _, end := range []struct {
		name string
		fn   func(ctx context.Context, f refreshFamily, held directory.AppToken) error
	}{
		{"sessions", func(ctx context.Context, f refreshFamily, held directory.AppToken) error {
			_, err := f.svc.EndSessions(ctx, held.AccountID, operator, "pat@sessions.example")
			return err
		}},
		{"signout", func(ctx context.Context, f refreshFamily, held directory.AppToken) error {
			// The app's sign-out with an ID token of this sign-in as hint.
			return f.svc.EndAppSignIn(ctx, held.UserID, held.ClientID, held.AuthTime.Truncate(time.Second))
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			f := newRefreshFamily(t, s, end.name, nil)
			old, err := f.svc.AppRefreshToken(ctx, f.first)
			if err != nil {
				t.Fatal(err)
			}
			release := holdApps(ctx, t, s, f.app.ClientID)
			rotated := make(chan error, 1)
			go func() {
				_, _, err := f.svc.RotateAppRefreshToken(ctx, old, nil)
				rotated <- err
			}()
			waitForLocks(ctx, t, s, 1) // the refresh, storing its new tokens
			ended := make(chan error, 1)
			go func() { ended <- end.fn(ctx, f, old) }()
			waitForLocks(ctx, t, s, 2) // and the end of access, on the refresh token's row
			release()
			if err := <-rotated; err != nil {
				t.Logf("the refresh: %v", err)
			}
			if err := <-ended; err != nil {
				t.Fatal(err)
			}
			var n int
			if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM app_tokens WHERE user_id = $1`, old.UserID); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d tokens alive after the access ended; want 0", n)
			}
		})
	}
}
