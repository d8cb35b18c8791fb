package directory_test

import (
	"context"
	"encoding/json"
	"errors"
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

func TestMain(m *testing.M) { storetest.Main(m) }

var operator = directory.Actor{Source: directory.SourceCLI, Name: "test"}

// fastHasher keeps tests quick; the real parameters are measured by the benchmarks.
func fastHasher() *directory.Hasher {
	return directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
}

func newService(t testing.TB, s *store.Store) *directory.Service {
	t.Helper()
	return directory.NewService(directory.Config{Store: s, Hasher: fastHasher()})
}

func mustAccount(t testing.TB, svc *directory.Service, slug string, domains ...string) directory.Account {
	t.Helper()
	a, err := svc.CreateAccount(context.Background(), operator, directory.NewAccount{Slug: slug, Name: strings.ToUpper(slug), Domains: domains})
	if err != nil {
		t.Fatalf("create account %s: %v", slug, err)
	}
	return a
}

func auditActions(t *testing.T, svc *directory.Service, accountID string) []string {
	t.Helper()
	events, err := svc.AuditEvents(context.Background(), accountID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	slices.Reverse(actions)
	return actions
}

func countRows(t *testing.T, s *store.Store, table string) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, `SELECT COUNT(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAddUserCreatesUserWithMustChangePassword(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		acme := mustAccount(t, svc, "acme", "acme.example")
		got, err := svc.AddUser(ctx, acme.ID, operator, directory.NewUser{
			Email: "  Ada.Lovelace@ACME.example ", FirstName: "Ada", LastName: "Lovelace", Role: directory.RoleAdmin,
			Password: "correct horse battery",
		})
		if err != nil {
			t.Fatalf("AddUser: %v", err)
		}
		if !got.NewUser || !got.PasswordSet {
			t.Errorf("NewUser, PasswordSet = %v, %v; want true, true", got.NewUser, got.PasswordSet)
		}
		u := got.Member.User
		if u.Email != "Ada.Lovelace@acme.example" {
			t.Errorf("email = %q; want the trimmed address with its domain lowercased", u.Email)
		}
		if !u.PasswordMustChange || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("password: must change %v, hash %q; want an argon2id hash that must change", u.PasswordMustChange, u.PasswordHash)
		}
		m, err := svc.Member(ctx, acme.ID, "ada.lovelace@acme.EXAMPLE")
		if err != nil {
			t.Fatalf("Member by other case: %v", err)
		}
		if m.Membership.Role != directory.RoleAdmin || m.Membership.Status != directory.StatusActive {
			t.Errorf("membership = %+v; want active admin", m.Membership)
		}
		if diff := cmp.Diff([]string{"account.created", "domain.verified", "user.created", "membership.created"}, auditActions(t, svc, acme.ID)); diff != "" {
			t.Errorf("audit events (-want +got):\n%s", diff)
		}
		// The account and its domain are admit's own business; the person
		// and their membership are the platform's.
		if n := countRows(t, s, "outbox_messages"); n != 2 {
			t.Errorf("outbox messages = %d; want one per event (user.created, membership.created)", n)
		}
	})
}

func TestSameEmailInTwoAccountsIsOneUserWithTwoMemberships(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "alpha")
		b := mustAccount(t, svc, "beta")
		first, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "grace@example.com", FirstName: "Grace", LastName: "Hopper", Password: "first password of hers"})
		if err != nil {
			t.Fatal(err)
		}
		second, err := svc.AddUser(ctx, b.ID, operator, directory.NewUser{Email: "GRACE@example.com", FirstName: "G", LastName: "H", Password: "admin of beta chose this"})
		if err != nil {
			t.Fatalf("add to second account: %v", err)
		}
		if second.NewUser || second.PasswordSet {
			t.Errorf("second add: NewUser %v, PasswordSet %v; want an existing user whose password is left alone", second.NewUser, second.PasswordSet)
		}
		if second.Member.User.ID != first.Member.User.ID {
			t.Errorf("second add made user %s; want the existing %s", second.Member.User.ID, first.Member.User.ID)
		}
		u, err := s.FindUserByEmail(ctx, "grace@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.PasswordHash != first.Member.User.PasswordHash || u.FirstName != "Grace" {
			t.Errorf("the second account's admin changed the person's password or name (rule 4)")
		}
		ms, err := s.FindMembershipsOfUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || countRows(t, s, "users") != 1 {
			t.Errorf("memberships = %d, users = %d; want 2 and 1", len(ms), countRows(t, s, "users"))
		}
	})
}

func TestAddExistingMemberIsConflict(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		in := directory.NewUser{Email: "alan@example.com", FirstName: "Alan", LastName: "Turing"}
		if _, err := svc.AddUser(ctx, a.ID, operator, in); err != nil {
			t.Fatal(err)
		}
		in.Email = "Alan@Example.com"
		_, err := svc.AddUser(ctx, a.ID, operator, in)
		if directory.KindOf(err) != directory.Conflict || !strings.Contains(directory.Message(err), "already a member") {
			t.Fatalf("second add: %v; want a Conflict saying already a member", err)
		}
		if diff := cmp.Diff([]string{"account.created", "user.created", "membership.created"}, auditActions(t, svc, a.ID)); diff != "" {
			t.Errorf("a refused add left audit events (-want +got):\n%s", diff)
		}
	})
}

func TestConcurrentAddsOfOneEmail(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = svc.AddUser(ctx, a.ID, operator, directory.NewUser{
					Email: "Same.Person@Example.com", FirstName: "Same", LastName: fmt.Sprint(i),
					Password: "a long enough password " + fmt.Sprint(i),
				})
			})
		}
		close(start)
		wg.Wait()
		var ok, conflicts int
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case directory.KindOf(err) == directory.Conflict && strings.Contains(directory.Message(err), "already a member"):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != n-1 {
			t.Errorf("%d succeeded and %d conflicted; want 1 and %d", ok, conflicts, n-1)
		}
		if got := countRows(t, s, "memberships"); got != 1 {
			t.Errorf("memberships = %d; want 1", got)
		}
		if got := countRows(t, s, "users"); got != 1 {
			t.Errorf("users = %d; want 1", got)
		}
		if got := countRows(t, s, "audit_events"); got != 3 {
			t.Errorf("audit events = %d; want 3 (account, user, membership)", got)
		}
	})
}

func TestAddUserRejectsBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		_, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{
			Email: "not-an-email", FirstName: "", LastName: "X", Role: "overlord", Password: "short",
		})
		if directory.KindOf(err) != directory.Invalid {
			t.Fatalf("got %v; want Invalid", err)
		}
		problems := strings.Join(directory.ProblemsOf(err), "\n")
		for _, want := range []string{"not an email address", "first name is required", `role "overlord" does not exist`, "password: use at least 12 characters"} {
			if !strings.Contains(problems, want) {
				t.Errorf("problems %q do not mention %q", problems, want)
			}
		}
		if n := countRows(t, s, "users"); n != 0 {
			t.Errorf("users = %d after a refused add; want 0", n)
		}
		_, err = svc.AddUser(ctx, "no-such-account", operator, directory.NewUser{Email: "a@example.com", FirstName: "A", LastName: "B"})
		if directory.KindOf(err) != directory.NotFound {
			t.Errorf("add to missing account: %v; want NotFound", err)
		}
	})
}

func TestCustomRoles(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		b := mustAccount(t, svc, "beta")
		if err := svc.CreateRole(ctx, a.ID, operator, "auditor"); err != nil {
			t.Fatal(err)
		}
		if err := svc.CreateRole(ctx, a.ID, operator, "auditor"); directory.KindOf(err) != directory.Conflict {
			t.Errorf("duplicate role: %v; want Conflict", err)
		}
		if err := svc.CreateRole(ctx, a.ID, operator, "Bad Role"); directory.KindOf(err) != directory.Invalid {
			t.Errorf("bad role name: %v; want Invalid", err)
		}
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "x@example.com", FirstName: "X", LastName: "Y", Role: "auditor"}); err != nil {
			t.Errorf("add with the account's own role: %v", err)
		}
		// Another account's role is not this account's.
		_, err := svc.AddUser(ctx, b.ID, operator, directory.NewUser{Email: "x@example.com", FirstName: "X", LastName: "Y", Role: "auditor"})
		if directory.KindOf(err) != directory.Invalid {
			t.Errorf("add with another account's role: %v; want Invalid", err)
		}
	})
}

func TestSetPasswordMeetsStrictestPolicyOfAllAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		lax := mustAccount(t, svc, "lax")
		strict := mustAccount(t, svc, "strict")
		if _, err := svc.SetPasswordPolicy(ctx, strict.ID, operator, directory.PasswordPolicy{MinLength: 16, RequireDigit: true}); err != nil {
			t.Fatal(err)
		}
		added, err := svc.AddUser(ctx, lax.ID, operator, directory.NewUser{Email: "p@example.com", FirstName: "P", LastName: "Q", Password: "twelve chars ok"})
		if err != nil {
			t.Fatal(err)
		}
		userID := added.Member.User.ID
		// In the lax account alone, a 13-character password without digits is fine.
		if err := svc.SetPassword(ctx, userID, operator, "purple monkey"); err != nil {
			t.Fatalf("lax policy: %v", err)
		}
		if _, err := svc.AddUser(ctx, strict.ID, operator, directory.NewUser{Email: "p@example.com", FirstName: "P", LastName: "Q"}); err != nil {
			t.Fatal(err)
		}
		err = svc.SetPassword(ctx, userID, operator, "purple monkey dishwasher")
		if directory.KindOf(err) != directory.Invalid || !strings.Contains(directory.Message(err), "digit") {
			t.Fatalf("got %v; want Invalid asking for a digit (the strict account's rule)", err)
		}
		if err := svc.SetPassword(ctx, userID, operator, "purple monkey dishwasher 7"); err != nil {
			t.Fatalf("password meeting both policies: %v", err)
		}
		u, err := s.FindUser(ctx, userID)
		if err != nil {
			t.Fatal(err)
		}
		if u.PasswordMustChange {
			t.Error("a password the person chose must not be marked for change")
		}
		for _, acc := range []directory.Account{lax, strict} {
			if actions := auditActions(t, svc, acc.ID); actions[len(actions)-1] != "user.password_changed" {
				t.Errorf("account %s: last audit event %q; want user.password_changed", acc.Slug, actions[len(actions)-1])
			}
		}
	})
}

func TestCreateAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a, err := svc.CreateAccount(ctx, operator, directory.NewAccount{Slug: "acme", Name: " Acme Inc ", Domains: []string{"ACME.example", "acme.example", "corp.acme.example."}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := svc.Account(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, got); diff != "" {
			t.Errorf("stored account differs (-created +found):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"acme.example", "corp.acme.example"}, got.Domains); diff != "" {
			t.Errorf("domains (-want +got):\n%s", diff)
		}
		if got.PasswordPolicy != directory.DefaultPasswordPolicy() {
			t.Errorf("policy = %+v; want the default", got.PasswordPolicy)
		}
		for _, tc := range []struct {
			name string
			in   directory.NewAccount
			kind directory.Kind
		}{
			{"same slug", directory.NewAccount{Slug: "acme", Name: "Other"}, directory.Conflict},
			{"domain of another account", directory.NewAccount{Slug: "other", Name: "Other", Domains: []string{"acme.example"}}, directory.Conflict},
			{"bad slug", directory.NewAccount{Slug: "Acme Inc", Name: "X"}, directory.Invalid},
			{"reserved slug", directory.NewAccount{Slug: "admin", Name: "X"}, directory.Invalid},
			{"bad domain", directory.NewAccount{Slug: "x1", Name: "X", Domains: []string{"not a domain"}}, directory.Invalid},
			{"no name", directory.NewAccount{Slug: "x2"}, directory.Invalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := svc.CreateAccount(ctx, operator, tc.in)
				if directory.KindOf(err) != tc.kind {
					t.Errorf("got %v (kind %v); want kind %v", err, directory.KindOf(err), tc.kind)
				}
			})
		}
		if accounts, _ := svc.Accounts(ctx); len(accounts) != 1 {
			t.Errorf("accounts = %d after refused creates; want 1 (nothing half-written)", len(accounts))
		}
	})
}

func TestListMembersPagesAndSearches(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		other := mustAccount(t, svc, "other")
		people := [][3]string{
			{"zoe@example.com", "Zoë", "Adams"}, {"bob@example.com", "Bob", "Zhang"}, {"ALICE@example.com", "Alice", "Smith"},
			{"carol@example.com", "Carol", "Smithers"}, {"dave@example.com", "Dave", "Jones"}, {"erin@example.com", "Erin", "Alba"},
		}
		for _, p := range people {
			if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: p[0], FirstName: p[1], LastName: p[2]}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.AddUser(ctx, other.ID, operator, directory.NewUser{Email: "aaron@example.com", FirstName: "Aaron", LastName: "Smith"}); err != nil {
			t.Fatal(err)
		}
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			page, err := svc.ListMembers(ctx, a.ID, "", after, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page.Members {
				got = append(got, m.User.Email)
			}
			if page.Next == "" {
				if pages != 1 {
					t.Errorf("pages = %d; want 2 pages of 4 and 2", pages+1)
				}
				break
			}
			after = page.Next
		}
		want := []string{"ALICE@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com", "zoe@example.com"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listing (-want +got):\n%s", diff)
		}
		for _, tc := range []struct{ search, want string }{
			{"smith", "ALICE@example.com carol@example.com"}, // last name prefix, not the other account's Aaron
			{"AL", "ALICE@example.com erin@example.com"},     // email or last name
			{"zoë", "zoe@example.com"},                       // non-ASCII name
			{"alice smith", "ALICE@example.com"},             // full name
			{"nobody", ""},
		} {
			page, err := svc.ListMembers(ctx, a.ID, tc.search, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			var emails []string
			for _, m := range page.Members {
				emails = append(emails, m.User.Email)
			}
			if got := strings.Join(emails, " "); got != tc.want {
				t.Errorf("search %q = %q; want %q", tc.search, got, tc.want)
			}
			n, err := svc.CountMembers(ctx, a.ID, tc.search)
			if err != nil || n != len(emails) {
				t.Errorf("count %q = %d, %v; want %d", tc.search, n, err, len(emails))
			}
		}
		if _, err := svc.ListMembers(ctx, a.ID, "", "!!garbage", 10); directory.KindOf(err) != directory.Invalid {
			t.Errorf("bad cursor: %v; want Invalid", err)
		}
	})
}

func TestOutboxPayloadDescribesTheChange(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		a := mustAccount(t, svc, "acme")
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "x@example.com", FirstName: "X", LastName: "Y", Password: "not a weak password"}); err != nil {
			t.Fatal(err)
		}
		var payloads []string
		if err := s.DB().Select(&payloads, `SELECT payload FROM outbox_messages WHERE topic = 'user.created'`); err != nil {
			t.Fatal(err)
		}
		if len(payloads) != 1 {
			t.Fatalf("user.created messages = %d; want 1", len(payloads))
		}
		var msg struct {
			Type       string         `json:"type"`
			Account    string         `json:"account"`
			Data       map[string]any `json:"data"`
			OccurredAt time.Time      `json:"occurred_at"`
		}
		if err := json.Unmarshal([]byte(payloads[0]), &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Type != "user.created" || msg.Account != a.ID || msg.Data["email"] != "x@example.com" || msg.OccurredAt.IsZero() {
			t.Errorf("payload = %+v", msg)
		}
		if strings.Contains(payloads[0], "argon2") || strings.Contains(payloads[0], "not a weak password") {
			t.Error("the outbox message carries the password or its hash")
		}
	})
}

func TestTxRollsBackEverything(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := s.Tx(ctx, func(tx directory.Store) error {
			now := time.Now().UTC()
			if err := tx.CreateAccount(ctx, directory.Account{ID: "a1", Slug: "acme", Name: "Acme", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx = %v; want the function's error", err)
		}
		if n := countRows(t, s, "accounts"); n != 0 {
			t.Errorf("accounts = %d after a rolled-back transaction; want 0", n)
		}
	})
}

// TestConcurrentAddsAcrossAccounts: the same person added to two accounts at
// once by many admins is one user with two memberships, with the password of
// whichever add created the user.
func TestConcurrentAddsAcrossAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		accounts := []directory.Account{mustAccount(t, svc, "alpha"), mustAccount(t, svc, "beta")}
		const perAccount = 25
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			newUsers int
			ok       = map[string]int{}
		)
		start := make(chan struct{})
		for i := range 2 * perAccount {
			a := accounts[i%2]
			wg.Go(func() {
				<-start
				added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{
					Email: "shared@example.com", FirstName: "S", LastName: "P", Password: fmt.Sprintf("initial password number %d", i),
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok[a.Slug]++
					if added.NewUser {
						newUsers++
					}
				case directory.KindOf(err) != directory.Conflict:
					t.Errorf("unexpected error: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if ok["alpha"] != 1 || ok["beta"] != 1 || newUsers != 1 {
			t.Errorf("successes %v, new users %d; want one add per account and one new user", ok, newUsers)
		}
		if u, m := countRows(t, s, "users"), countRows(t, s, "memberships"); u != 1 || m != 2 {
			t.Errorf("users %d, memberships %d; want 1 and 2", u, m)
		}
	})
}
