package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
	code, body := scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "pat@acme.example"`), "")
	var list struct {
		Resources []struct {
			ID string `json:"id"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Resources) != 1 {
		t.Fatalf("find pat over SCIM: %d %s", code, body)
	}
	// 100 groups of 40 characters: what a large company's directory
	// sends for someone in many teams and distribution lists.
	const groups = 100
	for i := range groups {
		name := fmt.Sprintf("Engineering / Platform / Team %03d / All", i)
		if code, body := scim("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`","members":[{"value":"`+list.Resources[0].ID+`"}]}`); code != http.StatusCreated {
			t.Fatalf("group %d: %d %s", i, code, body)
		}
	}
	v := newVisitor(t)
	signInThroughProxy(t, s, v, admitOrigin, "http://"+appHost)
	_, page := v.do("GET", "http://"+appHost+"/docs/page", nil, nil)
	if got := strings.Count(identityOf(t, page)["X-Admit-Groups"], ",") + 1; got != groups {
		t.Errorf("the app got %d groups; want %d", got, groups)
	}
}
