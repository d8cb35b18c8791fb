package events_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
)

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

// clock is a settable time for the directory: the tests move it to
// simulate hours and days.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// advanceTo moves the clock forward to t, if t is later.
func (c *clock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

func newService(t testing.TB, s *store.Store) *directory.Service {
	t.Helper()
	return directory.NewService(directory.Config{Store: s, Hasher: fastHasher()})
}

func newClockService(t testing.TB, s *store.Store, c *clock) *directory.Service {
	t.Helper()
	return directory.NewService(directory.Config{Store: s, Hasher: fastHasher(), Now: c.Now})
}

func fastHasher() *directory.Hasher {
	return directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
}

func mustAccount(t testing.TB, svc *directory.Service, slug string, domains ...string) directory.Account {
	t.Helper()
	a, err := svc.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: slug, Name: slug, Domains: domains})
	if err != nil {
		t.Fatalf("create account %s: %v", slug, err)
	}
	return a
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// emitRealisticRun does what the directory's doors do in a working day:
// SCIM creates, patches, deactivates and deletes people and runs group
// operations; a group-to-role mapping changes roles; an SSO login creates
// a person just in time and a later one renames them; invitations are
// sent, accepted, bounced and revoked; an admin deactivates and
// reactivates a member; a bulk upload adds two; an API key changes a
// member's role and removes them.
func emitRealisticRun(t testing.TB, svc *directory.Service) directory.Account {
	t.Helper()
	ctx := context.Background()
	a := mustAccount(t, svc, "acme", "acme.example")
	_, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
	check(t, err)

	user := func(name string, active bool) directory.SCIMUser {
		return must[directory.SCIMUser](t)(svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{
			Email: name + "@acme.example", Active: active,
			Profile: directory.SCIMProfile{UserName: name + "@acme.example", GivenName: name, FamilyName: "Smith"},
		}))
	}
	ada, bob := user("ada", true), user("bob", true)
	// A PATCH renaming Ada, then one deactivating and one reactivating Bob.
	must[directory.SCIMUser](t)(svc.ReplaceSCIMUser(ctx, a.ID, tok, ada.Membership.ID, directory.SCIMUserInput{
		Active: true, Profile: directory.SCIMProfile{UserName: "ada@acme.example", GivenName: "Ada", FamilyName: "Lovelace"}}, directory.IfVersion{}))
	for _, active := range []bool{false, true} {
		must[directory.SCIMUser](t)(svc.ReplaceSCIMUser(ctx, a.ID, tok, bob.Membership.ID, directory.SCIMUserInput{
			Active: active, Profile: directory.SCIMProfile{UserName: "bob@acme.example", GivenName: "bob", FamilyName: "Smith"}}, directory.IfVersion{}))
	}

	// Groups: created with a member, renamed with a member removed and
	// one added, then deleted. The mapping makes the group's members admins.
	g := must[directory.SCIMGroup](t)(svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Engineering", Members: []string{ada.Membership.ID}}))
	if _, _, err := svc.MapGroupToRole(ctx, a.ID, operator, "Platform", directory.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	name := "Platform"
	must[directory.SCIMGroup](t)(svc.ChangeSCIMGroup(ctx, a.ID, tok, g.Group.ID, directory.GroupChange{DisplayName: &name, Steps: []directory.MemberStep{
		{Op: directory.MembersRemove, Members: []string{ada.Membership.ID}},
		{Op: directory.MembersAdd, Members: []string{bob.Membership.ID}},
	}}, directory.IfVersion{}))
	check(t, svc.DeleteSCIMGroup(ctx, a.ID, tok, g.Group.ID, directory.IfVersion{}))
	check(t, svc.DeleteSCIMUser(ctx, a.ID, tok, ada.Membership.ID, directory.IfVersion{}))

	// SSO: a first login creates Cy, a later one brings a new name.
	conn := must[directory.Connection](t)(svc.CreateConnection(ctx, a.ID, operator, directory.NewConnection{
		Protocol: directory.ProtocolSAML, Name: "okta", JITMode: directory.JITCreate, Metadata: "<md/>"}))
	for _, last := range []string{"Young", "Younger"} {
		must[directory.SSOSignIn](t)(svc.SignInWithSSO(ctx, conn, directory.Identity{Email: "cy@acme.example", FirstName: "Cy", LastName: last}))
	}

	// Invitations: one accepted, one bounced, one revoked.
	for _, email := range []string{"dee@partner.example", "eve@partner.example", "fay@partner.example"} {
		must[directory.Invitation](t)(svc.Invite(ctx, a.ID, operator, directory.NewInvitation{Email: email}))
	}
	msgs := must[[]directory.MailMessage](t)(svc.ClaimMail(ctx, 100))
	for _, m := range msgs {
		switch m.Recipient {
		case "dee@partner.example":
			body := must[directory.MailBody](t)(svc.MailBodyOf(ctx, m))
			check(t, svc.MailDelivered(ctx, m.ID, true))
			must[directory.Member](t)(svc.AcceptInvitation(ctx, body.Token, directory.Acceptance{FirstName: "Dee", LastName: "Dune", Password: "violet staple orbit lantern"}))
		case "eve@partner.example":
			check(t, svc.MailRefused(ctx, m.ID, "550 5.1.1 no such user"))
		default:
			check(t, svc.MailDelivered(ctx, m.ID, true))
		}
	}
	must[directory.Invitation](t)(svc.Revoke(ctx, a.ID, operator, "fay@partner.example"))

	// An admin deactivates and reactivates a member.
	must[directory.Member](t)(svc.Deactivate(ctx, a.ID, operator, "cy@acme.example"))
	must[directory.Member](t)(svc.Reactivate(ctx, a.ID, operator, "cy@acme.example"))

	// A bulk upload of two people, one of them known already.
	im := must[directory.Import](t)(svc.CreateImport(ctx, a.ID, operator, directory.ImportSpec{Mode: directory.ImportNoPassword, FileName: "people.csv"},
		[]directory.ImportRow{{Line: 2, Email: "gil@acme.example", FirstName: "Gil", LastName: "Gray"}, {Line: 3, Email: "cy@acme.example"}}))
	im = must[directory.Import](t)(svc.ClaimImport(ctx, im.ID, time.Minute))
	for im.Status.Open() {
		im = must[directory.Import](t)(svc.RunImportBatch(ctx, im, time.Minute))
	}

	// Through the JSON API, an admin's key makes Gil an admin, then
	// removes them from the account.
	_, key, err := svc.CreateAPIKey(ctx, a.ID, operator, "sync")
	check(t, err)
	adm := must[directory.Admin](t)(svc.KeyAdmin(ctx, key, a.Slug))
	gil := must[directory.MemberPage](t)(svc.ListMembers(ctx, a.ID, "gil@", "", 1)).Members[0].User.ID
	must[directory.Member](t)(svc.ChangeRole(ctx, adm, gil, directory.RoleAdmin))
	must[directory.Member](t)(svc.RemoveMember(ctx, adm, gil))

	// An operator erases Cy (membership.deleted, user.deleted), and
	// deletes an account that left, whose one member is erased with it.
	must[directory.Erasure](t)(svc.ErasePerson(ctx, operator, "cy@acme.example", directory.EraseOptions{}))
	gone := must[directory.Account](t)(svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "gone", Name: "Gone", Domains: []string{"gone.example"}}))
	must[directory.Added](t)(svc.AddUser(ctx, gone.ID, operator, directory.NewUser{Email: "dee@gone.example", FirstName: "Dee", LastName: "Doe"}))
	must[directory.AccountDeletion](t)(svc.DeleteAccount(ctx, operator, gone.Slug, 0, nil))
	return a
}

// scimCreates makes n people through SCIM in the account, named
// <prefix>0..<prefix>n-1.
func scimCreates(t testing.TB, svc *directory.Service, a directory.Account, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	_, tok, err := svc.CreateSCIMToken(ctx, a.ID, operator, fmt.Sprintf("bulk-%d", time.Now().UnixNano()))
	check(t, err)
	for i := range n {
		email := fmt.Sprintf("%s%d@%s.example", prefix, i, a.Slug)
		if _, err := svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Email: email, Active: true,
			Profile: directory.SCIMProfile{UserName: email, GivenName: "P", FamilyName: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// storeT is the store the tests run on.
type storeT = store.Store
