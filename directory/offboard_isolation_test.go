package directory_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// side is one account of offboardWorld and the ids of what is in it.
type side struct {
	account directory.Account
	scim    directory.SCIMToken
	conn    directory.Connection
	app     directory.App
	// sessions and refresh tokens (of the account's app) of its people, by
	// email
	sessions, refresh map[string]string
}

// offboardWorld builds two accounts, acme and beta, that share people:
// sam (home acme, also in beta through beta's SCIM and groups), hal (home
// beta, also in acme), ivy (home beta, invited by both), and each with
// SCIM users and groups, an SSO connection and a JIT sign-in, sessions,
// an app with tokens, a webhook with deliveries, an API key, a role
// mapping and an import.
func offboardWorld(t *testing.T, svc *directory.Service) (acme, beta *side) {
	t.Helper()
	ctx := context.Background()
	build := func(slug, domain string) *side {
		a := mustAccount(t, svc, slug, domain)
		sd := &side{account: a, sessions: map[string]string{}, refresh: map[string]string{}}
		_, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		if err != nil {
			t.Fatal(err)
		}
		sd.scim = tok
		sd.conn = connection(t, svc, a.ID, "idp", directory.JITCreate, domain)
		app, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: slug + " wiki", RedirectURIs: []string{"https://wiki." + domain + "/cb"}, BackchannelLogoutURI: "https://wiki." + domain + "/logout", AccountID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		sd.app = app
		hook, err := svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: a.ID, URL: "https://hooks." + domain + "/a"}, func(string) string { return "sealed" })
		if err != nil {
			t.Fatal(err)
		}
		_ = hook
		if _, _, err := svc.CreateAPIKey(ctx, a.ID, operator, "ci"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "admins", directory.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
		return sd
	}
	acme, beta = build("acme", "acme.example"), build("beta", "beta.example")

	scimUser := func(sd *side, email string) directory.SCIMUser {
		t.Helper()
		u, err := svc.CreateSCIMUser(ctx, sd.account.ID, sd.scim, scimInput(email, email, "ext-"+email, "Given", "Family", true))
		if err != nil {
			t.Fatalf("SCIM user %s in %s: %v", email, sd.account.Slug, err)
		}
		return u
	}
	// acme's own people, and sam, whose home is acme.
	aly, sam := scimUser(acme, "aly@acme.example"), scimUser(acme, "sam@acme.example")
	// beta's own people, and hal, whose home is beta.
	bea, hal := scimUser(beta, "bea@beta.example"), scimUser(beta, "hal@beta.example")
	// beta's SCIM has sam too (a membership only: rule 10), and acme hal.
	samB := scimUser(beta, "sam@acme.example")
	halA := scimUser(acme, "hal@beta.example")
	group := func(sd *side, name string, members ...string) {
		t.Helper()
		g, err := svc.CreateSCIMGroup(ctx, sd.account.ID, sd.scim, directory.GroupInput{DisplayName: name, Members: members})
		if err != nil {
			t.Fatal(err)
		}
		_ = g
	}
	group(acme, "admins", aly.Membership.ID, sam.Membership.ID, halA.Membership.ID)
	group(beta, "admins", bea.Membership.ID, samB.Membership.ID, hal.Membership.ID)
	for _, sd := range []*side{acme, beta} {
		for _, email := range []string{"ivy@beta.example", "jo@" + sd.account.Slug + ".example"} {
			if _, err := svc.Invite(ctx, sd.account.ID, operator, directory.NewInvitation{Email: email}); err != nil {
				t.Fatal(err)
			}
		}
		// A JIT sign-in of sam and hal through each account's connection
		// (an SSO link each), a session and app tokens.
		own := map[string][]string{"acme": {"sam@acme.example", "aly@acme.example"}, "beta": {"hal@beta.example", "bea@beta.example"}}[sd.account.Slug]
		for _, email := range own {
			in, err := svc.SignInWithSSO(ctx, sd.conn, directory.Identity{Subject: "sub-" + email, Lasting: true, Email: email, FirstName: "Given", LastName: "Family", Groups: []string{"admins"}})
			if err != nil {
				t.Fatalf("SSO sign-in of %s to %s: %v", email, sd.account.Slug, err)
			}
			sd.sessions[email], sd.refresh[email] = ssoSignInToApp(t, svc, sd.app, directory.BySSO(sd.conn), in.Member.User.ID, sd.account.ID)
		}
		// The guest (hal in acme, sam in beta) signs in with a password.
		guest := map[string]directory.SCIMUser{"acme": halA, "beta": samB}[sd.account.Slug]
		sd.sessions[guest.Email], sd.refresh[guest.Email] = ssoSignInToApp(t, svc, sd.app, directory.ByPassword, guest.Membership.UserID, sd.account.ID)
		if _, err := svc.CreateImport(ctx, sd.account.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword},
			[]directory.ImportRow{{Line: 2, Email: "imp@" + sd.account.Slug + ".example", FirstName: "I", LastName: "M"}, {Line: 3, Email: "sam@acme.example"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.PublishEvents(ctx, 10000); err != nil {
		t.Fatal(err)
	}
	return acme, beta
}

// dump returns every row of every table, each as its columns' values in
// column order.
func dump(t *testing.T, s *store.Store) map[string][]string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'`
	if s.Dialect() != "sqlite" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`
	}
	var tables []string
	if err := s.DB().Select(&tables, q); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := s.DB().Queryx(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v|", cols[i], v)
			}
			out[table] = append(out[table], b.String())
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		sort.Strings(out[table])
	}
	return out
}

// markedRows returns the rows of d, per table, that hold one of markers.
func markedRows(d map[string][]string, markers []string) map[string][]string {
	out := map[string][]string{}
	for table, rows := range d {
		for _, r := range rows {
			for _, m := range markers {
				if strings.Contains(r, m) {
					out[table] = append(out[table], r)
					break
				}
			}
		}
	}
	return out
}

// TestDeleteAccountLeavesOtherAccountAlone deletes acme of a world where
// it shares people with beta, and compares every row that names beta or
// one of beta's objects, table by table: not one may go or change (rule
// 1), and beta's people keep their user rows as they were.
func TestDeleteAccountLeavesOtherAccountAlone(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, beta := offboardWorld(t, svc)

		markers := []string{beta.account.ID}
		var ids []string
		for _, table := range []string{"groups", "webhooks", "webhook_deliveries", "connections", "apps", "imports", "api_keys", "scim_tokens", "invitations", "sessions"} {
			col := "id"
			if table == "apps" {
				col = "client_id"
			}
			if table == "sessions" {
				col = "id_hash"
			}
			var got []string
			q := `SELECT ` + col + ` FROM ` + table + ` WHERE account_id = ?`
			switch table {
			case "webhook_deliveries":
				q = `SELECT id FROM webhook_deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE account_id = ?)`
			}
			if err := s.DB().Select(&got, s.DB().Rebind(q), beta.account.ID); err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && table != "webhook_deliveries" {
				t.Fatalf("beta has no %s: the world is not what the test needs", table)
			}
			ids = append(ids, got...)
		}
		markers = append(markers, ids...)
		// beta's people: their user rows stay as they were.
		var people []string
		if err := s.DB().Select(&people, s.DB().Rebind(`SELECT user_id FROM memberships WHERE account_id = ?`), beta.account.ID); err != nil {
			t.Fatal(err)
		}
		users := func(d map[string][]string) []string {
			var out []string
			for _, r := range d["users"] {
				for _, id := range people {
					if strings.HasPrefix(r, "id="+id+"|") {
						out = append(out, r)
					}
				}
			}
			return out
		}

		before := dump(t, s)
		for _, table := range []string{"sso_links", "group_members", "app_tokens", "app_sign_ins", "scim_deletions", "import_chunks"} {
			if len(markedRows(map[string][]string{table: before[table]}, markers)) == 0 && table != "scim_deletions" && table != "import_chunks" {
				t.Errorf("beta has no %s before: the world is not what the test needs", table)
			}
		}
		got, err := svc.DeleteAccount(ctx, operator, "acme", 3, nil)
		if err != nil || !got.Done {
			t.Fatalf("deleting acme: %+v, %v", got, err)
		}
		after := dump(t, s)

		was, is := markedRows(before, markers), markedRows(after, markers)
		for table := range was {
			for _, r := range was[table] {
				if !slices.Contains(is[table], r) {
					t.Errorf("%s: a row of beta went or changed with acme: %s", table, r)
				}
			}
		}
		for table := range is {
			for _, r := range is[table] {
				if !slices.Contains(was[table], r) {
					t.Errorf("%s: a row of beta appeared with acme's deletion: %s", table, r)
				}
			}
		}
		if b, a := users(before), users(after); !slices.Equal(b, a) {
			t.Errorf("beta's people's users changed:\nbefore %v\nafter  %v", b, a)
		}
		if left := leftOf(t, s, "account_id", acme.account.ID); len(left) > 0 {
			t.Errorf("rows of acme left: %v", left)
		}
	})
}

// ssoSignInToApp opens a session with cred and signs in to app with it:
// a session, an authorization and tokens. It returns the session's token
// and the refresh token.
func ssoSignInToApp(t *testing.T, svc *directory.Service, app directory.App, cred directory.Credential, userID, accountID string) (session, refresh string) {
	t.Helper()
	ctx := context.Background()
	token, _, err := svc.StartSession(ctx, userID, accountID, cred)
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.Authenticate(ctx, token)
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
	_, refresh, err = svc.IssueAppTokens(ctx, a, true)
	if err != nil {
		t.Fatal(err)
	}
	return token, refresh
}

// TestErasePersonLeavesNoTrace erases sam, of acme (his home) and beta,
// in offboardWorld, and reads every row of every table: no row holds his
// email, and only the audit trail (as target or actor, and as the
// pseudonym) his id, but for the events to send (which carry both, so
// that receivers erase their copies) and the logouts to send to apps. His
// sessions, forward-auth and refresh tokens end; signing in again through
// SSO or being created by SCIM makes a new person.
func TestErasePersonLeavesNoTrace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, beta := offboardWorld(t, svc)
		sam, err := s.FindUserByEmail(ctx, "sam@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		const email = "sam@acme.example"
		// gamma invited him and took it back: its mail to him stays
		// queued (or sent), and he holds no membership there.
		gamma := mustAccount(t, svc, "gamma", "gamma.example")
		if _, err := svc.Invite(ctx, gamma.ID, operator, directory.NewInvitation{Email: email}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Revoke(ctx, gamma.ID, operator, email); err != nil {
			t.Fatal(err)
		}
		// And an import of gamma's names him twice: the second line's
		// reason holds his email; its file name (kept with the import and
		// in its import.created event) is his address too.
		gammaImport, err := svc.CreateImport(ctx, gamma.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword, FileName: "Sam@ACME.example.csv"},
			[]directory.ImportRow{{Line: 2, Email: "Sam@acme.example", FirstName: "Sam"}, {Line: 3, Email: email}})
		if err != nil {
			t.Fatal(err)
		}
		// Cancelled: import.finished holds the file name too.
		if _, err := svc.CancelImport(ctx, gamma.ID, operator, gammaImport.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PublishEvents(ctx, 10000); err != nil {
			t.Fatal(err)
		}
		// The import reports (each account's import has a line of sam's).
		reports := func() map[string][]directory.ImportRow {
			t.Helper()
			out := map[string][]directory.ImportRow{}
			for _, sd := range []*side{acme, beta} {
				ims, err := svc.ImportJobs(ctx, sd.account.ID, 10)
				if err != nil || len(ims) == 0 {
					t.Fatalf("imports of %s: %v, %v", sd.account.Slug, ims, err)
				}
				rows, err := svc.ImportReport(ctx, sd.account.ID, ims[0].ID, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				out[sd.account.Slug] = rows
			}
			return out
		}
		reportsBefore := reports()
		got, err := svc.ErasePerson(ctx, operator, "Sam@Acme.example", directory.EraseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Sort(got.Accounts); !slices.Equal(got.Accounts, []string{"acme", "beta"}) {
			t.Errorf("erasure = %+v; want acme and beta", got)
		}
		// The reports keep every line and outcome; sam's line names the
		// pseudonym.
		for slug, after := range reports() {
			want := slices.Clone(reportsBefore[slug])
			for i := range want {
				if want[i].Email == email {
					want[i].Email, want[i].FirstName, want[i].LastName = directory.Pseudonym(sam.ID), "", ""
				}
			}
			if diff := cmp.Diff(want, after); diff != "" {
				t.Errorf("%s's import report after the erasure (-want +got):\n%s", slug, diff)
			}
		}
		if im, err := svc.ImportJob(ctx, gamma.ID, gammaImport.ID); err != nil || im.FileName != directory.Pseudonym(sam.ID)+".csv" {
			t.Errorf("gamma's import's file name after the erasure = %q, %v; want %q", im.FileName, err, directory.Pseudonym(sam.ID)+".csv")
		}
		// Kept on purpose: the events to send (and the deliveries of
		// them), the logouts to send.
		allowed := map[string]bool{"outbox_messages": true, "webhook_deliveries": true, "app_logouts": true, "event_sweeps": true}
		for table, rows := range dump(t, s) {
			if allowed[table] {
				continue
			}
			for _, r := range rows {
				if strings.Contains(strings.ToLower(r), email) {
					t.Errorf("%s: a row still holds the erased email: %s", table, r)
				}
				// The pseudonym (erased:<id>) names no one.
				if table != "audit_events" && strings.Contains(strings.ReplaceAll(r, directory.Pseudonym(sam.ID), ""), sam.ID) {
					t.Errorf("%s: a row still holds the erased user's id: %s", table, r)
				}
			}
		}
		for _, sd := range []*side{acme, beta} {
			if _, err := svc.Authenticate(ctx, sd.sessions[email]); directory.KindOf(err) != directory.Unauthenticated {
				t.Errorf("sam's session in %s: %v; want Unauthenticated", sd.account.Slug, err)
			}
			if _, err := svc.ForwardAuth(ctx, sd.sessions[email], sd.app); err == nil {
				t.Errorf("sam's session passes forward-auth of %s", sd.account.Slug)
			}
			if _, err := svc.AppRefreshToken(ctx, sd.refresh[email]); err == nil {
				t.Errorf("sam's refresh token of %s still works", sd.account.Slug)
			}
			// The others' go on.
			other := map[string]string{"acme": "aly@acme.example", "beta": "bea@beta.example"}[sd.account.Slug]
			if _, err := svc.Authenticate(ctx, sd.sessions[other]); err != nil {
				t.Errorf("%s's session in %s: %v", other, sd.account.Slug, err)
			}
		}
		// Once per account: membership.deleted and user.deleted.
		if _, err := svc.PublishEvents(ctx, 10000); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, "", 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, ev := range evs {
			if ev.Subject == sam.ID && (ev.Type == directory.EventUserDeleted || ev.Type == directory.EventMembershipDeleted) {
				count[ev.Type+" "+ev.Account]++
			}
		}
		for _, sd := range []*side{acme, beta} {
			for _, typ := range []string{directory.EventUserDeleted, directory.EventMembershipDeleted} {
				if n := count[typ+" "+sd.account.ID]; n != 1 {
					t.Errorf("%s to %s: %d; want 1", typ, sd.account.Slug, n)
				}
			}
		}
		// Back: a new person, never the erased one.
		in, err := svc.SignInWithSSO(ctx, acme.conn, directory.Identity{Subject: "sub-" + email, Lasting: true, Email: email, FirstName: "Given", LastName: "Family"})
		if err != nil {
			t.Fatal(err)
		}
		if in.Member.User.ID == sam.ID {
			t.Error("an SSO sign-in brought the erased user back")
		}
		u, err := svc.CreateSCIMUser(ctx, beta.account.ID, beta.scim, scimInput(email, email, "ext-"+email, "Given", "Family", true))
		if err != nil {
			t.Fatal(err)
		}
		if u.Membership.UserID == sam.ID {
			t.Error("SCIM brought the erased user back")
		}
	})
}

// TestEraseRacesSCIMPatch erases a person while beta's SCIM changes
// them: whichever comes first, no audit event written by the change keeps
// the erased email, and the change that comes second is refused as gone
// (NotFound), never another error.
func TestEraseRacesSCIMPatch(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, beta := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "beta", "beta.example")
		_, tokA, _ := svc.CreateSCIMToken(ctx, acme.ID, operator, "idp")
		_, tokB, _ := svc.CreateSCIMToken(ctx, beta.ID, operator, "idp")
		for i := range 15 {
			email := fmt.Sprintf("p%d@acme.example", i)
			if _, err := svc.CreateSCIMUser(ctx, acme.ID, tokA, scimInput(email, email, "", "P", "Q", true)); err != nil {
				t.Fatal(err)
			}
			inB, err := svc.CreateSCIMUser(ctx, beta.ID, tokB, scimInput(email, email, "", "P", "Q", true))
			if err != nil {
				t.Fatal(err)
			}
			errs := make(chan error, 2)
			go func() {
				_, err := svc.PatchSCIMUser(ctx, beta.ID, tokB, inB.Membership.ID, directory.IfVersion{}, func(cur directory.SCIMUser) (directory.SCIMUserInput, error) {
					in := scimInput(email, email, "new-"+email, "P", "Q", i%2 == 0) // a profile change alone, or a deactivation
					return in, nil
				})
				if directory.KindOf(err) == directory.NotFound {
					err = nil
				}
				errs <- err
			}()
			go func() {
				_, err := svc.ErasePerson(ctx, operator, email, directory.EraseOptions{})
				errs <- err
			}()
			for range 2 {
				if err := <-errs; err != nil {
					t.Errorf("%s: %v", email, err)
				}
			}
			if n := auditMentions(t, s, email); n > 0 {
				t.Fatalf("%s: %d audit events still name the erased person", email, n)
			}
		}
	})
}

// TestDeletingAccountTakesNoNewRows: a request that reached the account
// before its deletion began (its token, connection or admin read then)
// and writes after is refused as NotFound (not a 500), while the account
// is being deleted as once it is gone, and nothing of the account is
// left, nor a person it made.
func TestDeletingAccountTakesNoNewRows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, _ := offboardWorld(t, svc)
		id := acme.account.ID
		// The console's and API's admin, and a group, found before the
		// deletion began.
		key, _, err := svc.CreateAPIKey(ctx, "", operator, "console")
		if err != nil {
			t.Fatal(err)
		}
		k, err := svc.AuthenticateAPIKey(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		adm, err := svc.KeyAdmin(ctx, k, "acme")
		if err != nil {
			t.Fatal(err)
		}
		g, err := svc.CreateSCIMGroup(ctx, id, acme.scim, directory.GroupInput{DisplayName: "early"})
		if err != nil {
			t.Fatal(err)
		}
		// acme's import under way would refuse another first (Conflict).
		ims, err := svc.ImportJobs(ctx, id, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range ims {
			if _, err := svc.CancelImport(ctx, id, operator, im.ID); err != nil {
				t.Fatal(err)
			}
		}
		stop := fmt.Errorf("stop")
		if _, err := svc.DeleteAccount(ctx, operator, "acme", 1, func(directory.AccountDeletion) error { return stop }); err != stop {
			t.Fatalf("stopped deletion: %v", err)
		}
		seal := func(string) string { return "sealed" }
		renamed := "renamed"
		writes := map[string]func() error{
			"SCIM create": func() error {
				_, err := svc.CreateSCIMUser(ctx, id, acme.scim, scimInput("new1@acme.example", "new1@acme.example", "", "N", "N", true))
				return err
			},
			"SCIM group": func() error {
				_, err := svc.CreateSCIMGroup(ctx, id, acme.scim, directory.GroupInput{DisplayName: "late"})
				return err
			},
			"SSO JIT": func() error {
				_, err := svc.SignInWithSSO(ctx, acme.conn, directory.Identity{Subject: "s-new2", Lasting: true, Email: "new2@acme.example", FirstName: "N", LastName: "N"})
				return err
			},
			"add user": func() error {
				_, err := svc.AddUser(ctx, id, operator, directory.NewUser{Email: "new3@acme.example", FirstName: "N", LastName: "N"})
				return err
			},
			"invite": func() error {
				_, err := svc.Invite(ctx, id, operator, directory.NewInvitation{Email: "new4@acme.example"})
				return err
			},
			"webhook": func() error {
				_, err := svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: id, URL: "https://hooks.acme.example/late"}, seal)
				return err
			},
			"API key": func() error { _, _, err := svc.CreateAPIKey(ctx, id, operator, "late"); return err },
			"SCIM token": func() error {
				_, _, err := svc.CreateSCIMToken(ctx, id, operator, "late")
				return err
			},
			"domain": func() error { _, err := svc.AddDomain(ctx, id, operator, "late.example", true); return err },
			"role mapping": func() error {
				_, _, err := svc.MapGroupToRole(ctx, id, operator, "late", directory.RoleMember, nil)
				return err
			},
			"import": func() error {
				_, err := svc.CreateImport(ctx, id, operator, directory.ImportSpec{Mode: directory.ImportNoPassword}, []directory.ImportRow{{Line: 2, Email: "new5@acme.example"}})
				return err
			},
			"app": func() error {
				_, _, err := svc.AddApp(ctx, operator, directory.NewApp{Name: "late", RedirectURIs: []string{"https://late.acme.example/cb"}, AccountID: id})
				return err
			},
			"connection": func() error {
				_, err := svc.CreateConnection(ctx, id, operator, directory.NewConnection{Protocol: directory.ProtocolSAML, Name: "late", Metadata: "<md/>"})
				return err
			},
			"connection change": func() error {
				jit := directory.JITLink
				_, err := svc.UpdateConnection(ctx, id, operator, acme.conn.ID, directory.ConnectionChange{JITMode: &jit})
				return err
			},
			"SCIM group change": func() error {
				_, err := svc.ChangeSCIMGroup(ctx, id, acme.scim, g.Group.ID, directory.GroupChange{DisplayName: &renamed}, directory.IfVersion{})
				return err
			},
			"account webhook": func() error {
				_, err := svc.AddAccountWebhook(ctx, adm, "https://hooks.acme.example/owners", nil, seal)
				return err
			},
			"claimed domain": func() error { _, err := svc.ClaimDomain(ctx, adm, "claimed.example"); return err },
			"upload": func() error {
				_, err := svc.SaveImportUpload(ctx, adm, "late.csv", []byte("email\nnew6@acme.example\n"))
				return err
			},
			"branding": func() error {
				_, err := svc.SetBranding(ctx, id, operator, directory.Branding{PrimaryColor: "#123456"})
				return err
			},
			"role": func() error { return svc.CreateRole(ctx, id, operator, "auditor") },
		}
		// Every one is refused as the deleted account's would be, also
		// while the account is only being deleted.
		for name, write := range writes {
			if err := write(); directory.KindOf(err) != directory.NotFound {
				t.Errorf("%s into a deleting account: %v; want NotFound", name, err)
			}
		}
		if _, err := svc.DeleteAccount(ctx, operator, "acme", 0, nil); err != nil {
			t.Fatal(err)
		}
		for name, write := range writes {
			if err := write(); err == nil || directory.KindOf(err) == directory.Internal {
				t.Errorf("%s into a deleted account: %v; want a refusal", name, err)
			}
		}
		if left := leftOf(t, s, "account_id", id); len(left) > 0 {
			t.Errorf("rows of acme left: %v", left)
		}
		for i := 1; i <= 5; i++ {
			if _, err := s.FindUserByEmail(ctx, fmt.Sprintf("new%d@acme.example", i)); err == nil {
				t.Errorf("new%d, made for the deleting account, has a user", i)
			}
		}
	})
}

// TestTwoDeletionsAtOnce: two runs of one account's deletion take turns:
// each member is announced once, both end without an error but NotFound
// (the other finished first), and the account is gone.
func TestTwoDeletionsAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, _ := offboardWorld(t, svc)
		var members []string
		if err := s.DB().Select(&members, s.DB().Rebind(`SELECT user_id FROM memberships WHERE account_id = ?`), acme.account.ID); err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{-1, directory.MaxAccountChunk + 1} {
			if _, err := svc.DeleteAccount(ctx, operator, "acme", chunk, nil); directory.KindOf(err) != directory.Invalid {
				t.Errorf("a chunk of %d: %v; want Invalid", chunk, err)
			}
		}
		if _, err := svc.Account(ctx, "acme"); err != nil {
			t.Fatalf("acme after the refused chunks: %v", err)
		}
		if _, err := svc.PublishEvents(ctx, 10000); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := svc.DeleteAccount(ctx, operator, "acme", 2, nil)
				errs <- err
			}()
		}
		done := 0
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				done++
			case directory.KindOf(err) != directory.NotFound:
				t.Errorf("a deletion beside another: %v", err)
			}
		}
		if done == 0 {
			t.Error("neither deletion finished")
		}
		if _, _, err := s.FindAccountToDelete(ctx, "acme"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("acme after both: %v", err)
		}
		announcedOnce(t, svc, acme.account.ID, members)
	})
}

// TestDeletionLosesToOneThatFinished: a run of an account's deletion
// that another run finishes between two of its transactions ends
// NotFound, saying the account is deleted (not to run it again), on
// both the rows' and the members' side of the deletion.
func TestDeletionLosesToOneThatFinished(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		offboardWorld(t, svc)
		for _, at := range []struct {
			slug string
			when func(directory.AccountDeletion) bool
		}{
			{"acme", func(p directory.AccountDeletion) bool { return p.Rows > 0 && p.Memberships == 0 }},
			{"beta", func(p directory.AccountDeletion) bool { return p.Memberships > 0 }},
		} {
			other := false
			d, err := svc.DeleteAccount(ctx, operator, at.slug, 1, func(p directory.AccountDeletion) error {
				if other || !at.when(p) {
					return nil
				}
				other = true
				if d, err := svc.DeleteAccount(ctx, operator, at.slug, 0, nil); err != nil || !d.Done {
					t.Fatalf("the other deletion of %s: %+v, %v", at.slug, d, err)
				}
				return nil
			})
			if !other {
				t.Fatalf("%s: the other deletion never ran", at.slug)
			}
			if directory.KindOf(err) != directory.NotFound || !strings.Contains(err.Error(), "is deleted") || strings.Contains(err.Error(), "again") || d.Done {
				t.Errorf("%s: the run that lost: %+v, %v; want NotFound, saying it is deleted", at.slug, d, err)
			}
		}
	})
}

// TestDeleteAccountCancelledResumes: a deletion whose context ends (the
// command killed) between chunks, and at a random point inside one,
// resumes to the end: every member announced once, nothing left.
func TestDeleteAccountCancelledResumes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := newService(t, s)
		acme, _ := offboardWorld(t, svc)
		var members []string
		if err := s.DB().Select(&members, s.DB().Rebind(`SELECT user_id FROM memberships WHERE account_id = ?`), acme.account.ID); err != nil {
			t.Fatal(err)
		}
		for stopAt := 3; ; stopAt += 7 {
			ctx, cancel := context.WithCancel(context.Background())
			d, err := svc.DeleteAccount(ctx, operator, "acme", 1, func(p directory.AccountDeletion) error {
				if p.Transactions >= stopAt {
					cancel()
				}
				return nil
			})
			cancel()
			if err == nil {
				if !d.Done {
					t.Fatalf("ended without error, not done: %+v", d)
				}
				break
			}
			if stopAt > 500 {
				t.Fatalf("never finished: %v", err)
			}
		}
		if left := leftOf(t, s, "account_id", acme.account.ID); len(left) > 0 {
			t.Errorf("rows of acme left: %v", left)
		}
		announcedOnce(t, svc, acme.account.ID, members)
	})
}

// TestDeleteAccountAnnouncesLateMember: a membership that a request
// (which found the account before it was hidden) writes while the
// deletion runs, and commits after its last chunk of members, is
// announced and its person erased as any other's: not taken by the
// account row's cascade without a word, its person left with no account.
func TestDeleteAccountAnnouncesLateMember(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		if _, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "ann@acme.example", FirstName: "A", LastName: "B"}); err != nil {
			t.Fatal(err)
		}
		written, release, lateDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			lateDone <- s.Tx(ctx, func(tx directory.Store) error {
				now := time.Now()
				u, _, err := tx.FindOrCreateUser(ctx, directory.User{ID: "late-user", Email: "late@acme.example", FirstName: "L", LastName: "M", CreatedAt: now, UpdatedAt: now})
				if err != nil {
					return err
				}
				err = tx.CreateMembership(ctx, u, directory.Membership{ID: "late-membership", AccountID: acme.ID, UserID: u.ID, Role: directory.RoleMember,
					Status: directory.StatusActive, Source: directory.SourceOfSCIM, CreatedAt: now, UpdatedAt: now})
				close(written)
				<-release
				return err
			})
		}()
		<-written
		deleted := make(chan error, 1)
		var d directory.AccountDeletion
		go func() {
			var err error
			d, err = svc.DeleteAccount(ctx, operator, "acme", 10, nil)
			deleted <- err
		}()
		// Long enough for the deletion to reach its end and wait there
		// (PostgreSQL; on SQLite it waits for the writer from the start).
		time.Sleep(500 * time.Millisecond)
		close(release)
		if err := <-lateDone; err != nil {
			t.Fatalf("the late membership: %v", err)
		}
		if err := <-deleted; err != nil || !d.Done {
			t.Fatalf("deletion = %+v, %v; want done", d, err)
		}
		if _, err := s.FindUser(ctx, "late-user"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("the late member, whose home acme was: %v; want erased", err)
		}
		if _, err := svc.PublishEvents(ctx, 1000); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		announced := false
		for _, ev := range evs {
			announced = announced || (ev.Type == directory.EventMembershipDeleted && ev.Subject == "late-user")
		}
		if !announced {
			t.Error("the late member's membership.deleted was not sent")
		}
	})
}

// announcedOnce checks that the account's deletion told membership.deleted
// once for each of members (user ids), not once per run or per racer.
func announcedOnce(t *testing.T, svc *directory.Service, accountID string, members []string) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.PublishEvents(ctx, 10000); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.Events(ctx, "", 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[string]int{}
	for _, ev := range evs {
		if ev.Account == accountID && ev.Type == directory.EventMembershipDeleted {
			deleted[ev.Subject]++
		}
	}
	for _, id := range members {
		if deleted[id] != 1 {
			t.Errorf("member %s announced %d times; want once", id, deleted[id])
		}
	}
}
