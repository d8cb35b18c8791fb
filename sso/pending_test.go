package sso_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// rowCounts counts the rows of every table of the database.
func rowCounts(t testing.TB, s *store.Store) map[string]int {
	t.Helper()
	ctx := context.Background()
	query := `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	if s.Dialect() == "sqlite" {
		query = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	}
	var tables []string
	if err := s.DB().SelectContext(ctx, &tables, query); err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("found only the tables %v", tables)
	}
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM "`+table+`"`); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// TestLoginStartsWriteNoRow: starting a login is anonymous, so it must
// write nothing (DESIGN rule 12). 200 starts (a row for each would show, as
// would one for every hundred), SAML by redirect and OIDC, each from a
// client without cookies as an attacker would send them, leave every table
// as it was.
func TestLoginStartsWriteNoRow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		client := w.sp.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		start := func(connection string) {
			t.Helper()
			resp, err := client.Get(w.sp.URL + "/sso/acme/login?connection=" + connection + "&return_to=/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || len(resp.Cookies()) != 1 {
				t.Fatalf("start at %s: %d, cookies %v", connection, resp.StatusCode, resp.Cookies())
			}
		}
		start("zitadel") // discovery, once, before counting
		before := rowCounts(t, s)
		connections := []string{"okta", "strict", "zitadel", "inline"}
		for i := range 200 {
			start(connections[i%len(connections)])
		}
		if diff := cmp.Diff(before, rowCounts(t, s)); diff != "" {
			t.Errorf("rows after 200 login starts (-before +after):\n%s", diff)
		}
		// The sign-ins so started are real: one of them finishes.
		b := w.browser()
		if pg := b.get(b.oidcCallback(p, "zitadel", "bob", "/done")); pg.status != http.StatusSeeOther || pg.location != "/done" {
			t.Errorf("a login after the flood: %d %q", pg.status, pg.location)
		}
	})
}

// pendingCookies are the browser's pending sign-ins at admit.
func (b *browser) pendingCookies() []*http.Cookie {
	b.w.t.Helper()
	u, _ := url.Parse(b.w.sp.URL + "/sso/")
	var out []*http.Cookie
	for _, c := range b.client.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "admit_sso_") {
			out = append(out, c)
		}
	}
	return out
}

// setCookie puts a cookie into the browser as admit would have set it.
func (b *browser) setCookie(name, value string) {
	u, _ := url.Parse(b.w.sp.URL + "/sso/")
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/sso/"}})
}

// startSAML starts a login at the connection and returns the IdP URL the
// browser is sent to with the AuthnRequest.
func (b *browser) startSAML(connection string) string {
	b.w.t.Helper()
	start := b.get(b.w.sp.URL + "/sso/acme/login?connection=" + connection)
	if start.status != http.StatusFound || !strings.HasPrefix(start.location, b.w.idp.URL+"/sso?") {
		b.w.t.Fatalf("intranet link: %d %s %s", start.status, start.location, start.body)
	}
	return start.location
}

// answerAtIdP signs in at the IdP for the AuthnRequest in location and
// returns the ACS and the response form; called twice, the IdP answers the
// same request twice, with two assertions.
func (b *browser) answerAtIdP(location, user string) (string, url.Values) {
	b.w.t.Helper()
	acs, form := fields(b.get(location).body)
	if form.Get("SAMLResponse") != "" {
		return acs, form // signed in at the IdP already
	}
	form.Set("user", user)
	form.Set("password", "pw-"+user)
	acs, resp := fields(b.post(b.w.idp.URL+"/sso", form).body)
	if resp.Get("SAMLResponse") == "" {
		b.w.t.Fatal("the IdP gave no SAMLResponse")
	}
	return acs, resp
}

// TestPendingSignInRefusals hands admit what an attacker holds of a
// pending sign-in: an altered cookie, another connection's, an expired
// one, a second answer to a request already answered (with the cookie
// kept from before, at another replica). Each is refused with the failure
// page, and nobody is signed in. (The answer opened in another browser is
// in TestSAMLRefusals and TestOIDCRefusals.)
func TestPendingSignInRefusals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		p := w.newProvider()
		other := w.replica()
		onOther := func(u string) string { return strings.Replace(u, w.sp.URL, other.URL, 1) }
		refused := func(t *testing.T, b *browser, pg page, c directory.Connection, reason string) {
			t.Helper()
			if pg.status != http.StatusForbidden || !strings.Contains(pg.body, "Reference") {
				t.Errorf("got %d: %.300s", pg.status, pg.body)
			}
			if who := b.me(); who != "" {
				t.Errorf("signed in as %q", who)
			}
			if at := w.lastAttempt(c); at.Outcome != "refused" || !strings.Contains(at.Reason, reason) {
				t.Errorf("login log: %s %q; want the reason to mention %q", at.Outcome, at.Reason, reason)
			}
		}

		t.Run("SAML: an altered cookie", func(t *testing.T) {
			b := w.browser()
			acs, form := b.answerAtIdP(b.startSAML("strict"), "alice")
			ck := b.pendingCookies()
			if len(ck) != 1 {
				t.Fatalf("pending cookies: %v", ck)
			}
			v := []byte(ck[0].Value)
			v[len(v)/2] ^= 1
			b.setCookie(ck[0].Name, string(v))
			refused(t, b, b.post(acs, form), w.strict, "no sign-in pending in this browser")
		})
		t.Run("SAML: another connection's cookie under this request's name", func(t *testing.T) {
			b := w.browser()
			b.startSAML("okta")
			oktaCookie := b.pendingCookies()[0]
			acs, form := b.answerAtIdP(b.startSAML("strict"), "alice")
			for _, c := range b.pendingCookies() {
				if c.Name != oktaCookie.Name {
					b.setCookie(c.Name, oktaCookie.Value)
				}
			}
			refused(t, b, b.post(acs, form), w.strict, "no sign-in pending in this browser")
		})
		t.Run("SAML: a request answered twice, the cookie kept, at another replica", func(t *testing.T) {
			b := w.browser()
			location := b.startSAML("strict")
			kept := b.pendingCookies()[0]
			acs, first := b.answerAtIdP(location, "alice")
			acs2, second := b.answerAtIdP(location, "alice")
			if pg := b.post(acs, first); pg.status != http.StatusSeeOther {
				t.Fatalf("first answer: %d %.300s", pg.status, pg.body)
			}
			thief := w.browser()
			thief.setCookie(kept.Name, kept.Value)
			refused(t, thief, thief.post(onOther(acs2), second), w.strict, "already answered")
		})
		t.Run("OIDC: an expired cookie", func(t *testing.T) {
			late := w.replicaAtTime(w.sp.URL, func() time.Time { return time.Now().Add(directory.SSORequestLifetime + time.Minute) })
			b := w.browser()
			callback := b.oidcCallback(p, "zitadel", "bob", "")
			refused(t, b, b.get(strings.Replace(callback, w.sp.URL, late.URL, 1)), w.connection("zitadel"), "no sign-in pending in this browser")
		})
		t.Run("OIDC: a state answered twice, the cookie kept, at another replica", func(t *testing.T) {
			b := w.browser()
			start := b.get(w.sp.URL + "/sso/acme/login?connection=zitadel")
			kept := b.pendingCookies()[0]
			first := b.atProvider(p, start.location, "bob")
			second := b.atProvider(p, start.location, "bob") // the same state, a second code
			if pg := b.get(first); pg.status != http.StatusSeeOther {
				t.Fatalf("first answer: %d %.300s", pg.status, pg.body)
			}
			thief := w.browser()
			thief.setCookie(kept.Name, kept.Value)
			refused(t, thief, thief.get(onOther(second)), w.connection("zitadel"), "already answered")
		})
		t.Run("several sign-ins pending in one browser finish in any order", func(t *testing.T) {
			b := w.browser()
			okta := b.startSAML("okta")
			strict := b.startSAML("strict")
			again := b.startSAML("strict")
			for i, location := range []string{again, okta, strict} {
				acs, form := b.answerAtIdP(location, "alice")
				if pg := b.post(acs, form); pg.status != http.StatusSeeOther {
					t.Errorf("sign-in %d: %d %.300s", i, pg.status, pg.body)
				}
			}
			if left := b.pendingCookies(); len(left) != 0 {
				t.Errorf("pending cookies left: %v", left)
			}
		})
	})
}

// TestJunkKeepsRealAttemptsInView posts more junk to an ACS than the
// login log holds, after a real login: the real attempt is still shown.
func TestJunkKeepsRealAttemptsInView(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		b := w.browser()
		acs, form := b.samlResponse("okta", "alice", "")
		if pg := b.post(acs, form); pg.status != http.StatusSeeOther {
			t.Fatalf("real login: %d", pg.status)
		}
		junk := []url.Values{
			{"SAMLResponse": {"not base64!"}},
			{"SAMLResponse": {b64([]byte("<not-saml/>"))}},
			{"SAMLResponse": {b64([]byte(deepResponse(100)))}},
			editResponse(t, form, func(x string) string { return strings.Replace(x, "alice@example.com", "ceo@example.com", 1) }),
		}
		for i := range directory.LoginLogSize + 50 {
			if pg := w.browser().post(acs, junk[i%len(junk)]); pg.status < 400 || pg.status >= 500 {
				t.Fatalf("junk %d: %d", i, pg.status)
			}
		}
		all, err := w.svc.LoginAttempts(context.Background(), w.acme.ID, w.okta.ID, 5)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, at := range all {
			outcomes = append(outcomes, fmt.Sprintf("%s verified=%v", at.Outcome, at.Verified))
		}
		sort.Strings(outcomes)
		want := []string{"refused verified=false", "refused verified=false", "refused verified=false", "refused verified=false", "refused verified=false", "signed in verified=true"}
		if diff := cmp.Diff(want, outcomes); diff != "" {
			t.Errorf("the login log shows (-want +got):\n%s", diff)
		}
	})
}

// TestRepostedAnswerEntersVerifiedLogOnce: a signed response refused by a
// rule after its signature checked out (here, one without a bearer
// confirmation) is a verified attempt the first time; posted again, it is a
// copy, refused as already used and kept with the unverified junk, so one
// captured response cannot fill the verified part of the log.
func TestRepostedAnswerEntersVerifiedLogOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		w := newWorld(t, s)
		w.tamper.set(func(a *saml.Assertion) {
			a.Subject.SubjectConfirmations[0].Method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
		})
		acs, form := w.browser().idpInitiated("okta", "alice", "")
		w.tamper.set(nil)
		for range 5 {
			if pg := w.browser().post(acs, form); pg.status != http.StatusForbidden {
				t.Fatalf("ACS: %d", pg.status)
			}
		}
		all, err := w.svc.LoginAttempts(context.Background(), w.acme.ID, w.okta.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, at := range all {
			got = append(got, fmt.Sprintf("verified=%v %s", at.Verified, at.Reason))
		}
		sort.Strings(got)
		want := []string{"verified=false this sign-in response was already used", "verified=false this sign-in response was already used",
			"verified=false this sign-in response was already used", "verified=false this sign-in response was already used",
			"verified=true the assertion has no bearer SubjectConfirmation with SubjectConfirmationData"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the login log (-want +got):\n%s", diff)
		}
	})
}
