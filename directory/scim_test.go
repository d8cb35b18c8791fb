package directory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

func scimInput(userName, email, external, given, family string, active bool) directory.SCIMUserInput {
	return directory.SCIMUserInput{Email: email, Active: active, Profile: directory.SCIMProfile{
		UserName: userName, ExternalID: external, GivenName: given, FamilyName: family, DisplayName: given + " " + family,
		Attributes: []byte(fmt.Sprintf(`{"userName":%q,"x-custom":"kept"}`, userName)),
	}}
}

func TestSCIMUserLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a, b := mustAccount(t, svc, "alpha"), mustAccount(t, svc, "beta")
		_, tokA, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		_, tokB, _ := svc.CreateSCIMToken(ctx, b.ID, operator, "idp")
		// The person already has a password through beta.
		existing := addWithPassword(t, svc, b.ID, "ada@example.com", "ada's own password")
		proveAddress(t, svc, "ada@example.com", "ada's own password")
		existing, _ = s.FindUser(ctx, existing.ID)
		u, err := svc.CreateSCIMUser(ctx, a.ID, tokA, scimInput("Ada@Example.com", "ada@example.com", "00u1", "Ada", "Lovelace", true))
		if err != nil {
			t.Fatal(err)
		}
		if u.Membership.UserID != existing.ID || u.Membership.ID == existing.ID || !u.Active() || u.Version < 1 {
			t.Errorf("created %+v; want a new membership (its own id) of the existing person", u)
		}
		if stored, _ := s.FindUser(ctx, existing.ID); stored.PasswordHash != existing.PasswordHash || stored.FirstName != "F" {
			t.Error("SCIM changed the person's password or name, which belong to them in every account")
		}
		if _, err := svc.CreateSCIMUser(ctx, a.ID, tokA, scimInput("ADA@example.com", "other@example.com", "", "X", "Y", true)); directory.KindOf(err) != directory.Conflict {
			t.Errorf("same userName in other case: %v; want Conflict", err)
		}
		if _, err := svc.CreateSCIMUser(ctx, a.ID, tokA, scimInput("no-email", "", "", "X", "Y", true)); directory.KindOf(err) != directory.Invalid {
			t.Errorf("no email: %v; want Invalid", err)
		}
		// Beta's token cannot see or touch alpha's user.
		if _, err := svc.SCIMUser(ctx, b.ID, u.Membership.ID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("beta reads alpha's user: %v", err)
		}
		if err := svc.DeleteSCIMUser(ctx, b.ID, tokB, u.Membership.ID, directory.IfVersion{}); directory.KindOf(err) != directory.NotFound {
			t.Errorf("beta deletes alpha's user: %v", err)
		}
		got, err := svc.SCIMUser(ctx, a.ID, u.Membership.ID)
		if err != nil || got.Profile.ExternalID != "00u1" || !strings.Contains(string(got.Profile.Attributes), "x-custom") {
			t.Fatalf("get: %+v, %v", got, err)
		}
		// Deactivation through SCIM ends the member's sessions in alpha at once.
		session, _, err := svc.StartSession(ctx, existing.ID, a.ID, directory.ByPassword)
		if err != nil {
			t.Fatal(err)
		}
		off := scimInput("Ada@Example.com", "", "00u1", "Ada", "King", false)
		if _, err := svc.ReplaceSCIMUser(ctx, a.ID, tokA, u.Membership.ID, off, directory.VersionIn(got.Version+7)); directory.KindOf(err) != directory.PreconditionFailed {
			t.Errorf("stale version: %v; want PreconditionFailed", err)
		}
		replaced, err := svc.ReplaceSCIMUser(ctx, a.ID, tokA, u.Membership.ID, off, directory.VersionIn(got.Version))
		if err != nil || replaced.Active() || replaced.Version != got.Version+1 || replaced.Email != "ada@example.com" {
			t.Fatalf("replace: %+v, %v", replaced, err)
		}
		if _, err := svc.Authenticate(ctx, session); directory.KindOf(err) != directory.Unauthenticated {
			t.Errorf("session after SCIM deactivation: %v; want ended", err)
		}
		if _, err := svc.ReplaceSCIMUser(ctx, a.ID, tokA, u.Membership.ID, scimInput("Ada@Example.com", "", "00u1", "Ada", "King", true), directory.IfVersion{}); err != nil {
			t.Errorf("reactivate: %v", err)
		}
		if err := svc.DeleteSCIMUser(ctx, a.ID, tokA, u.Membership.ID, directory.IfVersion{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SCIMUser(ctx, a.ID, u.Membership.ID); directory.KindOf(err) != directory.NotFound {
			t.Errorf("after delete: %v", err)
		}
		if _, err := svc.Member(ctx, b.ID, "ada@example.com"); err != nil {
			t.Errorf("deleting from alpha touched beta: %v", err)
		}
	})
}

func TestSCIMFilters(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a, other := mustAccount(t, svc, "alpha"), mustAccount(t, svc, "other")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "idp")
		_, otherTok, _ := svc.CreateSCIMToken(ctx, other.ID, operator, "idp")
		people := []directory.SCIMUserInput{
			scimInput("ada@acme.example", "ada@acme.example", "EXT-1", "Ada", "Lovelace", true),
			scimInput("grace@acme.example", "grace@acme.example", "ext-2", "Grace", "Hopper", true),
			scimInput("Alan.Turing", "alan@acme.example", "EXT-3", "Alan", "Turing", false),
			scimInput("zoë@acme.example", "zoe@acme.example", "", "Zoë", "Ådams", true),
		}
		for i, p := range people {
			if _, err := svc.CreateSCIMUser(ctx, a.ID, tok, p); err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				clk.Add(time.Hour)
			}
		}
		if _, err := svc.CreateSCIMUser(ctx, other.ID, otherTok, scimInput("ada@acme.example", "ada@acme.example", "EXT-1", "Ada", "L", true)); err != nil {
			t.Fatal(err)
		}
		cut := clk.Now().Add(-time.Minute)
		f := func(field directory.FilterField, op directory.FilterOp, v any) *directory.Filter {
			return &directory.Filter{Op: op, Field: field, Value: v}
		}
		and := func(l, r *directory.Filter) *directory.Filter {
			return &directory.Filter{Op: directory.OpAnd, Left: l, Right: r}
		}
		or := func(l, r *directory.Filter) *directory.Filter {
			return &directory.Filter{Op: directory.OpOr, Left: l, Right: r}
		}
		not := func(l *directory.Filter) *directory.Filter { return &directory.Filter{Op: directory.OpNot, Left: l} }
		tests := []struct {
			name   string
			filter *directory.Filter
			want   string // sorted user names
		}{
			{"all", nil, "Alan.Turing ada@acme.example grace@acme.example zoë@acme.example"},
			{"userName eq ignores case", f(directory.FieldUserName, directory.OpEq, "ADA@ACME.EXAMPLE"), "ada@acme.example"},
			{"externalId eq is exact", f(directory.FieldExternalID, directory.OpEq, "ext-1"), ""},
			{"externalId eq", f(directory.FieldExternalID, directory.OpEq, "EXT-1"), "ada@acme.example"},
			{"emails.value", f(directory.FieldEmail, directory.OpEq, "Alan@ACME.example"), "Alan.Turing"},
			{"sw", f(directory.FieldUserName, directory.OpSw, "a"), "Alan.Turing ada@acme.example"},
			{"ew", f(directory.FieldEmail, directory.OpEw, "oe@acme.example"), "zoë@acme.example"},
			{"co", f(directory.FieldFamilyName, directory.OpCo, "OPP"), "grace@acme.example"},
			{"co non-ASCII", f(directory.FieldUserName, directory.OpCo, "ë@"), "zoë@acme.example"},
			{"pr", f(directory.FieldExternalID, directory.OpPr, nil), "Alan.Turing ada@acme.example grace@acme.example"},
			{"ne", f(directory.FieldExternalID, directory.OpNe, "EXT-3"), "ada@acme.example grace@acme.example zoë@acme.example"},
			{"gt string", f(directory.FieldUserName, directory.OpGt, "grace@acme.example"), "zoë@acme.example"},
			{"active false", f(directory.FieldActive, directory.OpEq, false), "Alan.Turing"},
			{"active ne false", f(directory.FieldActive, directory.OpNe, false), "ada@acme.example grace@acme.example zoë@acme.example"},
			{"lastModified gt", f(directory.FieldLastModified, directory.OpGt, cut), "Alan.Turing zoë@acme.example"},
			{"and", and(f(directory.FieldActive, directory.OpEq, true), f(directory.FieldUserName, directory.OpSw, "a")), "ada@acme.example"},
			{"or", or(f(directory.FieldExternalID, directory.OpEq, "ext-2"), f(directory.FieldGivenName, directory.OpEq, "zoë")), "grace@acme.example zoë@acme.example"},
			{"not", not(f(directory.FieldUserName, directory.OpCo, "@")), "Alan.Turing"},
			{"injection is a value", f(directory.FieldUserName, directory.OpEq, "' OR 1=1 --"), ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				page, err := svc.ListSCIMUsers(ctx, a.ID, tc.filter, 1, 100)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, u := range page.Users {
					names = append(names, u.Profile.UserName)
				}
				slices.Sort(names)
				if got := strings.Join(names, " "); got != tc.want || page.Total != len(names) {
					t.Errorf("got %q (total %d); want %q", got, page.Total, tc.want)
				}
			})
		}
		for _, bad := range []*directory.Filter{
			f("password", directory.OpEq, "x"),
			f(directory.FieldActive, directory.OpGt, true),
			f(directory.FieldLastModified, directory.OpCo, cut),
			f(directory.FieldUserName, directory.OpEq, 42),
		} {
			if _, err := svc.ListSCIMUsers(ctx, a.ID, bad, 1, 10); directory.KindOf(err) != directory.Invalid {
				t.Errorf("filter %+v: %v; want Invalid", bad, err)
			}
		}
		page, _ := svc.ListSCIMUsers(ctx, a.ID, nil, 3, 10)
		if page.Total != 4 || len(page.Users) != 2 {
			t.Errorf("startIndex 3: %d of %d; want 2 of 4", len(page.Users), page.Total)
		}
		page, _ = svc.ListSCIMUsers(ctx, a.ID, nil, 1, 0)
		if page.Total != 4 || len(page.Users) != 0 {
			t.Errorf("count 0: %d of %d; want the total only", len(page.Users), page.Total)
		}
	})
}

// TestSCIMFilterBounds: a filter past MaxFilterTerms or MaxFilterValue,
// however it was made, is Invalid before the store makes SQL of it, on
// both databases alike: without the bound SQLite refuses 1,000 or terms
// ("Expression tree is too large") and PostgreSQL 20,000 ("memory
// exhausted"), each as an internal error. At the bound, it is answered.
func TestSCIMFilterBounds(t *testing.T) {
	t.Parallel()
	eq := func(i int) *directory.Filter {
		return &directory.Filter{Op: directory.OpEq, Field: directory.FieldDisplayName, Value: fmt.Sprint("u", i)}
	}
	chain := func(op directory.FilterOp, n int) *directory.Filter {
		f := eq(0)
		for i := 1; i < n; i++ {
			f = &directory.Filter{Op: op, Left: f, Right: eq(i)}
		}
		return f
	}
	nots := func(n int) *directory.Filter {
		f := eq(0)
		for range n {
			f = &directory.Filter{Op: directory.OpNot, Left: f}
		}
		return f
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, _ := newClockService(t, s)
		a := mustAccount(t, svc, "alpha")
		for _, tc := range []struct {
			name string
			f    *directory.Filter
			ok   bool
		}{
			{"at the bound", chain(directory.OpOr, directory.MaxFilterTerms), true},
			{"nots at the bound", nots(directory.MaxFilterTerms), true},
			{"a longest value", &directory.Filter{Op: directory.OpCo, Field: directory.FieldDisplayName, Value: strings.Repeat("ä", directory.MaxFilterValue)}, true},
			{"one comparison more", chain(directory.OpOr, directory.MaxFilterTerms+1), false},
			{"1,000 and", chain(directory.OpAnd, 1000), false},
			{"20,000 or", chain(directory.OpOr, 20000), false},
			{"one not more", nots(directory.MaxFilterTerms + 1), false},
			{"10,000 nots", nots(10000), false},
			{"a longer value", &directory.Filter{Op: directory.OpCo, Field: directory.FieldDisplayName, Value: strings.Repeat("ä", directory.MaxFilterValue+1)}, false},
			{"NUL", &directory.Filter{Op: directory.OpEq, Field: directory.FieldDisplayName, Value: "a\x00b"}, false},
			{"not UTF-8", &directory.Filter{Op: directory.OpEq, Field: directory.FieldDisplayName, Value: "a\xffb"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, uerr := svc.ListSCIMUsers(ctx, a.ID, tc.f, 1, 10)
				_, gerr := svc.ListSCIMGroups(ctx, a.ID, tc.f, 1, 10, false)
				for what, err := range map[string]error{"users": uerr, "groups": gerr} {
					if tc.ok && err != nil {
						t.Errorf("%s: %v", what, err)
					}
					if !tc.ok && directory.KindOf(err) != directory.Invalid {
						t.Errorf("%s: %v (kind %s); want Invalid", what, err, directory.KindOf(err))
					}
				}
			})
		}
	})
}

// TestStricterNameRulesKeepOldValues: a name stored before a rule was made
// stricter (bidirectional overrides were once accepted) does not stop the
// identity provider's next change to something else: a PATCH that
// deactivates the person, or one that adds a member to the group, goes
// through with the old value sent back as it was. A new value under the
// rule is refused, on create and on change.
func TestStricterNameRulesKeepOldValues(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc, clk := newClockService(t, s)
		a := mustAccount(t, svc, "acme", "acme.example")
		_, tok, _ := svc.CreateSCIMToken(ctx, a.ID, operator, "okta")
		const overridden = "Ada \u202emoc.live"
		if _, err := svc.CreateSCIMUser(ctx, a.ID, tok, scimInput("eve@acme.example", "eve@acme.example", "", overridden, "L", true)); directory.KindOf(err) != directory.Invalid {
			t.Errorf("create with an override in givenName: %v; want Invalid", err)
		}
		u, err := svc.CreateSCIMUser(ctx, a.ID, tok, scimInput("ada@acme.example", "ada@acme.example", "00u1", "Ada", "Lovelace", true))
		if err != nil {
			t.Fatal(err)
		}
		// As a release before the rule stored it.
		legacy := u.Profile
		legacy.DisplayName, legacy.GivenName = overridden, overridden
		if _, err := s.UpdateSCIMProfile(ctx, a.ID, u.Membership.ID, legacy, clk.Now()); err != nil {
			t.Fatal(err)
		}
		deactivate := func(cur directory.SCIMUser) (directory.SCIMUserInput, error) {
			return directory.SCIMUserInput{Profile: cur.Profile, Email: cur.Email, Active: false}, nil
		}
		got, err := svc.PatchSCIMUser(ctx, a.ID, tok, u.Membership.ID, directory.IfVersion{}, deactivate)
		if err != nil || got.Active() {
			t.Fatalf("deactivating a person with a name stored before the rule: %+v, %v; want deactivated", got.Membership, err)
		}
		rename := func(cur directory.SCIMUser) (directory.SCIMUserInput, error) {
			p := cur.Profile
			p.FamilyName = "Lovelace \u2067x"
			return directory.SCIMUserInput{Profile: p, Email: cur.Email, Active: cur.Active()}, nil
		}
		if _, err := svc.PatchSCIMUser(ctx, a.ID, tok, u.Membership.ID, directory.IfVersion{}, rename); directory.KindOf(err) != directory.Invalid {
			t.Errorf("a new familyName with an isolate: %v; want Invalid", err)
		}

		if _, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Admins\u202e"}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("group created with an override: %v; want Invalid", err)
		}
		g, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Admins"})
		if err != nil {
			t.Fatal(err)
		}
		old := g.Group
		old.DisplayName = "Admins\u202e"
		if err := s.UpdateGroup(ctx, old); err != nil {
			t.Fatal(err)
		}
		add := directory.GroupChange{Steps: []directory.MemberStep{{Op: directory.MembersAdd, Members: []string{u.Membership.ID}}}}
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, g.Group.ID, add, directory.IfVersion{}); err != nil {
			t.Errorf("adding a member to a group named before the rule: %v", err)
		}
		renamed := "Owners\u2066"
		if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, g.Group.ID, directory.GroupChange{DisplayName: &renamed}, directory.IfVersion{}); directory.KindOf(err) != directory.Invalid {
			t.Errorf("renaming a group with an isolate: %v; want Invalid", err)
		}
	})
}
