package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"time"
)

// scimPeople are the people Acme's portal pushes by SCIM, as Okta or Entra
// ID would when they are assigned to admit.
var scimPeople = []struct{ UserName, GivenName, FamilyName string }{
	{"ada@acme.example", "Ada", "Lovelace"},
	{"grace@acme.example", "Grace", "Hopper"},
	{"alan@acme.example", "Alan", "Turing"},
}

// portal is Acme's intranet: tiles that sign people in to the platform,
// and a button standing in for Acme's identity provider pushing people.
type portal struct {
	addr  addresses
	setup setupResult
}

func newPortal(addr addresses, setup setupResult) http.Handler {
	p := portal{addr: addr, setup: setup}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("POST /scim-push", p.push)
	return mux
}

func (p portal) home(w http.ResponseWriter, r *http.Request) {
	admit := "http://" + p.addr.admit
	writePage(w, http.StatusOK, portalPage, map[string]any{
		"Tiles": []struct{ ID, Name, URL, Says string }{
			{"tile-saml", "Wiki (SAML, from the intranet)", "http://" + p.addr.samlIdP + "/login/admit",
				"IdP-initiated SAML: Acme's IdP signs you in and posts to admit, which creates you on first login and opens the wiki behind its proxy."},
			{"tile-sp", "Platform (SAML link)", admit + "/sso/acme/login?connection=intranet",
				"The intranet link admit printed: admit asks Acme's IdP (SP-initiated SAML)."},
			{"tile-oidc", "Demo app (OpenID Connect)", admit + "/sso/acme/login?connection=workforce&return_to=" + "http://" + p.addr.app + "/",
				"Acme's OpenID provider signs you in to admit; the demo app then signs you in through admit's OpenID provider."},
			{"tile-app", "Demo app", "http://" + p.addr.app + "/", "The app on its own: it sends you to admit, which asks your email and where to sign in."},
		},
		"Console": admit + "/admin/acme",
		"Pushed":  r.URL.Query().Get("pushed"),
	})
}

// push creates scimPeople in admit over SCIM 2.0 with the account's token.
func (p portal) push(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	created := 0
	for _, person := range scimPeople {
		status, err := p.createUser(ctx, person.UserName, person.GivenName, person.FamilyName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if status == http.StatusCreated {
			created++
		}
	}
	http.Redirect(w, r, fmt.Sprintf("/?pushed=%d", created), http.StatusSeeOther)
}

func (p portal) createUser(ctx context.Context, userName, given, family string) (int, error) {
	body, _ := json.Marshal(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName, "active": true,
		"name":   map[string]string{"givenName": given, "familyName": family},
		"emails": []map[string]any{{"value": userName, "type": "work", "primary": true}},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.addr.admit+"/scim/v2/Users", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+p.setup.scimToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	// 409 is a person pushed by an earlier click: SCIM clients look them up
	// and carry on, and so does the portal.
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusConflict {
		return 0, fmt.Errorf("SCIM POST /Users %s: %s %s", userName, resp.Status, msg)
	}
	return resp.StatusCode, nil
}

var portalPage = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme intranet</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 48rem; margin: 3rem auto">
<h1>Acme intranet</h1>
<p>This page stands in for Acme's intranet portal. Acme is a customer of the platform; admit is the platform's door.</p>
<h2>Apps</h2>
<ul>{{range .Tiles}}<li><p><a id="{{.ID}}" href="{{.URL}}"><b>{{.Name}}</b></a><br>{{.Says}}</p></li>{{end}}</ul>
<h2>Provisioning</h2>
<form method="post" action="/scim-push"><p>Acme's identity provider pushes Ada, Grace and Alan to the platform by SCIM:
<button id="scim-push" type="submit">Push people by SCIM</button></p></form>
{{with .Pushed}}<p id="pushed" role="status">Pushed by SCIM: {{.}} new. See them in <a href="{{$.Console}}">admit's console</a>.</p>{{end}}
<p>Acme's admins manage their people in <a href="{{.Console}}">admit's console</a>.</p>
</body></html>`))
