package directory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// referencing returns the schema's tables with the column (account_id or
// user_id), but those whose rows offboarding keeps on purpose.
func referencing(t *testing.T, s *store.Store, column string) []string {
	t.Helper()
	tables, err := s.SchemaReferences(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kept := []string{"audit_events", "outbox_messages", "event_sweeps", "app_logouts"}
	var out []string
	for _, table := range tables {
		var n int
		q := `SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`
		if s.Dialect() == "sqlite" {
			q = `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?`
		}
		if err := s.DB().Get(&n, q, table, column); err != nil {
			t.Fatal(err)
		}
		if n > 0 && !slices.Contains(kept, table) {
			out = append(out, table)
		}
	}
	return out
}

// leftOf counts, per table, the rows whose column is id.
func leftOf(t *testing.T, s *store.Store, column, id string) map[string]int {
	t.Helper()
	left := map[string]int{}
	for _, table := range referencing(t, s, column) {
		var n int
		if err := s.DB().Get(&n, s.DB().Rebind(`SELECT COUNT(*) FROM `+table+` WHERE `+column+` = ?`), id); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			left[table] = n
		}
	}
	return left
}

// auditMentions counts the audit events, in any account, whose actor or
// data holds s.
func auditMentions(t *testing.T, st *store.Store, s string) int {
	t.Helper()
	var n int
	q := `SELECT COUNT(*) FROM audit_events WHERE actor_name LIKE ? OR CAST(data AS text) LIKE ?`
	if err := st.DB().Get(&n, st.DB().Rebind(q), "%"+s+"%", "%"+s+"%"); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestErasePerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, beta := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "beta", "beta.example")
		ann, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "ann@acme.example", FirstName: "Annabel", LastName: "Quist", Password: "correct horse battery staple"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, beta.ID, operator, directory.NewUser{Email: "ann@acme.example", FirstName: "Annabel", LastName: "Quist"}); err != nil {
			t.Fatal(err)
		}
		id := ann.Member.User.ID
		token, _, err := svc.StartSession(ctx, id, acme.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		// Ann as an admin: her email names the actor of an event.
		annAdmin := directory.Actor{Source: directory.SourceAdmin, ID: id, Name: "ann@acme.example"}
		if _, err := svc.AddUser(ctx, acme.ID, annAdmin, directory.NewUser{Email: "cy@acme.example", FirstName: "Cy", LastName: "Young"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, beta.ID, operator, directory.NewInvitation{Email: "dan@beta.example"}); err != nil {
			t.Fatal(err)
		}

		if err := svc.RequestPasswordReset(ctx, "ann@acme.example"); err != nil {
			t.Fatal(err)
		}
		mailTo := func(email string) int {
			var n int
			if err := s.DB().Get(&n, s.DB().Rebind(`SELECT COUNT(*) FROM mail_messages WHERE recipient = ?`), email); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if mailTo("ann@acme.example") == 0 {
			t.Fatal("no reset mail to Ann")
		}

		got, err := svc.ErasePerson(ctx, operator, "ANN@acme.example", directory.EraseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Accounts, []string{"acme", "beta"}) || got.UserID != id || got.AuditEvents == 0 {
			t.Errorf("erasure = %+v; want Ann's user, acme and beta, audit events rewritten", got)
		}
		if _, err := s.FindUserByEmail(ctx, "ann@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("Ann's user after erasure: %v; want NotFound", err)
		}
		if left := leftOf(t, s, "user_id", id); len(left) > 0 {
			t.Errorf("rows of Ann left: %v", left)
		}
		if n := mailTo("ann@acme.example"); n > 0 {
			t.Errorf("%d mails to Ann kept", n)
		}
		if mailTo("dan@beta.example") == 0 {
			t.Error("Dan's invitation went with Ann's mail")
		}
		if _, err := svc.Authenticate(ctx, token); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("Ann's session after erasure: %v; want Unauthenticated", err)
		}
		for _, name := range []string{"ann@acme.example", "Annabel", "Quist"} {
			if n := auditMentions(t, s, name); n > 0 {
				t.Errorf("%d audit events still name %q", n, name)
			}
		}
		if n := auditMentions(t, s, "cy@acme.example"); n == 0 {
			t.Error("Cy's audit events lost his email: only Ann's should go")
		}
		for _, a := range []directory.Account{acme, beta} {
			actions := auditActions(t, svc, a.ID)
			if !slices.Contains(actions, "membership.deleted") || !slices.Contains(actions, directory.EventUserDeleted) {
				t.Errorf("%s audit = %v; want membership.deleted and user.deleted", a.Slug, actions)
			}
		}
		if _, err := svc.PublishEvents(ctx, 1000); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var deleted []string
		for _, ev := range evs {
			if ev.Type == directory.EventUserDeleted && ev.Subject == id {
				deleted = append(deleted, ev.Account)
			}
		}
		if slices.Sort(deleted); !slices.Equal(deleted, slices.Sorted(slices.Values([]string{acme.ID, beta.ID}))) {
			t.Errorf("user.deleted went to %v; want acme and beta", deleted)
		}
		if _, err := svc.ErasePerson(ctx, operator, "ann@acme.example", directory.EraseOptions{}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("erasing Ann again: %v; want NotFound", err)
		}
		if _, err := svc.ErasePerson(ctx, operator, "not@an@email", directory.EraseOptions{}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("erasing a non-email: %v; want Invalid", err)
		}
		if _, err := svc.ErasePerson(ctx, operator, id, directory.EraseOptions{}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("erasing Ann again by id: %v; want NotFound", err)
		}
		// By user id, as events name people.
		// An invited person: the invitation's audit events (their target
		// is the invitation) hold the address too.
		if _, err := svc.Invite(ctx, beta.ID, operator, directory.NewInvitation{Email: "eve@acme.example"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Revoke(ctx, beta.ID, operator, "eve@acme.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Invite(ctx, beta.ID, operator, directory.NewInvitation{Email: "eve@acme.example"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ErasePerson(ctx, operator, "eve@acme.example", directory.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := auditMentions(t, s, "eve@acme.example"); n > 0 {
			t.Errorf("%d audit events still name Eve", n)
		}
		cy, err := svc.Member(ctx, acme.ID, "cy@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		if e, err := svc.ErasePerson(ctx, operator, cy.User.ID, directory.EraseOptions{}); err != nil || e.Email != "cy@acme.example" {
			t.Errorf("erasing Cy by id: %+v, %v", e, err)
		}
	})
}

func TestDeleteAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, beta := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "beta", "beta.example")
		add := func(a directory.Account, email string) string {
			t.Helper()
			added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "F", LastName: "L"})
			if err != nil {
				t.Fatal(err)
			}
			return added.Member.User.ID
		}
		ann := add(acme, "ann@acme.example") // acme's alone, and acme is her home: erased
		bob := add(acme, "bob@acme.example") // also in beta: kept
		add(beta, "bob@acme.example")        //
		gus := add(acme, "gus@mail.example") // acme's alone, no one's home, but an operator: kept
		add(acme, "hal@beta.example")        // acme's alone, but beta is his home: kept
		bea := add(beta, "bea@beta.example") // beta's: untouched
		if _, err := svc.AddOperator(ctx, operator, "gus@mail.example"); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"ivy@acme.example", "ola@mail.example"} { // ivy (home acme) and ola (no one's) erased
			if _, err := svc.Invite(ctx, acme.ID, operator, directory.NewInvitation{Email: email}); err != nil {
				t.Fatal(err)
			}
		}
		scimToken, _, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		seal := func(string) string { return "sealed" }
		if _, err := svc.AddWebhook(ctx, operator, directory.NewWebhook{AccountID: acme.ID, URL: "https://hooks.acme.example/a"}, seal); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddWebhook(ctx, operator, directory.NewWebhook{URL: "https://hooks.platform.example/all"}, seal); err != nil {
			t.Fatal(err)
		}
		session, _, err := svc.StartSession(ctx, bob, acme.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}

		// One row per transaction, stopped after two: the account is
		// deleting, and no one reaches it.
		stop := errors.New("stop")
		_, err = svc.DeleteAccount(ctx, operator, "acme", 1, func(p directory.AccountDeletion) error {
			if p.Transactions == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Fatalf("stopped deletion: %v; want the stop", err)
		}
		if _, err := svc.Account(ctx, "acme"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("deleting account found: %v", err)
		}
		if _, _, err := svc.AuthenticateSCIM(ctx, scimToken); err == nil {
			t.Error("the deleting account's SCIM token still works")
		}
		if _, err := svc.Authenticate(ctx, session); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("a session in the deleting account: %v; want Unauthenticated", err)
		}
		// Mail of the account still queued is dropped (Gone), not retried.
		mail, err := s.FindMailMessages(ctx, acme.ID, 10)
		if err != nil || len(mail) == 0 {
			t.Fatalf("acme's mail: %d, %v", len(mail), err)
		}
		if _, err := svc.MailBodyOf(ctx, mail[0]); directory.KindOf(err) != directory.Gone {
			t.Errorf("a deleting account's mail: %v; want Gone", err)
		}
		// Bob, in beta too, is a person of beta only meanwhile: whatever
		// reads his accounts (sign-in, the password policy) skips acme
		// instead of failing on it.
		if _, ids, err := svc.PolicyForUser(ctx, bob); err != nil || !slices.Equal(ids, []string{beta.ID}) {
			t.Errorf("Bob's accounts while acme is deleting: %v, %v; want beta's alone", ids, err)
		}
		if _, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Again"}); err == nil {
			t.Error("a deleting account's slug was taken again before the deletion ended")
		}

		// Every other row of the account (its webhooks among them: its
		// members' membership.deleted reach only the platform's) is gone
		// before the first member is.
		checked := false
		got, err := svc.DeleteAccount(ctx, operator, "acme", 2, func(p directory.AccountDeletion) error {
			if p.Memberships == 0 || checked {
				return nil
			}
			checked = true
			left := leftOf(t, s, "account_id", acme.ID)
			delete(left, "memberships")
			delete(left, "sso_group_members")
			delete(left, "domains")
			if len(left) > 0 {
				t.Errorf("rows of acme left when its members began to go: %v", left)
			}
			var hooks int
			if err := s.DB().Get(&hooks, s.DB().Rebind(`SELECT COUNT(*) FROM webhooks WHERE account_id = ?`), acme.ID); err != nil || hooks != 0 {
				t.Errorf("acme's webhooks when its members began to go: %d, %v", hooks, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Resumed || !got.Done || got.Memberships != 6 || got.Erased != 3 || got.Kept != 3 {
			t.Errorf("resumed deletion = %+v; want resumed, done, 6 memberships (ann, bob, gus, hal, ivy, ola), 3 erased (ann, ivy, ola), 3 kept (bob, gus, hal)", got)
		}
		if left := leftOf(t, s, "account_id", acme.ID); len(left) > 0 {
			t.Errorf("rows of acme left: %v", left)
		}
		if left := leftOf(t, s, "user_id", ann); len(left) > 0 {
			t.Errorf("rows of Ann left: %v", left)
		}
		for email, want := range map[string]bool{"ann@acme.example": false, "ivy@acme.example": false, "ola@mail.example": false, "bob@acme.example": true, "gus@mail.example": true, "hal@beta.example": true, "bea@beta.example": true} {
			_, err := s.FindUserByEmail(ctx, email)
			if kept := err == nil; kept != want {
				t.Errorf("user %s kept = %v (%v); want %v", email, kept, err, want)
			}
		}
		if m, err := svc.Member(ctx, beta.ID, "bob@acme.example"); err != nil || m.Membership.Status != directory.StatusActive {
			t.Errorf("Bob in beta: %+v, %v; want active", m.Membership, err)
		}
		if _, err := s.FindMembership(ctx, beta.ID, bea); err != nil {
			t.Errorf("Bea's membership of beta: %v", err)
		}
		if _, err := s.FindUser(ctx, gus); err != nil {
			t.Errorf("Gus: %v", err)
		}
		if _, err := svc.PublishEvents(ctx, 1000); err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events(ctx, "", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var deleted, erased []string
		for _, ev := range evs {
			switch {
			case ev.Account != acme.ID:
			case ev.Type == directory.EventMembershipDeleted:
				deleted = append(deleted, ev.Subject)
			case ev.Type == directory.EventUserDeleted:
				erased = append(erased, ev.Subject)
			}
		}
		if len(deleted) != 6 || len(erased) != 3 || !slices.Contains(erased, ann) {
			t.Errorf("acme's events: membership.deleted %v, user.deleted %v; want one each per member, per erased person", deleted, erased)
		}
		if _, err := svc.DeleteAccount(ctx, operator, "acme", 0, nil); directory.KindOf(err) != directory.NotFound {
			t.Errorf("deleting acme again: %v; want NotFound", err)
		}
		if _, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: "Acme again", Domains: []string{"acme.example"}}); err != nil {
			t.Errorf("the slug and domain after the deletion: %v", err)
		}
		if n := auditMentions(t, s, "ann@acme.example"); n > 0 {
			t.Errorf("%d audit events still name Ann", n)
		}
	})
}

// TestEraseLastOwner: erasing the last active owner of an account is
// refused, naming the accounts and changing nothing, unless OrphanOK;
// another active owner (not a deactivated one) is enough, and an account
// being deleted needs none.
func TestEraseLastOwner(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		add := func(a directory.Account, email string, role directory.Role) {
			t.Helper()
			if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "F", LastName: "L", Role: role}); err != nil {
				t.Fatal(err)
			}
		}
		acme, beta, gamma, delta := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "beta", "beta.example"),
			mustAccount(t, svc, "gamma", "gamma.example"), mustAccount(t, svc, "delta", "delta.example")
		// Ann owns acme alone (Cy, its other owner, is deactivated), beta
		// with Bob, gamma alone, and is a member of delta, which Dee owns.
		add(acme, "ann@acme.example", directory.RoleOwner)
		add(acme, "cy@acme.example", directory.RoleOwner)
		if _, err := svc.Deactivate(ctx, acme.ID, operator, "cy@acme.example"); err != nil {
			t.Fatal(err)
		}
		add(beta, "ann@acme.example", directory.RoleOwner)
		add(beta, "bob@beta.example", directory.RoleOwner)
		add(gamma, "ann@acme.example", directory.RoleOwner)
		add(delta, "ann@acme.example", directory.RoleMember)
		add(delta, "dee@delta.example", directory.RoleOwner)

		_, err := svc.ErasePerson(ctx, operator, "ann@acme.example", directory.EraseOptions{})
		if directory.KindOf(err) != directory.Conflict || !strings.Contains(err.Error(), "last active owner of acme, gamma:") {
			t.Fatalf("erasing the last owner of acme and gamma: %v; want Conflict naming them", err)
		}
		if m, err := svc.Member(ctx, beta.ID, "ann@acme.example"); err != nil || m.Membership.Role != directory.RoleOwner {
			t.Fatalf("Ann after the refusal: %+v, %v; want unchanged", m, err)
		}
		// gamma being deleted needs no owner; acme still does.
		if _, err := svc.DeleteAccount(ctx, operator, "gamma", 1, func(directory.AccountDeletion) error { return errors.New("stop") }); err == nil {
			t.Fatal("the stopped deletion of gamma finished")
		}
		_, err = svc.ErasePerson(ctx, operator, "ann@acme.example", directory.EraseOptions{})
		if directory.KindOf(err) != directory.Conflict || !strings.Contains(err.Error(), "last active owner of acme:") {
			t.Fatalf("erasing the last owner of acme: %v; want Conflict naming acme alone", err)
		}
		e, err := svc.ErasePerson(ctx, operator, "ann@acme.example", directory.EraseOptions{OrphanOK: true})
		if err != nil || !slices.Equal(e.Orphaned, []string{"acme"}) {
			t.Fatalf("erasing with OrphanOK: %+v, %v; want acme orphaned", e, err)
		}
		if _, err := s.FindUserByEmail(ctx, "ann@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("Ann after the erasure: %v", err)
		}
		// Bob is now beta's last owner; Dee delta's.
		if _, err := svc.ErasePerson(ctx, operator, "bob@beta.example", directory.EraseOptions{}); directory.KindOf(err) != directory.Conflict {
			t.Errorf("erasing beta's last owner: %v; want Conflict", err)
		}
	})
}

// TestSCIMEventsFollowThePerson: the audit events of a membership that
// an identity provider made, changed and deleted over SCIM are about the
// person, as every other membership event is, and not about the SCIM id
// alone, which is gone with the membership: the person's trail still
// shows them after the SCIM DELETE (and after they are provisioned
// again), and erasing the person afterwards leaves none of them naming
// the person.
func TestSCIMEventsFollowThePerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme, beta := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "beta", "beta.example")
		// A member of beta too, so that the user outlives acme's SCIM DELETE.
		if _, err := svc.AddUser(ctx, beta.ID, operator, directory.NewUser{Email: "ann@acme.example", FirstName: "Annabel", LastName: "Quist"}); err != nil {
			t.Fatal(err)
		}
		_, tok, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "okta")
		if err != nil {
			t.Fatal(err)
		}
		in := directory.SCIMUserInput{Email: "ann@acme.example", Active: true,
			Profile: directory.SCIMProfile{UserName: "annabel.okta", ExternalID: "00u9xq", GivenName: "Annabel", FamilyName: "Quist"}}
		first, err := svc.CreateSCIMUser(ctx, acme.ID, tok, in)
		if err != nil {
			t.Fatal(err)
		}
		in.Active = false
		if _, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, first.Membership.ID, in, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteSCIMUser(ctx, acme.ID, tok, first.Membership.ID, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		in.Active = true
		if _, err := svc.CreateSCIMUser(ctx, acme.ID, tok, in); err != nil {
			t.Fatal(err)
		}

		ids, err := svc.PersonIDs(ctx, acme.ID, "ann@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		page, err := svc.AuditTrailPage(ctx, acme.ID, directory.AuditQuery{People: ids}, "")
		if err != nil {
			t.Fatal(err)
		}
		var trail []string
		for _, e := range page.Events {
			if strings.HasPrefix(e.Action, "membership.") {
				trail = append(trail, e.Action)
			}
		}
		slices.Reverse(trail)
		if want := []string{"membership.created", "membership.updated", "membership.deleted", "membership.created"}; !slices.Equal(trail, want) {
			t.Errorf("Ann's trail in acme = %v; want %v (the first membership's events too)", trail, want)
		}

		if _, err := svc.ErasePerson(ctx, operator, "ann@acme.example", directory.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"ann@acme.example", "annabel.okta", "00u9xq", "Annabel", "Quist"} {
			if n := auditMentions(t, s, name); n > 0 {
				t.Errorf("%d audit events still name %q", n, name)
			}
		}
	})
}
