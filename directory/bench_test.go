package directory_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkAddUser measures a manual add: with the production argon2id
// parameters (the hash dominates) and without a password (the transaction:
// user, membership, two audit events, two outbox messages).
func BenchmarkAddUser(b *testing.B) {
	for _, withPassword := range []bool{false, true} {
		name := "no-password"
		if withPassword {
			name = "argon2id-password"
		}
		b.Run(name, func(b *testing.B) {
			storetest.EachB(b, func(b *testing.B, s *store.Store) {
				ctx := context.Background()
				svc := directory.NewService(directory.Config{Store: s})
				a := mustAccount(b, svc, "bench")
				password := ""
				if withPassword {
					password = "benchmark password 42"
				}
				i := 0
				for b.Loop() {
					i++
					_, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{
						Email: fmt.Sprintf("person%d@bench.example", i), FirstName: "Bench", LastName: "Mark", Password: password,
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkListMembers100k measures member listing in an account of 100,000:
// the first page, a page deep in the listing (keyset: should cost the same),
// prefix searches with many and with few matches, and the count.
func BenchmarkListMembers100k(b *testing.B) {
	const members = 100_000
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s})
		a := mustAccount(b, svc, "big")
		// Another account's people must not slow this one's listing.
		other := mustAccount(b, svc, "other")
		storetest.SeedMembers(b, s, other.ID, "other", 1000)
		storetest.SeedMembers(b, s, a.ID, "user", members)

		// Walk the listing to find the cursor of its last page.
		deep := ""
		for after := ""; ; {
			p, err := svc.ListMembers(ctx, a.ID, "", after, directory.MaxPageSize)
			if err != nil {
				b.Fatal(err)
			}
			if p.Next == "" {
				break
			}
			deep, after = after, p.Next
		}
		for _, tc := range []struct{ name, search, after string }{
			{"first-page", "", ""},
			{"last-page", "", deep},
			{"search-10pct", "lovelace", ""},
			{"search-1-match", "user099999", ""},
		} {
			b.Run(tc.name, func(b *testing.B) {
				for b.Loop() {
					p, err := svc.ListMembers(ctx, a.ID, tc.search, tc.after, 50)
					if err != nil || len(p.Members) == 0 {
						b.Fatalf("%v, %d members", err, len(p.Members))
					}
				}
			})
		}
		b.Run("count", func(b *testing.B) {
			for b.Loop() {
				if n, err := svc.CountMembers(ctx, a.ID, ""); err != nil || n != members {
					b.Fatalf("count = %d, %v", n, err)
				}
			}
		})
	})
}

// BenchmarkHashPassword measures one argon2id hash with the production
// parameters: the per-core cost of every sign-in and password change.
func BenchmarkHashPassword(b *testing.B) {
	h := directory.NewHasher(directory.DefaultArgon2Params())
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark password 42"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignIn measures a correct sign-in with the production argon2id
// parameters, one at a time and with every core busy: sign-ins per second
// are bounded by hashing, one hash per sign-in.
func BenchmarkSignIn(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s})
		a := mustAccount(b, svc, "bench")
		if _, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: "p@bench.example", FirstName: "B", LastName: "M", Password: "benchmark password 42"}); err != nil {
			b.Fatal(err)
		}
		b.Run("serial", func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.SignIn(ctx, "p@bench.example", "benchmark password 42", directory.Client{Addr: "127.0.0.1"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.SignIn(ctx, "p@bench.example", "benchmark password 42", directory.Client{Addr: "127.0.0.1"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		// With the device cookie of an earlier sign-in: held to the
		// device's counts instead of the person's and the address's.
		in, err := svc.SignIn(ctx, "p@bench.example", "benchmark password 42", directory.Client{Addr: "127.0.0.1"})
		if err != nil {
			b.Fatal(err)
		}
		device := directory.Client{Addr: "127.0.0.1", Device: in.Device}
		b.Run("serial-device", func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.SignIn(ctx, "p@bench.example", "benchmark password 42", device); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkSCIMUsers100k measures the SCIM listing at 100,000 members:
// filter by userName (what every identity provider does before creating),
// and the first and last page by startIndex.
func BenchmarkSCIMUsers100k(b *testing.B) {
	const members = 100_000
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s})
		a := mustAccount(b, svc, "big")
		storetest.SeedMembers(b, s, a.ID, "user", members)
		byName := &directory.Filter{Op: directory.OpEq, Field: directory.FieldUserName, Value: "user054321@seed.example"}
		for _, tc := range []struct {
			name   string
			filter *directory.Filter
			start  int
		}{
			{"filter-userName", byName, 1},
			{"first-page", nil, 1},
			{"last-page-jump", nil, members - 99}, // no page read before it: OFFSET
			{"last-page-continued", nil, members - 99},
		} {
			if tc.name == "last-page-continued" {
				// The page before it was read, as a client paging through
				// does: the next one continues from where it ended.
				if _, err := svc.ListSCIMUsers(ctx, a.ID, nil, members-199, 100); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(tc.name, func(b *testing.B) {
				for b.Loop() {
					p, err := svc.ListSCIMUsers(ctx, a.ID, tc.filter, tc.start, 100)
					if err != nil || len(p.Users) == 0 {
						b.Fatalf("%v, %d users", err, len(p.Users))
					}
				}
			})
		}
	})
}

// BenchmarkGroupMemberAdd adds and removes one member of a group of 10 and
// of a group of 100,000: the cost must be the same.
func BenchmarkGroupMemberAdd(b *testing.B) {
	const members = 100_000
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc, a, tok := bigAccount(b, s, members)
		outsider, err := svc.CreateSCIMUser(ctx, a.ID, tok, directory.SCIMUserInput{Email: "new@acme.example", Active: true,
			Profile: directory.SCIMProfile{UserName: "new@acme.example", Attributes: []byte("{}")}})
		if err != nil {
			b.Fatal(err)
		}
		for _, size := range []int{10, members} {
			g, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: fmt.Sprintf("group of %d", size)})
			if err != nil {
				b.Fatal(err)
			}
			storetest.SeedGroupMembers(b, s, a.ID, g.Group.ID, size)
			b.Run(fmt.Sprintf("members-%d", size), func(b *testing.B) {
				ops := []directory.MemberOp{directory.MembersAdd, directory.MembersRemove}
				i := 0
				for b.Loop() {
					step := directory.MemberStep{Op: ops[i%2], Members: []string{outsider.Membership.ID}}
					if _, err := svc.ChangeSCIMGroup(ctx, a.ID, tok, g.Group.ID, directory.GroupChange{Steps: []directory.MemberStep{step}}, directory.IfVersion{}); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	})
}

// BenchmarkMapGroupToRole100k maps and unmaps a group of 10 in an account
// of 100,000 members: the members whose roles are worked out again are the
// group's and those whose last SSO login sent the group's name.
func BenchmarkMapGroupToRole100k(b *testing.B) {
	const members = 100_000
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc, a, tok := bigAccount(b, s, members)
		g, err := svc.CreateSCIMGroup(ctx, a.ID, tok, directory.GroupInput{DisplayName: "Ten"})
		if err != nil {
			b.Fatal(err)
		}
		storetest.SeedGroupMembers(b, s, a.ID, g.Group.ID, 10)
		for b.Loop() {
			if _, n, err := svc.MapGroupToRole(ctx, a.ID, operator, "Ten", directory.RoleAdmin, nil); err != nil || n != 10 {
				b.Fatalf("map: %d, %v", n, err)
			}
			if _, err := svc.UnmapGroup(ctx, a.ID, operator, "Ten"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// bigAccount is an account of n seeded members with a SCIM token.
func bigAccount(b *testing.B, s *store.Store, n int) (*directory.Service, directory.Account, directory.SCIMToken) {
	b.Helper()
	svc := directory.NewService(directory.Config{Store: s})
	a := mustAccount(b, svc, "big")
	_, tok, err := svc.CreateSCIMToken(context.Background(), a.ID, operator, "idp")
	if err != nil {
		b.Fatal(err)
	}
	storetest.SeedMembers(b, s, a.ID, "user", n)
	return svc, a, tok
}

// BenchmarkDeleteAccount deletes an account of ADMIT_BENCH_MEMBERS
// (default 100,000) members whose home it is (each is erased: the most
// work a member can be), and reports the longest transaction: what
// replicas wait on, and what the chunks bound. "whole" takes every member
// in one transaction, the deletion without chunks, for comparison.
func BenchmarkDeleteAccount(b *testing.B) {
	members := 100_000
	if n, err := strconv.Atoi(os.Getenv("ADMIT_BENCH_MEMBERS")); err == nil && n > 0 {
		members = n
	}
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc := directory.NewService(directory.Config{Store: s})
		mustAccount(b, svc, "other")
		chunks := []int{directory.DefaultAccountChunk}
		if members <= 10_000 {
			chunks = append(chunks, 2*members) // a 100,000 in one takes many minutes
		}
		for _, chunk := range chunks {
			name := fmt.Sprintf("chunk-%d", chunk)
			if chunk > members {
				name = "whole"
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					slug := fmt.Sprintf("gone%d-%d", chunk, i)
					a := mustAccount(b, svc, slug, slug+".example")
					if _, err := s.DB().ExecContext(ctx, s.DB().Rebind(`UPDATE domains SET domain = 'seed.example' WHERE account_id = ?`), a.ID); err != nil {
						b.Fatal(err)
					}
					storetest.SeedMembers(b, s, a.ID, slug, members)
					b.StartTimer()
					var took []time.Duration
					last := time.Now()
					d, err := svc.DeleteAccount(ctx, operator, slug, chunk, func(directory.AccountDeletion) error {
						took = append(took, time.Since(last))
						last = time.Now()
						return nil
					})
					if err != nil || d.Erased != members {
						b.Fatalf("%+v, %v", d, err)
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "longest-tx-ms")
					b.ReportMetric(float64(took[len(took)*99/100].Milliseconds()), "p99-tx-ms")
					b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-tx-ms")
					b.ReportMetric(float64(d.Transactions), "transactions")
				}
			})
		}
	})
}

// BenchmarkMatchForwardAuthApp picks a request's app among a host's apps,
// as every forward-auth request does (the apps themselves are cached): the
// cost grows with the apps of the host, each read as written and leniently.
func BenchmarkMatchForwardAuthApp(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		apps := []directory.App{{Name: "root"}}
		for i := range n - 1 {
			apps = append(apps, directory.App{Name: fmt.Sprint(i), PathPrefix: fmt.Sprintf("/team%d/app", i)})
		}
		path := fmt.Sprintf("/team%d/app/projects/42/board", n/2)
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := directory.MatchForwardAuthApp(apps, path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGroupFilter applies an app's group filter to a person in 500
// groups (MaxGroupsPerLogin) of 40-character names, as forward-auth does
// on every request it does not answer from a replica's recent answers.
func BenchmarkGroupFilter(b *testing.B) {
	groups := make([]string, directory.MaxGroupsPerLogin)
	for i := range groups {
		groups[i] = fmt.Sprintf("Engineering / Platform / Team %03d / All", i)
	}
	many := make([]string, 20)
	for i := range many {
		many[i] = fmt.Sprintf("Sales / Region %02d / *", i)
	}
	base := strings.Repeat("Engineering / Platform / ", 11)[:253]
	long := make([]string, len(groups))
	for i := range long {
		long[i] = fmt.Sprintf("%s%03d", base, i)
	}
	alike := make([]string, 100)
	for i := range alike {
		alike[i] = fmt.Sprintf("%s%03d", base, i+len(groups))
	}
	for _, tc := range []struct {
		name   string
		filter directory.GroupFilter
	}{
		{"none", ""},
		{"entries=2", "wiki-*,admins"},
		// A name that shares 32 characters with every group: each
		// comparison reads that far before it differs.
		{"entries=2-alike", "wiki-*,Engineering / Platform / Team 042 / All"},
		{"entries=20", directory.GroupFilter(strings.Join(many, ","))},
		// The most a filter may hold, each entry sharing all but its end
		// with every group (the groups as long as admit keeps them).
		{"entries=100-alike-256", directory.GroupFilter(strings.Join(alike, ","))},
	} {
		groups := groups
		if strings.HasSuffix(tc.name, "-256") {
			groups = long
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tc.filter.Apply(groups)
			}
		})
	}
}
