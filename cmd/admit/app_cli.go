package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

type appJSON struct {
	Name                   string    `json:"name"`
	ClientID               string    `json:"client_id"`
	ClientSecret           string    `json:"client_secret,omitempty"` // only when just made
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string    `json:"backchannel_logout_uri,omitempty"`
	Public                 bool      `json:"public"`
	Account                string    `json:"account,omitempty"` // slug; none for every account
	ForwardAuthHost        string    `json:"forward_auth_host,omitempty"`
	PathPrefix             string    `json:"path_prefix,omitempty"`
	GroupFilter            string    `json:"group_filter"` // "" for every group
	RefreshReuseSeconds    int       `json:"refresh_reuse_seconds"`
	Issuer                 string    `json:"issuer"`
	CreatedAt              time.Time `json:"created_at"`
}

func (c *cli) toAppJSON(a directory.App, slug string) appJSON {
	return appJSON{Name: a.Name, ClientID: a.ClientID, RedirectURIs: nonNilList(a.RedirectURIs), PostLogoutRedirectURIs: nonNilList(a.PostLogoutRedirectURIs),
		BackchannelLogoutURI: a.BackchannelLogoutURI, Public: a.Public, Account: slug,
		ForwardAuthHost: a.ForwardAuthHost, PathPrefix: a.PathPrefix, GroupFilter: string(a.GroupFilter),
		RefreshReuseSeconds: int(a.RefreshReuseInterval / time.Second), Issuer: strings.TrimSuffix(c.linkBase(), "/"), CreatedAt: a.CreatedAt}
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (c *cli) appAdd(ctx context.Context, args []string) error {
	fs := c.flags("app add")
	name := fs.String("name", "", "the app's name, shown to operators and in the audit trail")
	var redirects, logouts stringList
	fs.Var(&redirects, "redirect-uri", "where admit may send the browser back with a code, matched exactly but for the port of http://127.0.0.1 or http://[::1] (repeatable; https, or http on localhost)")
	fs.Var(&logouts, "post-logout-redirect-uri", "where admit may send the browser after the app signs it out (repeatable)")
	backchannel := fs.String("backchannel-logout-uri", "", "where admit posts a logout token when a person's membership ends (OpenID Back-Channel Logout)")
	public := fs.Bool("public", false, "the app cannot keep a secret (single-page or native app): no secret, PKCE required")
	slug := fs.String("account", "", "serve only this account's members (default: every account)")
	host := fs.String("forward-auth-host", "", "put the app behind forward-auth or admit's proxy: requests for this host[:port] are the app's (then --redirect-uri is optional)")
	prefix := fs.String("path-prefix", "", "with --forward-auth-host: only requests under this path (/wiki) are the app's")
	groups := fs.String("groups", "", groupsUsage+" (default: every group)")
	reuse := fs.Duration("refresh-reuse-interval", directory.DefaultRefreshReuseInterval, refreshReuseUsage)
	return c.inService(ctx, fs, args, []string{"name"}, func(svc *directory.Service) error {
		var accountID string
		if *slug != "" {
			a, err := svc.Account(ctx, *slug)
			if err != nil {
				return err
			}
			accountID = a.ID
		}
		app, secret, err := svc.AddApp(ctx, c.actor(), directory.NewApp{Name: *name, RedirectURIs: redirects, PostLogoutRedirectURIs: logouts,
			BackchannelLogoutURI: *backchannel, Public: *public, AccountID: accountID, ForwardAuthHost: *host, PathPrefix: *prefix, GroupFilter: *groups,
			RefreshReuseInterval: reuse})
		if err != nil {
			return err
		}
		out := c.toAppJSON(app, *slug)
		out.ClientSecret = secret
		text := fmt.Sprintf("added app %s\nissuer:        %s\nclient id:     %s", app.Name, out.Issuer, app.ClientID)
		if secret != "" {
			text += fmt.Sprintf("\nclient secret: %s\n(the secret is shown only now; store it in the app's settings)", secret)
		} else {
			text += "\npublic client: no secret; the app must use PKCE (S256)"
		}
		if app.ForwardAuthHost != "" {
			text += fmt.Sprintf("\nforward-auth:  %s%s (the X-Admit-Jwt audience is the client id)", app.ForwardAuthHost, app.PathPrefix)
		}
		if app.GroupFilter != "" {
			text += "\ngroups:        " + string(app.GroupFilter)
		}
		if app.RefreshReuseInterval != directory.DefaultRefreshReuseInterval {
			text += "\nrefresh reuse: " + refreshReuseText(app.RefreshReuseInterval)
		}
		c.output(out, text)
		return nil
	})
}

func (c *cli) appList(ctx context.Context, args []string) error {
	fs := c.flags("app list")
	return c.inService(ctx, fs, args, nil, func(svc *directory.Service) error {
		apps, err := svc.Apps(ctx)
		if err != nil {
			return err
		}
		accounts, err := svc.Accounts(ctx)
		if err != nil {
			return err
		}
		slugs := map[string]string{}
		for _, a := range accounts {
			slugs[a.ID] = a.Slug
		}
		out := make([]appJSON, len(apps))
		t := newTable("NAME", "CLIENT ID", "KIND", "FOR", "GROUPS", "WHERE")
		for i, a := range apps {
			out[i] = c.toAppJSON(a, slugs[a.AccountID])
			scope, kind := "every account", "confidential"
			if a.AccountID != "" {
				scope = "account " + slugs[a.AccountID]
			}
			if a.Public {
				kind = "public"
			}
			where := strings.Join(a.RedirectURIs, " ")
			if a.ForwardAuthHost != "" {
				where = strings.TrimSpace("forward-auth " + a.ForwardAuthHost + a.PathPrefix + " " + where)
			}
			groups := string(a.GroupFilter)
			if groups == "" {
				groups = "all"
			}
			t.add(a.Name, a.ClientID, kind, scope, groups, where)
		}
		if t.len() == 0 {
			c.output(out, "no apps registered: admit app add --name N --redirect-uri U registers one")
			return nil
		}
		c.output(out, t.String())
		return nil
	})
}

// groupsUsage says what --groups takes, in app add and app set-groups.
const groupsUsage = "the groups the app is told about (groups claim, X-Admit-Groups): comma-separated names, or prefixes ending in * (wiki-*,admins), without case"

func (c *cli) appSetGroups(ctx context.Context, args []string) error {
	fs := c.flags("app set-groups")
	clientID := fs.String("client-id", "", "the app's client id (from app list)")
	groups := fs.String("groups", "", groupsUsage+"; '' for every group")
	return c.inService(ctx, fs, args, []string{"client-id", "groups"}, func(svc *directory.Service) error {
		app, err := svc.SetAppGroups(ctx, c.actor(), *clientID, *groups)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("app %s is told about the groups matching %s", app.Name, app.GroupFilter)
		if app.GroupFilter == "" {
			text = fmt.Sprintf("app %s is told about every group", app.Name)
		}
		c.output(map[string]string{"client_id": app.ClientID, "name": app.Name, "group_filter": string(app.GroupFilter)}, text)
		return nil
	})
}

// refreshReuseUsage says what --refresh-reuse-interval takes, in app add
// and app set-refresh-reuse.
const refreshReuseUsage = "how long after a refresh the app may present the refresh token it used again and still be answered (two tabs or replicas refreshing at once, a retry); later, a reuse revokes the sign-in's tokens (whole seconds, 0s to 60s; 0s for never)"

// refreshReuseText says what an app's refresh reuse interval does.
func refreshReuseText(d time.Duration) string {
	if d == 0 {
		return "none (a used refresh token presented again revokes the sign-in's tokens)"
	}
	return fmt.Sprintf("%s (a used refresh token is answered again for %s; later it revokes the sign-in's tokens)", d, d)
}

func (c *cli) appSetRefreshReuse(ctx context.Context, args []string) error {
	fs := c.flags("app set-refresh-reuse")
	clientID := fs.String("client-id", "", "the app's client id (from app list)")
	reuse := fs.Duration("refresh-reuse-interval", 0, refreshReuseUsage)
	return c.inService(ctx, fs, args, []string{"client-id", "refresh-reuse-interval"}, func(svc *directory.Service) error {
		app, err := svc.SetAppRefreshReuse(ctx, c.actor(), *clientID, *reuse)
		if err != nil {
			return err
		}
		c.output(struct {
			ClientID            string `json:"client_id"`
			Name                string `json:"name"`
			RefreshReuseSeconds int    `json:"refresh_reuse_seconds"`
		}{app.ClientID, app.Name, int(app.RefreshReuseInterval / time.Second)},
			fmt.Sprintf("app %s: refresh reuse interval %s", app.Name, refreshReuseText(app.RefreshReuseInterval)))
		return nil
	})
}

func (c *cli) appRemove(ctx context.Context, args []string) error {
	fs := c.flags("app remove")
	clientID := fs.String("client-id", "", "the app's client id (from app list)")
	return c.inService(ctx, fs, args, []string{"client-id"}, func(svc *directory.Service) error {
		app, err := svc.RemoveApp(ctx, c.actor(), *clientID)
		if err != nil {
			return err
		}
		c.output(map[string]string{"client_id": app.ClientID, "name": app.Name}, fmt.Sprintf("removed app %s (%s); its client id and tokens no longer work", app.Name, app.ClientID))
		return nil
	})
}

func (c *cli) appRotateSecret(ctx context.Context, args []string) error {
	fs := c.flags("app rotate-secret")
	clientID := fs.String("client-id", "", "the app's client id (from app list)")
	return c.inService(ctx, fs, args, []string{"client-id"}, func(svc *directory.Service) error {
		app, secret, err := svc.RotateAppSecret(ctx, c.actor(), *clientID)
		if err != nil {
			return err
		}
		c.output(map[string]string{"client_id": app.ClientID, "name": app.Name, "client_secret": secret},
			fmt.Sprintf("new client secret of %s: %s\n(shown only now; the old secret no longer works)", app.Name, secret))
		return nil
	})
}
