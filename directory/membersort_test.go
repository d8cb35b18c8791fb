package directory_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// TestMemberSorts pages through an account's members in every order, both
// ways, alone, with a filter and with a search, a few at a time, and finds
// each member once and in the right place; people who share a name, a
// creation time or a sign-in are ordered by user id, and by sign-in those
// who never signed in come last, by email. A cursor of one order is
// refused by another.
func TestMemberSorts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
		var tick int
		svc := directory.NewService(directory.Config{Store: s, Hasher: fastHasher(), Now: func() time.Time {
			// Every third membership shares its creation time with the one before.
			return base.Add(time.Duration(tick/3*2) * time.Minute)
		}})
		a := mustAccount(t, svc, "acme")
		other := mustAccount(t, svc, "other")
		firsts := []string{"Zoe", "ann", "Bob", "Ann", "Émile"}
		type person struct {
			m       directory.Member
			signIn  *time.Time
			nameKey string
		}
		var people []person
		for i := range 17 {
			tick = i
			in := directory.NewUser{Email: fmt.Sprintf("p%02d@acme.example", (i*7)%17), FirstName: firsts[i%len(firsts)], LastName: "Q", Role: directory.RoleMember}
			added, err := svc.AddUser(ctx, a.ID, operator, in)
			if err != nil {
				t.Fatal(err)
			}
			p := person{m: added.Member, nameKey: strings.ToLower(in.FirstName + " Q")}
			if i%3 != 0 {
				at := base.Add(time.Duration(i%5) * time.Hour)
				if err := s.RecordSignIn(ctx, a.ID, added.Member.User.ID, "", at); err != nil {
					t.Fatal(err)
				}
				p.signIn = &at
			}
			if _, err := svc.AddUser(ctx, other.ID, operator, directory.NewUser{Email: fmt.Sprintf("o%02d@other.example", i), FirstName: "Ann", LastName: "Q"}); err != nil {
				t.Fatal(err)
			}
			people = append(people, p)
		}
		order := func(by directory.MemberSort, desc bool, keep func(person) bool) []string {
			ps := slices.DeleteFunc(slices.Clone(people), func(p person) bool { return !keep(p) })
			slices.SortFunc(ps, func(x, y person) int {
				if by == directory.SortSignIn && (x.signIn == nil) != (y.signIn == nil) {
					if x.signIn == nil {
						return 1
					}
					return -1
				}
				var c int
				switch {
				case by == directory.SortName:
					c = cmp.Compare(x.nameKey, y.nameKey)
				case by == directory.SortJoined:
					c = x.m.Membership.CreatedAt.Compare(y.m.Membership.CreatedAt)
				case by == directory.SortSignIn && x.signIn != nil:
					c = x.signIn.Compare(*y.signIn)
				default:
					c = cmp.Compare(x.m.User.Email, y.m.User.Email)
				}
				c = cmp.Or(c, cmp.Compare(x.m.User.ID, y.m.User.ID))
				if desc && !(by == directory.SortSignIn && x.signIn == nil) {
					c = -c
				}
				return c
			})
			var out []string
			for _, p := range ps {
				out = append(out, p.m.User.Email)
			}
			return out
		}
		for _, by := range directory.MemberSorts() {
			for _, desc := range []bool{false, true} {
				for _, tc := range []struct {
					name   string
					filter directory.MemberFilter
					keep   func(person) bool
				}{
					{"all", directory.MemberFilter{}, func(person) bool { return true }},
					{"never-signed-in", directory.MemberFilter{NeverSignedIn: true}, func(p person) bool { return p.signIn == nil }},
					{"search-ann", directory.MemberFilter{Search: "ann"}, func(p person) bool { return strings.HasPrefix(p.nameKey, "ann") }},
				} {
					t.Run(fmt.Sprintf("%s-desc=%v-%s", by, desc, tc.name), func(t *testing.T) {
						f := tc.filter
						f.Sort, f.Desc = by, desc
						var got []string
						after := ""
						for range 20 {
							page, err := svc.ListMembersBy(ctx, a.ID, f, after, 4)
							if err != nil {
								t.Fatal(err)
							}
							for _, m := range page.Members {
								got = append(got, m.User.Email)
							}
							if after = page.Next; after == "" {
								break
							}
						}
						if diff := gocmp.Diff(order(by, desc, tc.keep), got, cmpopts.EquateEmpty()); diff != "" {
							t.Errorf("(-want +got)\n%s", diff)
						}
					})
				}
			}
		}
		// A cursor is good for its own order only.
		first, err := svc.ListMembersBy(ctx, a.ID, directory.MemberFilter{Sort: directory.SortName}, "", 2)
		if err != nil || first.Next == "" {
			t.Fatal(err)
		}
		for _, f := range []directory.MemberFilter{{}, {Sort: directory.SortName, Desc: true}, {Sort: directory.SortJoined}} {
			if _, err := svc.ListMembersBy(ctx, a.ID, f, first.Next, 2); directory.KindOf(err) != directory.Invalid {
				t.Errorf("a name cursor for %+v: %v; want invalid", f, err)
			}
		}
		if _, err := svc.ListMembersBy(ctx, a.ID, directory.MemberFilter{Sort: "salary"}, "", 2); directory.KindOf(err) != directory.Invalid {
			t.Errorf("an unknown order: %v; want invalid", err)
		}
	})
}
