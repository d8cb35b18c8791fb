package directory_test

import (
	"context"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// BenchmarkAuthenticate measures what every signed-in request pays for its
// session: with a password in an account without SSO rules (no query for
// the trust rules), and through the connection of an account that requires
// SSO (its connections read to know its SSO domains).
func BenchmarkAuthenticate(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc := newService(b, s)
		plain := mustAccount(b, svc, "plain")
		bee := mustAccount(b, svc, "bee", "b.example")
		c := connection(b, svc, bee.ID, "okta", directory.JITCreate)
		if _, err := svc.SetSignInPolicy(ctx, bee.ID, operator, directory.SignInPolicy{SSORequired: true}); err != nil {
			b.Fatal(err)
		}
		p, err := svc.AddUser(ctx, plain.ID, operator, directory.NewUser{Email: "p@plain.example", FirstName: "P", LastName: "Q", Password: "benchmark password 42"})
		if err != nil {
			b.Fatal(err)
		}
		in, err := svc.SignInWithSSO(ctx, c, directory.Identity{Subject: "s", Email: "s@b.example", FirstName: "S", LastName: "O"})
		if err != nil {
			b.Fatal(err)
		}
		for _, tc := range []struct {
			name          string
			user, account string
			cred          directory.Credential
		}{
			{"password", p.Member.User.ID, plain.ID, directory.ByPassword},
			{"sso-required", in.Member.User.ID, bee.ID, directory.BySSO(c)},
		} {
			token, _, err := svc.StartSession(ctx, tc.user, tc.account, tc.cred)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(tc.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.Authenticate(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// BenchmarkVerifyDomain100k measures verifying a domain in an account of
// 100,000 members in it: verification looks for passwords other accounts
// planted among them, a scan of the account's memberships.
func BenchmarkVerifyDomain100k(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		svc, a, _ := bigAccount(b, s, 100_000)
		for b.Loop() {
			if _, err := svc.AddDomain(ctx, a.ID, operator, "seed.example", true); err != nil {
				b.Fatal(err)
			}
			if err := svc.RemoveDomain(ctx, a.ID, operator, "seed.example"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
