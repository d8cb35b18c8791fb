package directory_test

import (
	"context"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store/storetest"
)

// TestAcceptingBesideARenameAnnouncesTheNameItWrites: the person accepts
// hooli's invitation confirming the name admit shows ("Ada Lovelace")
// while acme's identity provider renames her to "Ada King". The
// acceptance, writing "Lovelace" over "King", announces it: when it
// compared with the name read before waiting for SCIM's lock, it saw no
// change, and every account last heard "King" while the directory said
// "Lovelace". PostgreSQL only (SQLite's writers take turns from BEGIN
// IMMEDIATE). A table lock on the outbox holds the SCIM change after its
// write of the name, before its commit. (A review's finding.)
func TestAcceptingBesideARenameAnnouncesTheNameItWrites(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	svc, _ := newClockService(t, s)
	acme, hooli := mustAccount(t, svc, "acme", "acme.example"), mustAccount(t, svc, "hooli")
	_, tok, err := svc.CreateSCIMToken(ctx, acme.ID, operator, "okta")
	if err != nil {
		t.Fatal(err)
	}
	ada, err := svc.CreateSCIMUser(ctx, acme.ID, tok, scimInput("ada", "ada@acme.example", "ext-ada", "Ada", "Lovelace", true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Invite(ctx, hooli.ID, operator, directory.NewInvitation{Email: "ada@acme.example"}); err != nil {
		t.Fatal(err)
	}
	link := linkOf(t, svc, "ada@acme.example")
	_, cursor := publishedSince(t, svc, 0)

	hold, err := s.DB().Beginx()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(`LOCK TABLE outbox_messages IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	renamed := make(chan error, 1)
	go func() {
		_, err := svc.ReplaceSCIMUser(ctx, acme.ID, tok, ada.Membership.ID, scimInput("ada", "ada@acme.example", "ext-ada", "Ada", "King", true), directory.IfVersion{})
		renamed <- err
	}()
	waitLockedN(t, s.DB(), 1) // SCIM wrote the name, holds the user's row, waits to insert its events
	accepted := make(chan error, 1)
	go func() {
		_, err := svc.AcceptInvitation(ctx, link, directory.Acceptance{FirstName: "Ada", LastName: "Lovelace", Password: "ada's own passphrase"})
		accepted <- err
	}()
	waitLockedN(t, s.DB(), 2) // the acceptance read "Lovelace" and waits for the user's row
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-renamed; err != nil {
		t.Fatal(err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}

	u, err := s.FindUserByEmail(ctx, "ada@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := publishedSince(t, svc, cursor)
	last := map[string]string{}
	for id, rs := range renamesByAccount(t, evs) {
		last[id] = rs[len(rs)-1].LastName
	}
	for _, a := range []directory.Account{acme, hooli} {
		if last[a.ID] != u.LastName {
			t.Errorf("%s last heard last_name %q; the directory has %q", a.Slug, last[a.ID], u.LastName)
		}
	}
}

// waitLockedN waits until n sessions of the test's database wait for a lock.
func waitLockedN(t *testing.T, db interface {
	Get(dest any, query string, args ...any) error
}, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var k int
		if err := db.Get(&k, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions wait for a lock; want %d", k, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
