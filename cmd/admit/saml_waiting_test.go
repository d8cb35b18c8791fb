package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSAMLSetUpInTheIdPsOrder is SAML set up as an identity provider's
// admin needs it, through the binary: add-saml without metadata prints
// admit's side (URLs, NameID format, attributes, the next command); the IdP
// is configured from the printed SP metadata URL; while admit waits, its
// intranet link says single sign-on is not finished, its ACS refuses the
// IdP's test login, SSO cannot be required, and sso list says so;
// set-metadata with the IdP's metadata URL finishes it, and an employee
// signs in in Chromium.
func TestSAMLSetUpInTheIdPsOrder(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, db string) {
		addr := freeAddr(t)
		idp := samlIdP(t)
		settings := []string{"ADMIT_DATABASE_URL=" + db, "ADMIT_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
			"ADMIT_ADDR=" + addr, "ADMIT_BASE_URL=http://" + addr, allowLoopback}
		run := func(args ...string) result {
			t.Helper()
			return admitWith(t, append(cleanEnv(), settings...), "", args...)
		}
		cli := func(args ...string) result {
			t.Helper()
			r := run(args...)
			if r.code != 0 {
				t.Fatalf("admit %v: exit %d: %s", args, r.code, r.stderr)
			}
			return r
		}
		cli("account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "example.com")

		// 1. admit's side first, as JSON and as text.
		added := decode[connectionOut](t, cli("sso", "add-saml", "--account", "acme", "--name", "okta", "--first-name-attribute", "given_name", "--json"))
		base := "http://" + addr + "/sso/acme"
		want := connectionOut{
			State: "waiting_for_idp_metadata", EntityID: base + "/saml/okta/metadata", ACS: base + "/saml/okta/acs", SLO: base + "/saml/okta/slo", Metadata: base + "/saml/okta/metadata",
			IntranetURL: base + "/login", NameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
			NextCommand: "admit sso set-metadata --account acme --connection okta --metadata-url URL",
		}
		firstNames := added.Attributes["first_name"]
		added.Attributes = nil
		if !reflect.DeepEqual(added, want) || fmt.Sprint(firstNames) != "[given_name]" {
			t.Fatalf("add-saml without metadata printed %+v, first name from %v; want %+v", added, firstNames, want)
		}
		text := cli("sso", "add-saml", "--account", "acme", "--name", "later", "--domain", "example.com", "--allow-idp-initiated").stdout
		for _, s := range []string{"waiting for its identity provider", base + "/saml/later/acs", base + "/saml/later/metadata",
			"Single logout URL:        " + base + "/saml/later/slo",
			"NameID format:            urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "email:      email (or another usual name); else the NameID",
			"IdP-initiated login:      allowed", "admit sso set-metadata --account acme --connection later --metadata-url URL"} {
			if !strings.Contains(text, s) {
				t.Errorf("add-saml's text does not say %q:\n%s", s, text)
			}
		}
		if r := run("sso", "add-saml", "--account", "acme", "--name", "both", "--metadata-url", idp.URL+"/metadata", "--metadata-file", "x.xml"); r.code != exitUsage || !strings.Contains(r.stderr, "not both") {
			t.Errorf("both metadata flags: exit %d %s", r.code, r.stderr)
		}
		if r := run("account", "set-policy", "--account", "acme", "--sso-required"); r.code != exitError || !strings.Contains(r.stderr, "set-metadata") {
			t.Errorf("SSO required while every connection waits: exit %d %s", r.code, r.stderr)
		}
		if list := cli("sso", "list", "--account", "acme").stdout; strings.Count(list, "waiting for IdP metadata") != 2 {
			t.Errorf("sso list:\n%s", list)
		}

		// 2. The IdP's admin imports admit's SP metadata from the printed URL.
		s := startServer(t, t.TempDir(), settings...)
		put(t, idp.URL+"/services/admit", "application/xml", getBody(t, added.Metadata))
		putIdPUser(t, idp.URL, "nia", "nia@example.com", "Nia", "Ng")

		// 3. Until admit has the IdP's metadata: a page that says so, and
		// the IdP's test login refused.
		resp, page := s.get(t, "/sso/acme/login?connection=okta")
		if resp.StatusCode != http.StatusConflict || !strings.Contains(page, "Single sign-on for Acme Inc is not finished yet") {
			t.Errorf("intranet link while waiting: %d\n%s", resp.StatusCode, page)
		}
		acs, form := idpTestLogin(t, idp.URL, added.EntityID, "nia")
		if acs != added.ACS {
			t.Fatalf("the IdP posts to %s; add-saml printed %s", acs, added.ACS)
		}
		posted, err := http.PostForm(acs, form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(posted.Body)
		posted.Body.Close()
		if posted.StatusCode != http.StatusConflict || !strings.Contains(string(body), "not finished yet") {
			t.Errorf("ACS while waiting: %d\n%s", posted.StatusCode, body)
		}
		if attempts := cli("sso", "attempts", "--account", "acme", "--connection", "okta").stdout; !strings.Contains(attempts, "waiting for its identity provider's metadata") {
			t.Errorf("sso attempts after the refused post:\n%s", attempts)
		}

		// 4. The IdP's metadata finishes the connection.
		if r := run("sso", "set-metadata", "--account", "acme", "--connection", "okta"); r.code != exitUsage || !strings.Contains(r.stderr, "--metadata-url and --metadata-file") {
			t.Errorf("set-metadata without metadata: exit %d %s", r.code, r.stderr)
		}
		done := decode[map[string]any](t, cli("sso", "set-metadata", "--account", "acme", "--connection", "okta", "--metadata-url", idp.URL+"/metadata", "--json"))
		if done["state"] != "ready" || done["idp_metadata_url"] != idp.URL+"/metadata" || done["next_command"] != nil || done["acs_url"] != added.ACS {
			t.Errorf("set-metadata printed %v", done)
		}
		if list := cli("sso", "list", "--account", "acme").stdout; strings.Count(list, "waiting for IdP metadata") != 1 || !strings.Contains(list, "metadata from "+idp.URL) {
			t.Errorf("sso list after set-metadata:\n%s", list)
		}

		// 5. An employee signs in through the intranet link, which passes
		// the still waiting connection over.
		ctx := newBrowser(t)
		err = chromedp.Do(ctx,
			chromedp.Navigate(added.IntranetURL),
			chromedp.WaitVisible(`input[name=user]`),
			chromedp.SendKeys(`input[name=user]`, "nia"),
			chromedp.SendKeys(`input[name=password]`, "pw-nia"),
			// As in TestSAMLLoginInBrowser: posted to /sso, samlidp's form
			// answers the AuthnRequest.
			chromedp.Evaluate[chromedp.Void](`document.forms[0].action = location.origin + "/sso"`),
			chromedp.Click(`input[type=submit]`),
			chromedp.WaitVisible(`#current-account`),
		)
		if err != nil {
			t.Fatalf("browser: %v; at %s\n%s", err, browserAt(ctx), s.logs)
		}
		expectSignedIn(t, ctx, "Acme Inc", "nia@example.com")
		if r := run("account", "set-policy", "--account", "acme", "--sso-required"); r.code != 0 {
			t.Errorf("SSO required with a finished connection: exit %d %s", r.code, r.stderr)
		}
		s.stop(t)
	})
}

// connectionOut is what add-saml prints of a waiting connection, in part.
type connectionOut struct {
	State        string              `json:"state"`
	EntityID     string              `json:"sp_entity_id"`
	ACS          string              `json:"acs_url"`
	SLO          string              `json:"slo_url"`
	Metadata     string              `json:"metadata_url"`
	IntranetURL  string              `json:"intranet_login_url"`
	NameIDFormat string              `json:"nameid_format"`
	NextCommand  string              `json:"next_command"`
	Attributes   map[string][]string `json:"attributes"`
}

var (
	hiddenField = regexp.MustCompile(`name="(\w+)" value="([^"]*)"`)
	formTarget  = regexp.MustCompile(`action="([^"]*)"`)
)

// idpTestLogin is the IdP admin's test of the app: signed in at samlidp,
// an IdP-initiated login to the SP with that entity ID. It returns where
// the IdP's page posts and what.
func idpTestLogin(t *testing.T, idpURL, entityID, user string) (string, url.Values) {
	t.Helper()
	put(t, idpURL+"/shortcuts/admit", "application/json", fmt.Sprintf(`{"name":"admit","service_provider":%q}`, entityID))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(idpURL+"/login", url.Values{"user": {user}, "password": {"pw-" + user}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(idpURL + "/login/admit")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(b), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	m := formTarget.FindStringSubmatch(string(b))
	if m == nil || form.Get("SAMLResponse") == "" {
		t.Fatalf("the IdP gave no SAMLResponse: %s %s", resp.Status, b)
	}
	return html.UnescapeString(m[1]), form
}
