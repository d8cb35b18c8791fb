package directory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestEndSAMLSessions: a LogoutRequest ends the sessions that its
// connection's sign-ins opened for the NameID, of the SessionIndex given,
// or all of them without one, with their hand-offs and the apps' sessions
// they gave (tokens, a back-channel logout naming each). Never a session
// of another connection, though the NameID is the same, nor of another
// account's connection, nor a password sign-in.
func TestEndSAMLSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		acme, globex := mustAccount(t, svc, "acme", "example.com"), mustAccount(t, svc, "globex")
		okta, other := connection(t, svc, acme.ID, "okta", directory.JITCreate), connection(t, svc, acme.ID, "other", directory.JITCreate)
		globexOkta := connection(t, svc, globex.ID, "okta", directory.JITCreate)
		pat := addWithPassword(t, svc, acme.ID, "pat@example.com", "one password for all")
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "pat@example.com", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "pat@example.com", "one password for all")
		kim := addWithPassword(t, svc, acme.ID, "kim@example.com", "another password here")
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Told", RedirectURIs: []string{"https://told.example/cb"}, BackchannelLogoutURI: "https://told.example/logout"})
		if err != nil {
			t.Fatal(err)
		}
		saml := func(c directory.Connection, nameID, index string) directory.Credential {
			return directory.BySAML(c, directory.SAMLSubject{NameID: nameID, Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", SessionIndex: index})
		}
		open := func(userID, accountID string, cred directory.Credential) string {
			t.Helper()
			clk.Add(time.Millisecond) // sessions of one person start apart
			token, _, err := svc.StartSession(ctx, userID, accountID, cred)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		alive := func(name, token string, want bool) {
			t.Helper()
			_, err := svc.Authenticate(ctx, token)
			if got := err == nil; got != want {
				t.Errorf("%s: alive %v (%v), want %v", name, got, err, want)
			}
		}

		clk.Add(time.Millisecond)
		laptop, laptopRefresh := ssoSignInToApp(t, svc, app, saml(okta, "pat@example.com", "s1"), pat.ID, acme.ID)
		clk.Add(time.Millisecond)
		phone, phoneRefresh := ssoSignInToApp(t, svc, app, saml(okta, "pat@example.com", "s2"), pat.ID, acme.ID)
		viaOther := open(pat.ID, acme.ID, saml(other, "pat@example.com", "s1"))
		inGlobex := open(pat.ID, globex.ID, saml(globexOkta, "pat@example.com", "s1"))
		password := open(pat.ID, acme.ID, directory.ByPassword)
		kims := open(kim.ID, acme.ID, saml(okta, "kim@example.com", "s1"))
		// laptop was handed to a forward-auth app's host.
		wiki, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "Wiki", ForwardAuthHost: "wiki.example.com", AccountID: acme.ID})
		if err != nil {
			t.Fatal(err)
		}
		nonce := directory.NewHandoffNonce()
		v, err := svc.Authenticate(ctx, laptop)
		if err != nil {
			t.Fatal(err)
		}
		code, _, err := svc.StartHandoff(ctx, v, "https://"+wiki.ForwardAuthHost+"/", directory.HandoffBinding(nonce), true)
		if err != nil {
			t.Fatal(err)
		}
		onWiki, _, _, err := svc.FinishHandoff(ctx, code, wiki.ForwardAuthHost, nonce)
		if err != nil {
			t.Fatal(err)
		}

		out, err := svc.EndSAMLSessions(ctx, okta, "pat@example.com", []string{"s1"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Sessions != 1 || !slices.Equal(out.Emails, []string{"pat@example.com"}) {
			t.Errorf("ended %+v; want pat's one session", out)
		}
		alive("the session of SessionIndex s1", laptop, false)
		alive("its hand-off on the wiki's host", onWiki, false)
		alive("pat's other okta session (s2)", phone, true)
		alive("the same NameID through another connection", viaOther, true)
		alive("the same NameID through globex's connection", inGlobex, true)
		alive("pat's password session", password, true)
		alive("kim's okta session", kims, true)
		if _, err := svc.AppRefreshToken(ctx, laptopRefresh); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("the app's refresh token of the ended session: %v; want Unauthenticated", err)
		}
		if _, err := svc.AppRefreshToken(ctx, phoneRefresh); err != nil {
			t.Errorf("the app's refresh token of pat's other session: %v; want it alive", err)
		}
		due, err := svc.ClaimAppLogouts(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].AccountID != acme.ID || due[0].UserID != pat.ID || due[0].AuthTime.IsZero() {
			t.Fatalf("back-channel logouts due: %+v; want one to the app for pat's ended session (its sid)", due)
		}
		laptopStart := due[0].AuthTime
		if err := svc.FinishAppLogout(ctx, due[0], nil); err != nil {
			t.Fatal(err)
		}
		if got := auditActions(t, svc, acme.ID); !slices.Contains(got, "user.signed_out_by_idp") {
			t.Errorf("acme's audit: %v; want user.signed_out_by_idp", got)
		}

		// Without a SessionIndex: all of the person's sessions of the
		// connection; the app hears of the other session, by its own sid.
		out, err = svc.EndSAMLSessions(ctx, okta, "pat@example.com", nil)
		if err != nil || out.Sessions != 1 {
			t.Errorf("ending the rest: %+v, %v; want phone's session", out, err)
		}
		alive("pat's other okta session", phone, false)
		alive("the same NameID through another connection", viaOther, true)
		alive("pat's password session", password, true)
		if due := dueLogoutsOf(t, svc); len(due) != 1 || due[0].AuthTime.Equal(laptopStart) {
			t.Errorf("back-channel logouts due: %+v; want one for phone's session, not the laptop's again", due)
		}

		// Nothing open: nothing to end, no error.
		if out, err := svc.EndSAMLSessions(ctx, okta, "pat@example.com", nil); err != nil || out.Sessions != 0 {
			t.Errorf("again: %+v, %v; want nothing ended", out, err)
		}
		if out, err := svc.EndSAMLSessions(ctx, okta, "", nil); directory.KindOf(err) != directory.Invalid {
			t.Errorf("no NameID: %+v, %v; want Invalid", out, err)
		}

		// A session okta opened that switched to globex since is still
		// okta's sign-in: it ends, audited where it is.
		switched := open(pat.ID, acme.ID, saml(okta, "pat@example.com", "s3"))
		if v, err := svc.Authenticate(ctx, switched); err != nil {
			t.Fatal(err)
		} else if err := svc.SwitchAccount(ctx, v, globex.ID); err != nil {
			t.Fatal(err)
		}
		if out, err := svc.EndSAMLSessions(ctx, okta, "pat@example.com", []string{"s3"}); err != nil || out.Sessions != 1 {
			t.Errorf("the switched session: %+v, %v; want it ended", out, err)
		}
		alive("okta's session switched to globex", switched, false)
		alive("globex's own connection's session", inGlobex, true)
		if got := auditActions(t, svc, globex.ID); !slices.Contains(got, "user.signed_out_by_idp") {
			t.Errorf("globex's audit: %v; want user.signed_out_by_idp", got)
		}
	})
}

func dueLogoutsOf(t *testing.T, svc *directory.Service) []directory.DueAppLogout {
	t.Helper()
	due, err := svc.ClaimAppLogouts(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range due {
		if err := svc.FinishAppLogout(context.Background(), l, nil); err != nil {
			t.Fatal(err)
		}
	}
	return due
}

// TestSignOutNamesTheSAMLConnection: signing out ends the session and
// names the SAML connection that opened it, with what its assertion said,
// so that the person is sent on to its identity provider; also after the
// session switched accounts. A password session names none.
func TestSignOutNamesTheSAMLConnection(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme, globex := mustAccount(t, svc, "acme", "example.com"), mustAccount(t, svc, "globex")
		okta := connection(t, svc, acme.ID, "okta", directory.JITCreate)
		pat := addWithPassword(t, svc, acme.ID, "pat@example.com", "one password for all")
		if _, err := svc.AddUser(ctx, globex.ID, operator, directory.NewUser{Email: "pat@example.com", FirstName: "Pat", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		proveAddress(t, svc, "pat@example.com", "one password for all")
		sub := directory.SAMLSubject{NameID: "u-1", Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", NameQualifier: "https://idp.example", SPNameQualifier: "https://sp.example", SessionIndex: "idx-1"}
		for _, switched := range []bool{false, true} {
			token, _, err := svc.StartSession(ctx, pat.ID, acme.ID, directory.BySAML(okta, sub))
			if err != nil {
				t.Fatal(err)
			}
			if switched {
				v, err := svc.Authenticate(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				if err := svc.SwitchAccount(ctx, v, globex.ID); err != nil {
					t.Fatal(err)
				}
			}
			out, err := svc.SignOut(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if out.Connection.ID != okta.ID || out.Account.ID != acme.ID || out.Session.Credential.SAML != sub {
				t.Errorf("switched %v: signed out %+v; want okta's connection and the assertion's subject %+v", switched, out, sub)
			}
			if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("switched %v: the session after signing out: %v", switched, err)
			}
		}
		token, _, err := svc.StartSession(ctx, pat.ID, acme.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := svc.SignOut(ctx, token); err != nil || out.Connection.ID != "" || out.Session.UserID != pat.ID {
			t.Errorf("a password session: %+v, %v; want no connection", out, err)
		}
		if out, err := svc.SignOut(ctx, "no such token"); err != nil || out.Session.IDHash != "" {
			t.Errorf("no session: %+v, %v", out, err)
		}
	})
}

// TestLogoutRequestIDsAreUsedOnce: a LogoutRequest id acted on is refused
// again at the same connection, and is its own at another.
func TestLogoutRequestIDsAreUsedOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		acme := mustAccount(t, svc, "acme")
		okta, other := connection(t, svc, acme.ID, "okta", directory.JITCreate), connection(t, svc, acme.ID, "other", directory.JITCreate)
		until := time.Now().Add(5 * time.Minute)
		if err := svc.AcceptLogoutRequestOnce(ctx, okta, "id-1", until); err != nil {
			t.Fatal(err)
		}
		if err := svc.AcceptLogoutRequestOnce(ctx, okta, "id-1", until); directory.KindOf(err) != directory.Conflict {
			t.Errorf("the same id again: %v; want Conflict", err)
		}
		if err := svc.AcceptLogoutRequestOnce(ctx, other, "id-1", until); err != nil {
			t.Errorf("the same id at another connection: %v", err)
		}
		// Assertion ids and admit's own request ids live apart.
		if err := svc.AcceptAssertionOnce(ctx, okta, "id-1", until); err != nil {
			t.Errorf("an assertion of the same id: %v", err)
		}
	})
}
