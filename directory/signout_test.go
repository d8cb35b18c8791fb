package directory_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// appTokens runs an authorization of the app for the person in the
// account to the end and returns the refresh token.
func appTokens(t *testing.T, svc *directory.Service, app directory.App, userID, accountID string) string {
	t.Helper()
	_, refresh := ssoSignInToApp(t, svc, app, directory.ByPassword, userID, accountID)
	return refresh
}

// sessionOf opens a session for the person in the account.
func sessionOf(t *testing.T, svc *directory.Service, userID, accountID string) string {
	t.Helper()
	token, _, err := svc.StartSession(context.Background(), userID, accountID, directory.ByPassword)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// dueLogouts claims the back-channel logouts due and returns their
// accounts, sorted.
func dueLogouts(t *testing.T, svc *directory.Service) []string {
	t.Helper()
	due, err := svc.ClaimAppLogouts(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var accounts []string
	for _, l := range due {
		accounts = append(accounts, l.AccountID)
		if err := svc.FinishAppLogout(context.Background(), l, nil); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(accounts)
	return accounts
}

// TestEndSessions: an admin ends a member's sessions in their account
// only (rule 1), with the app tokens and a back-channel logout there; the
// membership stays. The person signing out everywhere ends all of theirs,
// in every account.
func TestEndSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		acme, globex := mustAccount(t, svc, "acme"), mustAccount(t, svc, "globex")
		pat := addWithPassword(t, svc, acme.ID, "pat@example.com", "one password for all")
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "pat@example.com", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "pat@example.com", "one password for all")
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Told", RedirectURIs: []string{"https://told.example/cb"}, BackchannelLogoutURI: "https://told.example/logout"})
		if err != nil {
			t.Fatal(err)
		}
		acmeApp, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Acme's", RedirectURIs: []string{"https://acme-app.example/cb"}, AccountID: acme.ID})
		if err != nil {
			t.Fatal(err)
		}
		add := func(a directory.Account, email string, role directory.Role) directory.Member {
			t.Helper()
			added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "A", LastName: "B", Role: role, Password: "a password the operator chose"})
			if err != nil {
				t.Fatal(err)
			}
			return added.Member
		}
		ann, olive, gus := add(acme, "ann@example.com", directory.RoleAdmin), add(acme, "olive@example.com", directory.RoleOwner), add(globex, "gus@example.com", directory.RoleMember)
		v, err := svc.Authenticate(ctx, sessionOf(t, svc, ann.User.ID, acme.ID))
		if err != nil {
			t.Fatal(err)
		}
		adm, err := svc.Console(ctx, v, "acme")
		if err != nil {
			t.Fatal(err)
		}
		patHere, err := s.FindMembership(ctx, acme.ID, pat.ID)
		if err != nil {
			t.Fatal(err)
		}

		acmeRefresh, globexRefresh := appTokens(t, svc, app, pat.ID, acme.ID), appTokens(t, svc, app, pat.ID, globex.ID)
		laptop, phone, elsewhere := sessionOf(t, svc, pat.ID, acme.ID), sessionOf(t, svc, pat.ID, globex.ID), sessionOf(t, svc, pat.ID, globex.ID)
		// phone was in globex when the sessions ended, then comes back; a
		// hand-off of it to acme's wiki was under way.
		wiki, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", ForwardAuthHost: "wiki.acme.example", AccountID: acme.ID})
		if err != nil {
			t.Fatal(err)
		}
		nonce := directory.NewHandoffNonce()
		phoneVisit, err := svc.Authenticate(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		code, _, err := svc.StartHandoff(ctx, phoneVisit, "https://wiki.acme.example/", directory.HandoffBinding(nonce), true)
		if err != nil {
			t.Fatalf("hand-off to %s before: %v", wiki.Name, err)
		}
		clk.Add(time.Second)
		m, err := svc.EndMemberSessions(ctx, adm, patHere.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Membership.Status != directory.StatusActive || m.User.ID != pat.ID {
			t.Errorf("answered %s %s; want pat, still active", m.User.Email, m.Membership.Status)
		}
		if _, err := svc.Authenticate(ctx, laptop); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the acme session after the admin ended them: %v; want Unauthenticated", err)
		}
		if v, err := svc.Authenticate(ctx, elsewhere); err != nil || v.Account.ID != globex.ID {
			t.Errorf("pat's globex session after acme's admin ended theirs in acme: %v; want it alive", err)
		}
		// A session that was elsewhere when they ended does not come back
		// into acme: not by switching, nor for an app of acme's, nor by a
		// switch that raced the end.
		if _, _, _, err := svc.FinishHandoff(ctx, code, "wiki.acme.example", nonce); err == nil {
			t.Errorf("a hand-off to acme's wiki made before, redeemed afterwards: allowed; want refused")
		}
		if _, _, err := svc.StartHandoff(ctx, phoneVisit, "https://wiki.acme.example/", directory.HandoffBinding(nonce), true); err == nil {
			t.Errorf("a hand-off to acme's wiki afterwards: allowed; want refused")
		}
		if v, err := svc.Authenticate(ctx, phone); err != nil {
			t.Fatal(err)
		} else if err := svc.SwitchAccount(ctx, v, acme.ID); err == nil {
			t.Errorf("pat's globex session switching into acme afterwards: allowed; want refused")
		}
		if v, err := svc.Authenticate(ctx, phone); err != nil {
			t.Fatal(err)
		} else if a, err := svc.StartAppAuthorization(ctx, directory.AppAuthorization{ClientID: acmeApp.ClientID, RedirectURI: acmeApp.RedirectURIs[0], Scopes: []string{"openid"}, ResponseType: "code"}); err != nil {
			t.Fatal(err)
		} else if _, err := svc.CompleteAppAuthorization(ctx, a, v); err == nil {
			t.Errorf("pat's globex session authorizing acme's app afterwards: allowed; want refused")
		}
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE sessions SET account_id = ? WHERE id_hash = ?`), acme.ID, sha256Hex(phone)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, phone); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("a session moved into acme by a switch that raced the end: %v; want Unauthenticated", err)
		}
		if _, err := svc.AppRefreshToken(ctx, acmeRefresh); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("acme refresh token: %v; want Unauthenticated", err)
		}
		if _, err := svc.AppRefreshToken(ctx, globexRefresh); err != nil {
			t.Errorf("globex refresh token: %v; want it alive", err)
		}
		if got := dueLogouts(t, svc); !slices.Equal(got, []string{acme.ID}) {
			t.Errorf("back-channel logouts due in %v; want acme's", got)
		}
		if got := auditActions(t, svc, acme.ID); !slices.Contains(got, "membership.sessions_ended") {
			t.Errorf("acme's audit: %v; want membership.sessions_ended", got)
		}
		if got := auditActions(t, svc, globex.ID); slices.Contains(got, "membership.sessions_ended") {
			t.Errorf("globex's audit: %v; want no sessions_ended", got)
		}
		clk.Add(time.Second)
		if token, _, err := svc.StartSession(ctx, pat.ID, acme.ID, directory.ByPassword); err != nil {
			t.Errorf("pat signing in to acme again: %v", err)
		} else if _, err := svc.Authenticate(ctx, token); err != nil {
			t.Errorf("pat's new acme session: %v", err)
		}

		// Refusals: another account's person is not found; an owner
		// answers to owners only.
		gusThere, err := s.FindMembership(ctx, globex.ID, gus.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{gusThere.ID, gus.User.ID} {
			if _, err := svc.EndMemberSessions(ctx, adm, id); directory.KindOf(err) != directory.NotFound {
				t.Errorf("acme's admin on globex's person %s: %v; want NotFound", id, err)
			}
		}
		if _, err := svc.EndMemberSessions(ctx, adm, olive.Membership.ID); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("an admin on an owner: %v; want Forbidden", err)
		}
		if _, err := svc.EndSessions(ctx, acme.ID, operator, "gus@example.com"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the CLI on globex's person in acme: %v; want NotFound", err)
		}

		// The person: every session, every account.
		acmeRefresh = appTokens(t, svc, app, pat.ID, acme.ID)
		here, err := svc.Authenticate(ctx, elsewhere)
		if err != nil {
			t.Fatal(err)
		}
		laptop = sessionOf(t, svc, pat.ID, acme.ID)
		if err := svc.SignOutEverywhere(ctx, here); err != nil {
			t.Fatal(err)
		}
		for name, token := range map[string]string{"this browser": elsewhere, "laptop": laptop} {
			if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("%s after signing out everywhere: %v; want Unauthenticated", name, err)
			}
		}
		for name, token := range map[string]string{"acme": acmeRefresh, "globex": globexRefresh} {
			if _, err := svc.AppRefreshToken(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("%s refresh token: %v; want Unauthenticated", name, err)
			}
		}
		want := []string{acme.ID, globex.ID}
		slices.Sort(want)
		if got := dueLogouts(t, svc); !slices.Equal(got, want) {
			t.Errorf("back-channel logouts due in %v; want both accounts", got)
		}
		for _, a := range []directory.Account{acme, globex} {
			if got := auditActions(t, svc, a.ID); !slices.Contains(got, "user.signed_out_everywhere") {
				t.Errorf("%s's audit: %v; want user.signed_out_everywhere", a.Slug, got)
			}
		}
		if v, err := svc.Authenticate(ctx, sessionOf(t, svc, ann.User.ID, acme.ID)); err != nil || v.User.ID != ann.User.ID {
			t.Errorf("someone else's session: %v", err)
		}
	})
}

// sha256Hex is how the store keys a session token.
func sha256Hex(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TestEndedSessionsEndCodesInFlight: an authorization code an app has not
// exchanged yet when the person's sessions end (an admin's end, signing
// out everywhere, a deactivation) opens nothing: exchanged afterwards, it
// gave the app tokens of a sign-in that was ended.
func TestEndedSessionsEndCodesInFlight(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		pat := addWithPassword(t, svc, acme.ID, "pat@example.com", "one password for all")
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", RedirectURIs: []string{"https://wiki.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, end := range []struct {
			name string
			do   func(v directory.Visit) error
		}{
			{"an operator's end", func(directory.Visit) error {
				_, err := svc.EndSessions(ctx, acme.ID, operator, "pat@example.com")
				return err
			}},
			{"signing out everywhere", func(v directory.Visit) error { return svc.SignOutEverywhere(ctx, v) }},
		} {
			v, err := svc.Authenticate(ctx, sessionOf(t, svc, pat.ID, acme.ID))
			if err != nil {
				t.Fatal(err)
			}
			a, err := svc.StartAppAuthorization(ctx, directory.AppAuthorization{ClientID: app.ClientID, RedirectURI: app.RedirectURIs[0], Scopes: []string{"openid"}, ResponseType: "code"})
			if err != nil {
				t.Fatal(err)
			}
			if a, err = svc.CompleteAppAuthorization(ctx, a, v); err != nil {
				t.Fatal(err)
			}
			code := end.name + " code"
			if err := svc.IssueAppCode(ctx, a.ID, code); err != nil {
				t.Fatal(err)
			}
			if err := end.do(v); err != nil {
				t.Fatal(err)
			}
			if a, err := svc.AppAuthorizationByCode(ctx, code); err == nil {
				if _, _, err := svc.IssueAppTokens(ctx, a, true); err == nil {
					t.Errorf("%s: a code issued before it was exchanged for tokens", end.name)
				}
			}
		}
	})
}
