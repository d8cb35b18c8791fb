package provider_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// TestConcurrentRefreshesOverHTTP: an app's tabs or replicas refresh one
// token at the same moment through x/oauth2, on each store: every one
// gets a token set with a verified ID token, none an error (a 500 least
// of all). The tokens they got are one chain: once one of them is
// refreshed, a stale one presented after the reuse interval revokes the
// sign-in's tokens, the newest included.
func TestConcurrentRefreshesOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		app, secret := s.app(directory.NewApp{Name: "Web", RedirectURIs: []string{appPrefix + "web"}})
		r := newRP(t, s, app, secret)
		l := r.start(t)
		first, err := r.conf.Exchange(ctx, s.browser().code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
		if err != nil {
			t.Fatal(err)
		}
		refresh := func(rt string) (*oauth2.Token, error) {
			return r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
		}
		const n = 3
		got := make([]*oauth2.Token, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				got[i], errs[i] = refresh(first.RefreshToken)
			})
		}
		close(start)
		wg.Wait()
		seen := map[string]bool{first.RefreshToken: true}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("refresh %d of %d at once: %v; want tokens", i, n, err)
			}
			if _, err := r.verifier.Verify(ctx, got[i].Extra("id_token").(string)); err != nil {
				t.Errorf("ID token of refresh %d: %v", i, err)
			}
			if seen[got[i].RefreshToken] {
				t.Errorf("refresh %d gave a refresh token already handed out", i)
			}
			seen[got[i].RefreshToken] = true
		}
		// The app goes on with one of them; the others are stale now.
		next, err := refresh(got[0].RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Add(directory.DefaultRefreshReuseInterval + time.Second)
		if _, err := refresh(got[1].RefreshToken); oauthError(err) != "invalid_grant" {
			t.Fatalf("a stale token of the concurrent refreshes after the interval: %v; want invalid_grant", err)
		}
		if _, err := refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("the newest refresh token after a stale one came back: %v; want invalid_grant (the family is revoked)", err)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err == nil {
			t.Error("the family's access token still works after a stale refresh token came back")
		}
	})
}
