package admin_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// postFrom submits a form as a browser does from the page at referer
// (a path on the site, or a whole URL), with the last page's CSRF token.
func (p *person) postFrom(path, referer string, form url.Values) int {
	p.t.Helper()
	if m := csrfToken.FindStringSubmatch(p.last); m != nil {
		form.Set("csrf_token", m[1])
	}
	req, err := http.NewRequest(http.MethodPost, p.site.server.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if referer != "" {
		if strings.HasPrefix(referer, "/") {
			referer = p.site.server.URL + referer
		}
		req.Header.Set("Referer", referer)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	p.last = b.String()
	return resp.StatusCode
}

// TestRefusalsStayInTheConsole: a change the directory refuses (a mistake,
// a rule, a clash) is answered inside the console, with the reason and a
// link back to the page the form was on, not on the bare error page.
func TestRefusalsStayInTheConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		adm := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		member := s.add(t, a, "max@acme.example", directory.RoleMember)
		p := s.signIn(t, adm, a)
		ownerPage := "/admin/acme/users/" + owner.Membership.ID
		maxPage := "/admin/acme/users/" + member.Membership.ID
		for _, tc := range []struct {
			name, path, from string
			form             url.Values
			status           int
			says, back       string
		}{
			{"Apply with no one selected", "/admin/acme/users/bulk", "/admin/acme/users?status=active", url.Values{"action": {"deactivate"}},
				http.StatusBadRequest, "select at least one person", "/admin/acme/users?status=active"},
			{"a role that does not exist", maxPage + "/role", maxPage, url.Values{"role": {"wizard"}},
				http.StatusBadRequest, "does not exist in this account", maxPage},
			{"an admin demoting an owner", ownerPage + "/role", ownerPage, url.Values{"role": {"member"}},
				http.StatusForbidden, "only an owner can do that", ownerPage},
			{"a form from another site", maxPage + "/role", "https://elsewhere.example" + maxPage, url.Values{"role": {"owner"}},
				http.StatusForbidden, "Only an owner can make someone an owner.", "/admin/acme/users"},
			{"no Referer", maxPage + "/frobnicate", "", url.Values{},
				http.StatusNotFound, "There is no page at this address.", "/admin/acme/users"},
		} {
			p.get("/admin/acme/users")
			if code := p.postFrom(tc.path, tc.from, tc.form); code != tc.status {
				t.Errorf("%s: %d; want %d", tc.name, code, tc.status)
			}
			p.sees(tc.says, `<nav class="console"`, `<a href="`+strings.ReplaceAll(tc.back, "&", "&amp;")+`" id="back">`)
			if strings.Contains(p.last, "Go to the start page") {
				t.Errorf("%s: the bare error page", tc.name)
			}
		}
		// Deactivated, Max gets no reset link: a clash with his state.
		p.get(maxPage)
		p.postFrom(maxPage+"/deactivate", maxPage, url.Values{})
		p.get(maxPage)
		if code := p.postFrom(maxPage+"/reset", maxPage, url.Values{}); code != http.StatusConflict {
			t.Errorf("a reset link for a deactivated member: %d; want 409", code)
		}
		p.sees(`<nav class="console"`, `id="back"`)
	})
}
