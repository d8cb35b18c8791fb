package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/storetest"
)

// TestForwardAuthThroughNginxWithManyGroups: a person in many groups (an
// identity provider's SCIM push of a large company's groups) gets large
// identity headers: X-Admit-Groups, and the JWT that carries them again.
// nginx reads the answer to auth_request into one buffer of
// proxy_buffer_size (a memory page, 4k, by default): past it, nginx
// answers 500 to the browser and the person never reaches the app. The
// snippet's buffer must hold them.
func TestForwardAuthThroughNginxWithManyGroups(t *testing.T) {
	t.Parallel()
	app := newUpstreamApp(t)
	admitAddr, nginxAddr := freeAddr(t), freeAddr(t)
	admitOrigin := "http://" + admitAddr
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=" + admitOrigin, "ADMIT_ADDR=" + admitAddr, testKey}
	appHost := "localhost:" + portOf(t, nginxAddr)
	cli := gateSetup(t, settings, appHost)
	token := decode[map[string]any](t, cli("", "scim-token", "create", "--account", "acme", "--json"))["token"].(string)
	s := startServer(t, t.TempDir(), settings...)
	startNginx(t, nginxAddr, appHost, admitAddr, strings.TrimPrefix(app.URL, "http://"))

	// 100 groups of 40 characters: what a large company's directory
	// sends for someone in many teams and distribution lists.
	const groups = 100
	scimGroups(t, admitOrigin, token, "pat@acme.example", groups)
	v := newVisitor(t)
	signInThroughProxy(t, s, v, admitOrigin, "http://"+appHost)
	_, page := v.do("GET", "http://"+appHost+"/docs/page", nil, nil)
	if got := strings.Count(identityOf(t, page)["X-Admit-Groups"], ",") + 1; got != groups {
		t.Errorf("the app got %d groups; want %d", got, groups)
	}
}

// TestForwardAuthThroughNginxWithGroupFilter: a person in 400 groups
// (Entra ID users are in 300 and more) outgrows the snippet's 32k buffer,
// and nginx answers 500; with a group filter on the app, which reads only
// its own few groups, they reach it, told those groups alone. A filter
// changed while admit serves takes effect within a second.
func TestForwardAuthThroughNginxWithGroupFilter(t *testing.T) {
	t.Parallel()
	app := newUpstreamApp(t)
	admitAddr, nginxAddr := freeAddr(t), freeAddr(t)
	admitOrigin := "http://" + admitAddr
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), "ADMIT_BASE_URL=" + admitOrigin, "ADMIT_ADDR=" + admitAddr, testKey}
	appHost := "localhost:" + portOf(t, nginxAddr)
	cli := gateSetup(t, settings, appHost)
	token := decode[map[string]any](t, cli("", "scim-token", "create", "--account", "acme", "--json"))["token"].(string)
	apps := decode[[]appJSON](t, cli("", "app", "list", "--json"))
	if len(apps) != 1 {
		t.Fatalf("apps %+v; want the one gateSetup added", apps)
	}
	cli("", "app", "set-groups", "--client-id", apps[0].ClientID, "--groups", "Engineering / Platform / Team 00*, engineering / platform / team 123 / all")
	s := startServer(t, t.TempDir(), settings...)
	startNginx(t, nginxAddr, appHost, admitAddr, strings.TrimPrefix(app.URL, "http://"))
	scimGroups(t, admitOrigin, token, "pat@acme.example", 400)

	v := newVisitor(t)
	signInThroughProxy(t, s, v, admitOrigin, "http://"+appHost)
	page := "http://" + appHost + "/docs/page"
	want := "Engineering / Platform / Team 000 / All"
	for i := 1; i < 10; i++ {
		want += fmt.Sprintf(",Engineering / Platform / Team %03d / All", i)
	}
	want += ",Engineering / Platform / Team 123 / All"
	_, body := v.do("GET", page, nil, nil)
	if got := identityOf(t, body)["X-Admit-Groups"]; got != want {
		t.Errorf("X-Admit-Groups %q; want the 11 groups of the filter", got)
	}

	// Every group again: past nginx's buffer, as before filters.
	cli("", "app", "set-groups", "--client-id", apps[0].ClientID, "--groups", "")
	waitFor(t, "nginx refusing the headers of 400 groups", func() bool {
		resp, _ := v.do("GET", page, nil, nil)
		return resp.StatusCode == http.StatusInternalServerError
	})
	cli("", "app", "set-groups", "--client-id", apps[0].ClientID, "--groups", "engineering / platform / team 12*")
	waitFor(t, "the app reached again with the new filter", func() bool {
		resp, body := v.do("GET", page, nil, nil)
		return resp.StatusCode == http.StatusOK && strings.Count(identityOf(t, body)["X-Admit-Groups"], ",") == 9
	})
}

// waitFor polls ok for a little over a second (the gate keeps an app's
// registration and its answers under a second): a change must show by
// then.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, 1500*time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scimGroups makes n groups of about 40 characters over SCIM, each with
// the person with email as its one member: what a large company's
// directory sends for someone in many teams and distribution lists.
func scimGroups(t *testing.T, admitOrigin, token, email string, n int) {
	t.Helper()
	scim := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, admitOrigin+"/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	code, body := scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+email+`"`), "")
	var list struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Resources) != 1 {
		t.Fatalf("find %s over SCIM: %d %s", email, code, body)
	}
	for i := range n {
		name := fmt.Sprintf("Engineering / Platform / Team %03d / All", i)
		if code, body := scim("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`","members":[{"value":"`+list.Resources[0].ID+`"}]}`); code != http.StatusCreated {
			t.Fatalf("group %d: %d %s", i, code, body)
		}
	}
}
