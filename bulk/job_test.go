package bulk_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

func newService(t testing.TB, s *store.Store) *directory.Service {
	t.Helper()
	return directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})})
}

func mustAccount(t testing.TB, svc *directory.Service, slug string, domains ...string) directory.Account {
	t.Helper()
	a, err := svc.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: slug, Name: strings.ToUpper(slug), Domains: domains})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readRows(t testing.TB, csvText string) []directory.ImportRow {
	t.Helper()
	tab, err := bulk.ReadTable(context.Background(), strings.NewReader(csvText), "", bulk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := bulk.MapHeader(tab.Header)
	rows, err := tab.Rows(m)
	if err != nil {
		t.Fatal(err)
	}
	return bulk.ImportRows(rows)
}

func runImport(t testing.TB, svc *directory.Service, accountID string, spec directory.ImportSpec, rows []directory.ImportRow) directory.Import {
	t.Helper()
	ctx := context.Background()
	im, err := svc.CreateImport(ctx, accountID, operator, spec, rows)
	if err != nil {
		t.Fatalf("CreateImport: %v", err)
	}
	r := &bulk.Runner{Service: svc}
	done, err := r.RunNow(ctx, im.ID)
	if err != nil {
		t.Fatalf("run import: %v", err)
	}
	return done
}

type outcome struct {
	Line    int
	Outcome directory.ImportOutcome
	Reason  string
}

func report(t testing.TB, svc *directory.Service, accountID, id string) []outcome {
	t.Helper()
	rows, err := svc.ImportReport(context.Background(), accountID, id, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]outcome, len(rows))
	for i, r := range rows {
		out[i] = outcome{r.Line, r.Outcome, r.Reason}
	}
	return out
}

const peopleCSV = `Email,First name,Last name,Role,Department
ada@acme.example,Ada,Lovelace,,R&D
grace@acme.example,Grace,Hopper,admin,R&D
shared@elsewhere.example,Shared,Person,,
member@acme.example,Already,Member,,
ADA@acme.example,Ada,Again,,
not-an-email,No,Body,,
role@acme.example,Bad,Role,emperor,
noname@acme.example,,,,
bob@other.example,Bob,Other,,
`

// TestImportRowOutcomes runs each row rule of manual add through a job,
// and checks that the same file imported again changes nothing.
func TestImportRowOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		other := mustAccount(t, svc, "other", "other.example")
		if _, err := svc.AddUser(ctx, other.ID, operator, directory.NewUser{Email: "shared@elsewhere.example", FirstName: "S", LastName: "P"}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{Email: "member@acme.example", FirstName: "M", LastName: "M"}); err != nil {
			t.Fatal(err)
		}
		spec := directory.ImportSpec{Mode: directory.ImportPassword, Password: "a shared initial secret", FileName: "people.csv"}
		im := runImport(t, svc, acme.ID, spec, readRows(t, peopleCSV))
		if im.Status != directory.ImportFinished {
			t.Fatalf("status = %s; want finished", im.Status)
		}
		want := []outcome{
			{2, directory.OutcomeCreated, ""},
			{3, directory.OutcomeCreated, ""},
			{4, directory.OutcomeJoined, "already has a user: only a membership was added, and their password was left as it is"},
			{5, directory.OutcomeAlreadyMember, "member@acme.example is already a member of this account"},
			{6, directory.OutcomeDuplicate, "ADA@acme.example is also on line 2"},
			{7, directory.OutcomeError, `"not-an-email" is not an email address like name@example.com`},
			{8, directory.OutcomeError, `role "emperor" does not exist in this account (roles: owner, admin, member)`},
			{9, directory.OutcomeError, "first and last name are required for a new person"},
			{10, directory.OutcomeError, "bob@other.example is in a domain another organisation has verified: its people's passwords are theirs to set; invite them instead"},
		}
		if diff := cmp.Diff(want, report(t, svc, acme.ID, im.ID)); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		wantCounts := directory.ImportCounts{Created: 2, Joined: 1, AlreadyMember: 1, Duplicate: 1, Failed: 4}
		if diff := cmp.Diff(wantCounts, im.Counts); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
		m, err := svc.Member(ctx, acme.ID, "grace@acme.example")
		if err != nil || m.Membership.Role != directory.RoleAdmin || m.Membership.Source != directory.SourceOfImport || !m.User.PasswordMustChange {
			t.Errorf("grace = %+v, %v; want an imported admin who must change her password", m, err)
		}
		shared, _ := svc.Member(ctx, other.ID, "shared@elsewhere.example")
		if shared.User.HasPassword() {
			t.Error("the person of another account got the upload's password (rule 4)")
		}
		before := tableCounts(t, s)
		again := runImport(t, svc, acme.ID, spec, readRows(t, peopleCSV))
		if again.Counts.Created+again.Counts.Joined != 0 {
			t.Errorf("second import counts %+v; want nothing created or joined", again.Counts)
		}
		after := tableCounts(t, s)
		delete(before, "audit_events")
		delete(after, "audit_events")
		delete(before, "outbox_messages")
		delete(after, "outbox_messages")
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("the second import changed the directory (-before +after):\n%s", diff)
		}
	})
}

func tableCounts(t testing.TB, s *store.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"users", "memberships", "invitations", "audit_events", "outbox_messages"} {
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestImportedPersonSignsInAndMustChange: the shared password opens the
// account, must be changed, and no longer works afterwards.
func TestImportedPersonSignsInAndMustChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		runImport(t, svc, acme.ID, directory.ImportSpec{Mode: directory.ImportPassword, Password: "a shared initial secret"},
			readRows(t, "email;full name\nada@acme.example;Ada Lovelace\n"))
		in, err := svc.SignIn(ctx, "ada@acme.example", "a shared initial secret", directory.Client{Addr: "10.0.0.1"})
		if err != nil {
			t.Fatalf("sign in with the shared password: %v", err)
		}
		if !in.User.PasswordMustChange || in.User.FirstName != "Ada" || in.User.LastName != "Lovelace" {
			t.Fatalf("user = %+v; want Ada Lovelace who must change her password", in.User)
		}
		if err := svc.SetPassword(ctx, in.User.ID, directory.Actor{Source: directory.SourceUser, ID: in.User.ID}, "ada's very own passphrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SignIn(ctx, "ada@acme.example", "a shared initial secret", directory.Client{Addr: "10.0.0.1"}); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("old shared password after the change: %v; want refused", err)
		}
		if _, err := svc.SignIn(ctx, "ada@acme.example", "ada's very own passphrase", directory.Client{Addr: "10.0.0.1"}); err != nil {
			t.Errorf("new password: %v", err)
		}
	})
}

// TestImportModesAndJobRules covers invitations, no password, the dry run,
// one open job per account and cancelling.
func TestImportModesAndJobRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		rows := readRows(t, "email\tfirst\tlast\na@acme.example\tA\tA\nb@acme.example\t\t\n")
		preview, counts, err := svc.PreviewImport(ctx, acme.ID, directory.ImportSpec{Mode: directory.ImportInvite}, rows)
		if err != nil || counts.Created != 2 || preview[1].Outcome != directory.OutcomeCreated {
			t.Fatalf("preview = %+v %+v %v; want two to create (names are optional with invitations)", preview, counts, err)
		}
		if n := tableCounts(t, s)["users"]; n != 0 {
			t.Fatalf("the dry run wrote %d users", n)
		}
		im := runImport(t, svc, acme.ID, directory.ImportSpec{Mode: directory.ImportInvite}, rows)
		if im.Counts.Created != 2 {
			t.Fatalf("counts %+v", im.Counts)
		}
		invs, _ := svc.Invitations(ctx, acme.ID)
		if len(invs) != 2 {
			t.Errorf("invitations = %d; want 2", len(invs))
		}
		var mails int
		if err := s.DB().Get(&mails, `SELECT COUNT(*) FROM mail_messages`); err != nil || mails != 2 {
			t.Errorf("mail queued = %d (%v); want 2", mails, err)
		}

		im2 := runImport(t, svc, acme.ID, directory.ImportSpec{Mode: directory.ImportNoPassword}, readRows(t, "email,name\nsso@acme.example,Sam Sso\n"))
		m, _ := svc.Member(ctx, acme.ID, "sso@acme.example")
		if im2.Counts.Created != 1 || m.User.HasPassword() {
			t.Errorf("no-password import: %+v, user %+v", im2.Counts, m.User)
		}

		first, err := svc.CreateImport(ctx, acme.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword}, readRows(t, "email,name\nc@acme.example,C C\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateImport(ctx, acme.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword}, rows); directory.KindOf(err) != directory.Conflict {
			t.Errorf("second open import: %v; want Conflict", err)
		}
		cancelled, err := svc.CancelImport(ctx, acme.ID, operator, first.ID)
		if err != nil || cancelled.Status != directory.ImportCancelled {
			t.Fatalf("cancel: %+v %v", cancelled, err)
		}
		if _, err := svc.Member(ctx, acme.ID, "c@acme.example"); directory.KindOf(err) != directory.NotFound {
			t.Errorf("a cancelled import's row was added: %v", err)
		}
		if _, err := svc.CreateImport(ctx, acme.ID, operator, directory.ImportSpec{Mode: directory.ImportPassword, Password: "short"}, rows); directory.KindOf(err) != directory.Invalid {
			t.Errorf("weak initial password: %v; want Invalid", err)
		}
	})
}

// TestImportManyBatches crosses several batches and checks the counts.
func TestImportManyBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		n := 2*directory.ImportBatchSize + 17
		im := runImport(t, svc, acme.ID, directory.ImportSpec{Mode: directory.ImportPassword, Password: "a shared initial secret"}, readRows(t, peopleFile(n)))
		if im.Counts.Created != n {
			t.Fatalf("created %d; want %d", im.Counts.Created, n)
		}
		c := tableCounts(t, s)
		if c["users"] != n || c["memberships"] != n || c["outbox_messages"] != 2*n+1 {
			t.Errorf("tables %v; want %d users and memberships, two events each and import.finished", c, n)
		}
	})
}

// TestAdminCannotImportOwners: an admin who is not an owner may not make
// owners, by the file's Role column or by the import's role.
func TestAdminCannotImportOwners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		adm := directory.Admin{Account: acme, User: directory.User{ID: "u1", Email: "ann@acme.example"}, Membership: directory.Membership{Role: directory.RoleAdmin, Status: directory.StatusActive}}
		rows := readRows(t, "email,first,last,role\nboss@acme.example,B,B,owner\nok@acme.example,O,K,\n")
		out, counts, err := svc.PreviewMemberImport(ctx, adm, directory.ImportSpec{Mode: directory.ImportNoPassword}, rows)
		if err != nil || counts.Failed != 1 || out[0].Reason != "only an owner can make someone an owner" || out[1].Outcome != directory.OutcomeCreated {
			t.Errorf("preview = %+v %+v %v; want the owner row refused", out, counts, err)
		}
		if _, err := svc.StartMemberImport(ctx, adm, directory.ImportSpec{Mode: directory.ImportNoPassword, Role: directory.RoleOwner}, rows); directory.KindOf(err) != directory.Forbidden {
			t.Errorf("import as owners: %v; want Forbidden", err)
		}
		owner := adm
		owner.Membership.Role = directory.RoleOwner
		if _, counts, err := svc.PreviewMemberImport(ctx, owner, directory.ImportSpec{Mode: directory.ImportNoPassword}, rows); err != nil || counts.Created != 2 {
			t.Errorf("an owner's preview: %+v %v; want both created", counts, err)
		}
	})
}

// TestImportLanes: lanes of one job add each row once, whatever order
// their batches commit in, and report progress that never goes back; a
// cancel stops every lane, and the job's counts are what was added.
func TestImportLanes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		var b strings.Builder
		b.WriteString("email,first name,last name\n")
		n := 4*directory.ImportBatchSize + 3
		for i := range n {
			if i%997 == 996 {
				fmt.Fprintf(&b, "p%d@acme.example,Again,%d\n", i-500, i) // a duplicate, found before anything is added
				continue
			}
			fmt.Fprintf(&b, "p%d@acme.example,P,%d\n", i, i)
		}
		rows := readRows(t, b.String())
		spec := directory.ImportSpec{Mode: directory.ImportPassword, Password: "a shared initial secret"}
		im, err := svc.CreateImport(ctx, acme.ID, operator, spec, rows)
		if err != nil {
			t.Fatal(err)
		}
		// Three lanes on PostgreSQL; on SQLite, whose writers take turns,
		// its one (more only wait on each other's lock).
		lanes := 3
		if s.Dialect() != "postgres" {
			lanes = svc.ImportLanes()
		}
		last := -1
		r := &bulk.Runner{Service: svc, Lanes: lanes, Progress: func(p directory.Import) {
			if p.Counts.Done() < last {
				t.Errorf("progress went back from %d to %d rows", last, p.Counts.Done())
			}
			last = p.Counts.Done()
		}}
		done, err := r.RunNow(ctx, im.ID)
		if err != nil {
			t.Fatal(err)
		}
		dups := n / 997
		want := directory.ImportCounts{Created: n - dups, Duplicate: dups}
		if done.Status != directory.ImportFinished || done.Counts != want || last != n {
			t.Fatalf("job %s %+v, last progress %d; want finished with %+v and %d", done.Status, done.Counts, last, want, n)
		}
		c := tableCounts(t, s)
		if c["users"] != n-dups || c["memberships"] != n-dups || c["outbox_messages"] != 2*(n-dups)+1 {
			t.Errorf("tables %v; want %d people, two events each and import.finished", c, n-dups)
		}
		for _, r := range report(t, svc, acme.ID, done.ID) {
			if r.Outcome == directory.OutcomePending {
				t.Fatalf("line %d has no outcome", r.Line)
			}
		}

	})
}

// TestImportCancelledMidBatch: a batch that was under way when the job
// was cancelled adds nobody. On PostgreSQL, where a batch does not hold
// the job while it works (so that lanes can), the test holds the job's
// row the way CancelImport does, lets a batch run into it, and cancels.
func TestImportCancelledMidBatch(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	svc := newService(t, s)
	acme := mustAccount(t, svc, "acme", "acme.example")
	im, err := svc.CreateImport(ctx, acme.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword},
		readRows(t, "email,first name,last name\na@acme.example,A,A\nb@acme.example,B,B\n"))
	if err != nil {
		t.Fatal(err)
	}
	canceller := holdRows(t, s, `SELECT id FROM imports WHERE id = $1 FOR UPDATE`, im.ID)
	batch := inBackground(func() (directory.Import, error) { return svc.RunImportBatch(ctx, im, time.Minute) })
	// The batch has added its people and waits for the job's row.
	waitBlocked(t, s)
	if _, err := canceller.ExecContext(ctx, `UPDATE imports SET status = 'cancelled', finished_at = now() WHERE id = $1`, im.ID); err != nil {
		t.Fatal(err)
	}
	if err := canceller.Commit(); err != nil {
		t.Fatal(err)
	}
	got := <-batch
	if got.err != nil || got.im.Status != directory.ImportCancelled || got.im.Counts.Created != 0 {
		t.Errorf("batch = %s %+v, %v; want the job cancelled with nobody created", got.im.Status, got.im.Counts, got.err)
	}
	if n := tableCounts(t, s)["memberships"]; n != 0 {
		t.Errorf("%d memberships added by a batch of a cancelled job", n)
	}
}

// waitBlocked waits until a connection of s's database waits for a lock.
func waitBlocked(t *testing.T, s *store.Store) {
	t.Helper()
	for range 500 {
		var n int
		if err := s.DB().Get(&n, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no batch waited for the job's row")
}

// TestImportWaitsForChunksHeldElsewhere: when the rows left are held by a
// runner outside this one (one whose claim lapsed while it still ran), the
// runner waits for them rather than return the job half done.
func TestImportWaitsForChunksHeldElsewhere(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	svc := newService(t, s)
	acme := mustAccount(t, svc, "acme", "acme.example")
	n := 2*directory.ImportBatchSize + 500
	im, err := svc.CreateImport(ctx, acme.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword}, readRows(t, peopleFile(n)))
	if err != nil {
		t.Fatal(err)
	}
	other := holdRows(t, s, `SELECT 1 FROM import_chunks WHERE import_id = $1 ORDER BY first_line DESC LIMIT 1 FOR UPDATE`, im.ID)
	ran := inBackground(func() (directory.Import, error) { return (&bulk.Runner{Service: svc}).RunNow(ctx, im.ID) })
	select {
	case got := <-ran:
		t.Fatalf("the runner returned %s with %d of %d done, %v, while a chunk was held elsewhere", got.im.Status, got.im.Counts.Done(), n, got.err)
	case <-time.After(3 * time.Second):
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	got := <-ran
	if got.err != nil || got.im.Status != directory.ImportFinished || got.im.Counts.Created != n {
		t.Errorf("after the other runner let go: %s %+v, %v; want finished with %d created", got.im.Status, got.im.Counts, got.err, n)
	}
}

// holdRows begins a transaction of its own that locks the rows query
// selects, as another runner or a cancel would, until the test commits or
// rolls it back (or ends).
func holdRows(t *testing.T, s *store.Store, query string, args ...any) *sqlx.Tx {
	t.Helper()
	tx, err := s.DB().BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
	return tx
}

type jobResult struct {
	im  directory.Import
	err error
}

// inBackground runs fn on its own goroutine and hands back its answer.
func inBackground(fn func() (directory.Import, error)) <-chan jobResult {
	out := make(chan jobResult, 1)
	go func() {
		im, err := fn()
		out <- jobResult{im, err}
	}()
	return out
}
