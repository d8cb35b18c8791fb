package admin_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

var emailCell = regexp.MustCompile(`<td class="person"><a href="/admin/acme/users/[^"]+">([^<]+)</a></td>`)

// TestUsersSort sorts the Users table by its column headings: each link
// sorts by its column, the current one the other way; the headings carry
// aria-sort; an unknown order is a 400.
func TestUsersSort(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		s := newSite(t, st)
		a := s.account(t, "acme")
		owner := s.add(t, a, "olive@acme.example", directory.RoleOwner)
		for _, e := range []string{"bea@acme.example", "zed@acme.example", "al@acme.example"} {
			s.add(t, a, e, directory.RoleMember)
		}
		p := s.signIn(t, owner, a)
		emails := func() []string {
			var out []string
			for _, m := range emailCell.FindAllStringSubmatch(p.last, -1) {
				out = append(out, m[1])
			}
			return out
		}
		p.get("/admin/acme/users")
		byEmail := []string{"al@acme.example", "bea@acme.example", "olive@acme.example", "zed@acme.example"}
		if got := emails(); !slices.Equal(got, byEmail) {
			t.Errorf("by email: %v", got)
		}
		p.sees(`aria-sort="ascending"><a href="/admin/acme/users?dir=desc"`, `href="/admin/acme/users?sort=name"`, `href="/admin/acme/users?dir=desc&amp;sort=created"`)
		if code, _ := p.get("/admin/acme/users?dir=desc"); code != 200 {
			t.Fatalf("email descending: %d", code)
		}
		backward := slices.Clone(byEmail)
		slices.Reverse(backward)
		if got := emails(); !slices.Equal(got, backward) {
			t.Errorf("by email descending: %v", got)
		}
		p.sees(`aria-sort="descending"`)
		if code, _ := p.get("/admin/acme/users?sort=created&dir=desc&q=&status=active"); code != 200 {
			t.Fatalf("by created: %d\n%s", code, p.last)
		}
		if got := emails(); len(got) != 4 || got[0] != "al@acme.example" || got[3] != "olive@acme.example" {
			t.Errorf("newest first: %v", got)
		}
		p.sees(`<input type="hidden" name="sort" value="created">`, `<input type="hidden" name="dir" value="desc">`)
		if code, _ := p.get("/admin/acme/users?sort=salary"); code != http.StatusBadRequest {
			t.Errorf("an unknown order: %d; want 400", code)
		}
		p.sees("there is no order")
	})
}
