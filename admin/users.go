package admin

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// usersPageSize is how many people one page of the Users table shows.
const usersPageSize = 50

// countLimit is how far the Users page counts the people who match; past
// it, the page says "more than". Counting all of a large account on every
// page would cost more than the page itself.
const countLimit = 10_000

// searchCountLimit is countLimit for a search, whose matches are counted
// one by one: a thousand is as much as anyone reads.
const searchCountLimit = 1_000

// filterForm is the Users page's search and filters, as the query string
// carries them.
type filterForm struct {
	Search string
	Status string
	Source string
	Never  bool
	// Bounced lists the invited people whose invitation bounced.
	Bounced bool
	Sort    string // empty: by email
	Desc    bool
}

func readFilter(q url.Values) filterForm {
	return filterForm{Search: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Source: q.Get("source"), Never: q.Get("never") == "1",
		Bounced: q.Get("bounced") == "1", Sort: q.Get("sort"), Desc: q.Get("dir") == "desc"}
}

func (f filterForm) filter() directory.MemberFilter {
	return directory.MemberFilter{Search: f.Search, Status: directory.Status(f.Status), Source: directory.MembershipSource(f.Source), NeverSignedIn: f.Never,
		Bounced: f.Bounced, Sort: directory.MemberSort(f.Sort), Desc: f.Desc}
}

// sortColumn is one sortable column heading of the Users table: its link
// sorts by it (the other way when it is the current order), and AriaSort
// tells assistive technology the current order.
type sortColumn struct {
	Label, URL, AriaSort string
}

// sortColumns are the Users table's sortable headings, keyed by order.
func (f filterForm) sortColumns(base string) map[string]sortColumn {
	current := cmp.Or(f.Sort, string(directory.SortEmail))
	out := map[string]sortColumn{}
	for _, c := range []struct{ sort, label string }{
		{"email", "Email"}, {"name", "Name"}, {"sign_in", "Last sign-in"}, {"created", "Added"},
	} {
		g := f
		g.Sort, g.Desc = c.sort, false
		col := sortColumn{Label: c.label}
		if c.sort == current {
			g.Desc = !f.Desc
			col.AriaSort = "ascending"
			if f.Desc {
				col.AriaSort = "descending"
			}
		} else if c.sort == "sign_in" || c.sort == "created" {
			// The newest first is what one looks for first.
			g.Desc = true
		}
		col.URL = base + "/users"
		if enc := g.query().Encode(); enc != "" {
			col.URL += "?" + enc
		}
		out[c.sort] = col
	}
	return out
}

// query is the filter as a query string, for the links that keep it.
func (f filterForm) query() url.Values {
	q := url.Values{}
	if f.Search != "" {
		q.Set("q", f.Search)
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.Source != "" {
		q.Set("source", f.Source)
	}
	if f.Never {
		q.Set("never", "1")
	}
	if f.Bounced {
		q.Set("bounced", "1")
	}
	if f.Sort != "" && f.Sort != string(directory.SortEmail) {
		q.Set("sort", f.Sort)
	}
	if f.Desc {
		q.Set("dir", "desc")
	}
	return q
}

type usersPage struct {
	Filter   filterForm
	Statuses []directory.Status
	Sources  []directory.MembershipSource
	Members  []directory.Member
	// Bounced are the invitations of the page's people whose email
	// bounced, by user id.
	Bounced map[string]directory.Invitation
	Columns map[string]sortColumn
	Count   int
	More    bool   // more than Count match
	Next    string // the next page's URL, empty on the last
	First   string // the first page's URL, empty on it
	// Empty is true when no one but the admin belongs to the account:
	// the page then shows the ways people arrive instead of a table.
	Empty bool
	// SSO is true when the Single sign-on pages exist (Config.SSO).
	SSO bool
}

// doneNotices are the notices a redirect after a change may ask for; only
// these texts can appear, whatever a link says.
var doneNotices = map[string]string{
	"added":          "The person has been added.",
	"invited":        "The invitation is on its way.",
	"deactivated":    "Deactivated: they can no longer sign in here, and their sessions here have ended.",
	"reactivated":    "Reactivated: they can sign in here again.",
	"sessions-ended": "Their sessions here have ended, and the apps they signed in to have been told. They can sign in again.",
	"resent":         "The invitation has been sent again, with a new link; the old link no longer works.",
	"reset":          "A password reset link is on its way to them (or, if they sign in through single sign-on, a note saying so).",
	"removed":        "The person has been removed from this account.",
	"revoked":        "The invitation has been revoked: its link no longer works.",
}

func (h *Handler) handleUsers(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "users"
	q := r.URL.Query()
	f := readFilter(q)
	p := usersPage{Filter: f, Statuses: directory.Statuses(), Sources: directory.MembershipSources(), Columns: f.sortColumns(v.Base)}
	if v.Notice = doneNotices[q.Get("done")]; v.Notice != "" {
		v.Done = q.Get("done")
	}
	switch v.Done {
	case "removed":
		if who := h.removed(r.Context(), v, q.Get("email")); who != "" {
			v.Notice = who + " has been removed from this account."
		}
	case "revoked":
		if who := h.removed(r.Context(), v, q.Get("email")); who != "" {
			v.Notice = "The invitation to " + who + " has been revoked: its link no longer works, and they are no longer listed here."
		}
	}
	page, err := h.dir.ListMembersBy(r.Context(), v.Admin.Account.ID, f.filter(), q.Get("after"), usersPageSize)
	if directory.KindOf(err) == directory.Invalid {
		v.Problems, v.Page = directory.ProblemsOf(err), p
		h.render(w, r, http.StatusBadRequest, "users", "Users", v)
		return nil
	}
	if err != nil {
		return err
	}
	limit := countLimit
	if f.Search != "" {
		limit = searchCountLimit
	}
	n, err := h.dir.CountMembersUpTo(r.Context(), v.Admin.Account.ID, f.filter(), limit+1)
	if err != nil {
		return err
	}
	p.Count, p.More = min(n, limit), n > limit
	p.Members = page.Members
	p.SSO = h.setup != nil
	if f == (filterForm{Sort: f.Sort, Desc: f.Desc}) && q.Get("after") == "" {
		p.Empty = len(p.Members) == 0 || (len(p.Members) == 1 && page.Next == "" && p.Members[0].User.ID == v.Admin.User.ID)
	}
	if p.Bounced, err = h.dir.Bounced(r.Context(), v.Admin.Account.ID, p.Members); err != nil {
		return err
	}
	if page.Next != "" {
		next := f.query()
		next.Set("after", page.Next)
		p.Next = v.Base + "/users?" + next.Encode()
	}
	if q.Get("after") != "" {
		p.First = v.Base + "/users"
		if enc := f.query().Encode(); enc != "" {
			p.First += "?" + enc
		}
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "users", "Users", v)
	return nil
}

// removed returns email when the audit trail has its removal from the
// account in the last minutes, for the notice after a removal: the
// address comes from a link, so the page names only whom the account's
// own record says was removed ("" otherwise, and the notice says "the
// person").
func (h *Handler) removed(ctx context.Context, v view, email string) string {
	if email == "" {
		return ""
	}
	events, err := h.dir.AuditTrail(ctx, v.Admin.Account.ID, email, "membership.deleted", time.Now().Add(-10*time.Minute), 1)
	if err != nil || len(events) == 0 {
		return ""
	}
	if _, err := h.dir.Member(ctx, v.Admin.Account.ID, email); directory.KindOf(err) != directory.NotFound {
		return "" // back since, or no answer
	}
	return email
}

type bulkPage struct {
	Heading string
	Result  directory.BulkResult
	More    int // the people done beyond Result.Emails
}

func newBulkPage(heading string, res directory.BulkResult) bulkPage {
	return bulkPage{Heading: heading, Result: res, More: res.Done - len(res.Emails)}
}

// bulkHeadings name the bulk actions on the result page.
var bulkHeadings = map[string]string{
	directory.BulkResend:     "Invitations resent",
	directory.BulkDeactivate: "Deactivated",
	directory.BulkReactivate: "Reactivated",
	directory.BulkRemove:     "Removed",
}

// removeConfirmation is the page that asks before a bulk removal.
type removeConfirmation struct {
	IDs    []string
	Emails []string // of the selected people found in this account
}

func (h *Handler) handleBulk(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "users"
	action := r.PostFormValue("action")
	ids := r.PostForm["id"]
	// Removing ends memberships, sessions and groups and cannot be undone,
	// so a removal of the selected asks first, as the person page's Remove
	// and "resend to everyone" do; the other actions are undone in one
	// more click. Bulk refuses an empty or too large selection itself.
	if action == directory.BulkRemove && r.PostFormValue("confirm") != "1" && len(ids) > 0 && len(ids) <= directory.MaxBulk {
		c := removeConfirmation{IDs: slices.Compact(slices.Sorted(slices.Values(ids)))}
		for _, id := range c.IDs {
			d, err := h.dir.AdminMember(r.Context(), v.Admin, id)
			if directory.KindOf(err) == directory.NotFound {
				continue // Bulk says so, once confirmed
			}
			if err != nil {
				return err
			}
			c.Emails = append(c.Emails, d.User.Email)
		}
		if len(c.Emails) > 0 {
			v.Page = c
			h.render(w, r, http.StatusOK, "bulk_remove", "Remove people", v)
			return nil
		}
	}
	res, err := h.dir.Bulk(r.Context(), v.Admin, action, ids)
	if err != nil {
		return err
	}
	v.Page = newBulkPage(bulkHeadings[action], res)
	h.render(w, r, http.StatusOK, "bulk", bulkHeadings[action], v)
	return nil
}

func (h *Handler) handleResendForm(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "users"
	n, err := h.dir.CountNeverSignedIn(r.Context(), v.Admin)
	if err != nil {
		return err
	}
	v.Page = struct{ Count int }{n}
	h.render(w, r, http.StatusOK, "resend", "Resend invitations", v)
	return nil
}

func (h *Handler) handleResendAll(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "users"
	// Resending thousands takes a while; a browser that gives up must not
	// stop it halfway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Minute)
	defer cancel()
	res, err := h.dir.ResendToNeverSignedIn(ctx, v.Admin)
	if err != nil {
		return err
	}
	v.Page = newBulkPage("Invitations resent", res)
	h.render(w, r, http.StatusOK, "bulk", "Invitations resent", v)
	return nil
}

// addForm is the Add user and Invite forms, as typed.
type addForm struct {
	Email, FirstName, LastName, Role string
	// How the person will sign in: "invite" (an invitation email),
	// "password" (an initial password they must change) or "sso".
	How   string
	Roles []directory.Role
	// Policy is the account's password policy, shown beside the initial
	// password.
	Policy directory.PasswordPolicy
}

func (h *Handler) newAddForm(ctx context.Context, v view) (addForm, error) {
	roles, err := h.dir.Roles(ctx, v.Admin.Account.ID)
	if err != nil {
		return addForm{}, err
	}
	return addForm{Role: string(directory.RoleMember), How: "invite", Roles: v.Admin.Assignable(roles), Policy: v.Admin.Account.PasswordPolicy}, nil
}

func (h *Handler) handleAddForm(w http.ResponseWriter, r *http.Request, v view) error {
	f, err := h.newAddForm(r.Context(), v)
	if err != nil {
		return err
	}
	v.Section, v.Page = "add", f
	h.render(w, r, http.StatusOK, "add", "Add user", v)
	return nil
}

func (h *Handler) handleInviteForm(w http.ResponseWriter, r *http.Request, v view) error {
	f, err := h.newAddForm(r.Context(), v)
	if err != nil {
		return err
	}
	v.Section, v.Page = "invite", f
	h.render(w, r, http.StatusOK, "invite", "Invite", v)
	return nil
}

func (h *Handler) handleAdd(w http.ResponseWriter, r *http.Request, v view) error {
	return h.add(w, r, v, "add", r.PostFormValue("how"))
}

func (h *Handler) handleInvite(w http.ResponseWriter, r *http.Request, v view) error {
	return h.add(w, r, v, "invite", "invite")
}

// addedDone is the notice key of what became of a person's password when
// they were added (addedNotices words it).
func addedDone(a directory.Added, typed bool) string {
	switch {
	case a.PasswordSet:
		return "added-password"
	case !a.NewUser && typed:
		return "added-joined-password-unused"
	case !a.NewUser:
		return "added-joined"
	}
	return "added-sso"
}

// add handles both forms: a mistake shows the form again with what was
// typed (but never the password) and every problem.
func (h *Handler) add(w http.ResponseWriter, r *http.Request, v view, page, how string) error {
	ctx := r.Context()
	f, err := h.newAddForm(ctx, v)
	if err != nil {
		return err
	}
	f.Email, f.FirstName, f.LastName = r.PostFormValue("email"), r.PostFormValue("first_name"), r.PostFormValue("last_name")
	f.Role, f.How = r.PostFormValue("role"), how
	done, id := "added", ""
	if unused, ok := typedPasswordUnused[how]; ok && r.PostFormValue("password") != "" {
		// Dropping it would leave the admin believing it was set.
		return h.refuseAdd(w, r, v, page, f, directory.InvalidError(unused))
	}
	switch how {
	case "invite":
		var inv directory.Invitation
		inv, err = h.dir.InviteMember(ctx, v.Admin, directory.NewInvitation{Email: f.Email, Role: directory.Role(f.Role), FirstName: f.FirstName, LastName: f.LastName})
		if err == nil {
			var m directory.Member
			if m, err = h.dir.Member(ctx, v.Admin.Account.ID, inv.Email); err == nil {
				id = m.Membership.ID
			}
		}
		done = "invited"
	case "password", "sso":
		password := ""
		if how == "password" {
			if password = r.PostFormValue("password"); password == "" {
				err = directory.InvalidError("type the initial password, or choose another way for them to sign in")
			}
		}
		if err == nil {
			var added directory.Added
			added, err = h.dir.AddMember(ctx, v.Admin, directory.NewUser{Email: f.Email, FirstName: f.FirstName, LastName: f.LastName, Role: directory.Role(f.Role), Password: password})
			id, done = added.Member.Membership.ID, addedDone(added, password != "")
		}
	default:
		err = directory.InvalidError("choose how they will sign in")
	}
	switch directory.KindOf(err) {
	case directory.Invalid, directory.Conflict, directory.Forbidden:
		return h.refuseAdd(w, r, v, page, f, err)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/users/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

// refuseAdd shows the Add user or Invite form f again with why err
// refused it.
func (h *Handler) refuseAdd(w http.ResponseWriter, r *http.Request, v view, page string, f addForm, err error) error {
	v.Section, v.Page, v.Problems = page, f, directory.ProblemsOf(err)
	title := map[string]string{"add": "Add user", "invite": "Invite"}[page]
	h.render(w, r, web.StatusOf(err), page, title, v)
	return nil
}

// typedPasswordUnused says, by the way chosen, why an initial password
// typed with it was not used.
var typedPasswordUnused = map[string]string{
	"invite": `You typed an initial password, but an invitation uses none: they choose their own with its link. Clear the password, or choose "Set an initial password".`,
	"sso":    `You typed an initial password, but with single sign-on they sign in with none. Clear the password, or choose "Set an initial password".`,
}
