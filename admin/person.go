package admin

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// trailSize is how many of a person's audit events their page shows.
const trailSize = 50

type personPage struct {
	Detail directory.MemberDetail
	Roles  []directory.Role
	Trail  []directory.AuditEvent
	// May is what the admin may do to this person, so that the page
	// offers only that (the directory checks again on each change).
	MayManage, MayResend, Self bool
	// Home is true when this account verified the domain of the person's
	// address: only then do its admins change their name or address
	// (directory.ChangeMember says why).
	Home bool
	// Name is the name and address form, as typed.
	Name personForm
}

// personForm is the name and address form of a person's page.
type personForm struct {
	FirstName, LastName, Email string
}

// personNotices are the notices of a person's page after a change of
// their name or address; the page fills in the values as they now are.
var personNotices = map[string]func(directory.MemberDetail) string{
	"name": func(d directory.MemberDetail) string {
		u := d.User
		return "Their name is now " + u.FirstName + " " + u.LastName + ", in every account they belong to."
	},
	"email": func(d directory.MemberDetail) string {
		u := d.User
		return "Their email address is now " + u.Email + ", in every account they belong to; they sign in with it from now on."
	},
	"name-email": func(d directory.MemberDetail) string {
		u := d.User
		return "Their name is now " + u.FirstName + " " + u.LastName + " and their email address " + u.Email + ", in every account they belong to; they sign in with it from now on."
	},
	"unchanged": func(directory.MemberDetail) string {
		return "Nothing changed: the name and address were already these."
	},
	"role": func(d directory.MemberDetail) string {
		return "Their role is now " + string(d.Membership.Role) + "."
	},
	"role-unchanged": func(d directory.MemberDetail) string {
		return "Nothing changed: their role was already " + string(d.Membership.Role) + "."
	},
}

func (h *Handler) handlePerson(w http.ResponseWriter, r *http.Request, v view) error {
	return h.person(w, r, v, http.StatusOK, nil)
}

// person shows a person's page; typed is the name and address form as
// the admin typed it, after a refusal (nil shows the person's own).
func (h *Handler) person(w http.ResponseWriter, r *http.Request, v view, status int, typed *personForm) error {
	ctx := r.Context()
	v.Section = "users"
	d, err := h.dir.AdminMember(ctx, v.Admin, r.PathValue("id"))
	if err != nil {
		return err
	}
	roles, err := h.dir.Roles(ctx, v.Admin.Account.ID)
	if err != nil {
		return err
	}
	trail, err := h.dir.AuditTrail(ctx, v.Admin.Account.ID, d.User.Email, "", time.Time{}, trailSize)
	if err != nil {
		return err
	}
	ownerRule := d.Membership.Role != directory.RoleOwner || v.Admin.Can(directory.ManageOwners)
	self := d.User.ID == v.Admin.User.ID
	if status == http.StatusOK {
		done := r.URL.Query().Get("done")
		if doneNotices[done] != "" {
			v.Notice, v.Done = doneNotices[done], done
		} else if notice := personNotices[done]; notice != nil {
			v.Notice, v.Done = notice(d), done
		}
	}
	form := personForm{FirstName: d.User.FirstName, LastName: d.User.LastName, Email: d.User.Email}
	if typed != nil {
		form = *typed
	}
	v.Page = personPage{
		Detail: d, Roles: v.Admin.Assignable(roles), Trail: trail, Self: self,
		MayManage: ownerRule && !self && v.Admin.Can(directory.ManageMembers),
		MayResend: ownerRule && v.Admin.Can(directory.AddMembers) && d.Membership.Status == directory.StatusInvited,
		Home:      v.Admin.Account.OwnsEmailDomain(d.User.Email),
		Name:      form,
	}
	title := d.User.Email
	h.render(w, r, status, "person", title, v)
	return nil
}

// handlePersonChange changes a person's name and address. A refusal (a
// bad name, an address outside the account's domains or another
// person's) shows the page again with what was typed and why.
func (h *Handler) handlePersonChange(w http.ResponseWriter, r *http.Request, v view) error {
	ctx, id := r.Context(), r.PathValue("id")
	f := personForm{FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"), Email: r.PostFormValue("email")}
	before, err := h.dir.AdminMember(ctx, v.Admin, id)
	if err != nil {
		return err
	}
	after, err := h.dir.ChangePerson(ctx, v.Admin, id, directory.PersonChange{FirstName: &f.FirstName, LastName: &f.LastName, Email: &f.Email})
	switch directory.KindOf(err) {
	case directory.Invalid, directory.Conflict, directory.Forbidden:
		v.Problems = directory.ProblemsOf(err)
		return h.person(w, r, v, web.StatusOf(err), &f)
	}
	if err != nil {
		return err
	}
	var changed []string
	if after.User.FirstName != before.User.FirstName || after.User.LastName != before.User.LastName {
		changed = append(changed, "name")
	}
	if after.User.Email != before.User.Email {
		changed = append(changed, "email")
	}
	done := strings.Join(changed, "-")
	if done == "" {
		done = "unchanged"
	}
	http.Redirect(w, r, v.Base+"/users/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

func (h *Handler) handleRole(w http.ResponseWriter, r *http.Request, v view) error {
	ctx, id := r.Context(), r.PathValue("id")
	before, err := h.dir.AdminMember(ctx, v.Admin, id)
	if err != nil {
		return err
	}
	after, err := h.dir.ChangeRole(ctx, v.Admin, id, directory.Role(r.PostFormValue("role")))
	if err != nil {
		return err
	}
	done := "role"
	if after.Membership.Role == before.Membership.Role {
		done = "role-unchanged"
	}
	http.Redirect(w, r, v.Base+"/users/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}

func (h *Handler) handlePersonAction(w http.ResponseWriter, r *http.Request, v view) error {
	ctx, id := r.Context(), r.PathValue("id")
	var err error
	done := ""
	switch r.PathValue("action") {
	case "deactivate":
		_, err = h.dir.DeactivateMember(ctx, v.Admin, id)
		done = "deactivated"
	case "reactivate":
		_, err = h.dir.ReactivateMember(ctx, v.Admin, id)
		done = "reactivated"
	case "end-sessions":
		_, err = h.dir.EndMemberSessions(ctx, v.Admin, id)
		done = "sessions-ended"
	case "resend":
		_, err = h.dir.ResendInvitation(ctx, v.Admin, id)
		done = "resent"
	case "reset":
		_, err = h.dir.SendResetLink(ctx, v.Admin, id)
		done = "reset"
	case "remove":
		m, err := h.dir.RemoveMember(ctx, v.Admin, id)
		if err != nil {
			return err
		}
		http.Redirect(w, r, v.Base+"/users?"+url.Values{"done": {"removed"}, "email": {m.User.Email}}.Encode(), http.StatusSeeOther)
		return nil
	default:
		return directory.NotFoundError("There is no page at this address.")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/users/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
	return nil
}
