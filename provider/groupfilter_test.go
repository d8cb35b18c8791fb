package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/admit-dev/admit/directory"
)

// TestGroupFilterInClaims: an app with a group filter is told only the
// matching groups, in its ID tokens (at the code exchange and at each
// refresh), at userinfo and in introspection; another app, without a
// filter, is told every group of the same person; a changed filter holds
// at the next request.
func TestGroupFilterInClaims(t *testing.T) {
	eachStore(t, func(t *testing.T, s *site) {
		ctx := context.Background()
		a := s.account("acme")
		m := s.invited(a, "ada@acme.example", "correct horse battery", directory.RoleMember)
		all := []string{"Admins", "Engineering", "Wiki-Editors", "wiki-readers"}
		groups, _ := json.Marshal(all)
		if _, err := s.store.DB().ExecContext(ctx, s.store.DB().Rebind(`UPDATE memberships SET sso_groups = ? WHERE user_id = ?`), string(groups), m.User.ID); err != nil {
			t.Fatal(err)
		}
		wiki, secret := s.app(directory.NewApp{Name: "Wiki", RedirectURIs: []string{appPrefix + "wiki"}, GroupFilter: "WIKI-*,admins"})
		other, _ := s.app(directory.NewApp{Name: "SPA", RedirectURIs: []string{appPrefix + "spa"}, Public: true})
		b := s.browser()

		signIn := func(r *rp) (*oauth2.Token, []string) {
			t.Helper()
			l := r.start(t)
			tok, err := r.conf.Exchange(ctx, b.code(t, l, "ada@acme.example", "correct horse battery"), oauth2.VerifierOption(l.verifier))
			if err != nil {
				t.Fatal(err)
			}
			return tok, idTokenGroups(t, r, tok)
		}
		want := []string{"Admins", "Wiki-Editors", "wiki-readers"}
		r := newRP(t, s, wiki, secret)
		tok, got := signIn(r)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ID token groups (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, userinfoGroups(t, r, tok)); diff != "" {
			t.Errorf("userinfo groups (-want +got):\n%s", diff)
		}
		a2 := call(t, "POST", s.issuer+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, wiki.ClientID, secret)
		var introspected struct {
			Active bool     `json:"active"`
			Groups []string `json:"groups"`
		}
		if err := json.Unmarshal([]byte(a2.body), &introspected); a2.status != http.StatusOK || err != nil || !introspected.Active {
			t.Fatalf("introspection: %d %s", a2.status, a2.body)
		}
		if diff := cmp.Diff(want, introspected.Groups); diff != "" {
			t.Errorf("introspection groups (-want +got):\n%s", diff)
		}

		_, got = signIn(newRP(t, s, other, ""))
		if diff := cmp.Diff(all, got); diff != "" {
			t.Errorf("the app without a filter: ID token groups (-want +got):\n%s", diff)
		}

		if _, err := s.dir.SetAppGroups(ctx, operator, wiki.ClientID, "engineering"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"Engineering"}, userinfoGroups(t, r, tok)); diff != "" {
			t.Errorf("userinfo groups after the change (-want +got):\n%s", diff)
		}
		refreshed, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"Engineering"}, idTokenGroups(t, r, refreshed)); diff != "" {
			t.Errorf("refreshed ID token groups (-want +got):\n%s", diff)
		}
	})
}

func idTokenGroups(t *testing.T, r *rp, tok *oauth2.Token) []string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var c appClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c.Groups
}

func userinfoGroups(t *testing.T, r *rp, tok *oauth2.Token) []string {
	t.Helper()
	info, err := r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var c appClaims
	if err := info.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c.Groups
}
