package admin

import (
	"fmt"
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
	Trail  []auditRow
	// May is what the admin may do to this person, so that the page
	// offers only that (the directory checks again on each change).
	MayManage, MayResend, Self bool
	// Invited is true while the person has not accepted their
	// invitation: the page offers what applies to an invitation (resend,
	// revoke) rather than what applies to a sign-in they do not have
	// (deactivate, reset link, end sessions).
	Invited bool
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

// change is the form as a change of u. A name part left blank that u
// has never had (an invited person whose admin knew only their address)
// is left out: correcting the address needs no name. A part u has stays
// in the change, so that blanking it is refused as the directory refuses
// any name taken away.
func (f personForm) change(u directory.User) directory.PersonChange {
	c := directory.PersonChange{Email: &f.Email}
	if strings.TrimSpace(f.FirstName) != "" || u.FirstName != "" {
		c.FirstName = &f.FirstName
	}
	if strings.TrimSpace(f.LastName) != "" || u.LastName != "" {
		c.LastName = &f.LastName
	}
	return c
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

// addedFacts are what an addedNotices text says besides the person.
type addedFacts struct {
	Detail  directory.MemberDetail
	Account directory.Account
	// SSO is the ready connection that serves the person's address, if
	// any (only for added-sso).
	SSO *directory.Connection
}

// addedNotices say, after Add user, what became of the person's password
// and how they sign in: what the directory did (directory.Added), which
// may not be what the form asked for (rule 4). The texts are fixed; the
// values are the person's as they are now.
var addedNotices = map[string]func(addedFacts) string{
	"added-password": func(f addedFacts) string {
		return fmt.Sprintf("%s is added with the initial password you typed. admit emails them nothing: give it to them yourself, by another channel than email. They must change it at their first sign-in; it stops working %d days after you set it if they have not (the Security page sets how long).",
			f.Detail.User.Email, f.Account.PasswordPolicy.InitialDays())
	},
	"added-joined": func(f addedFacts) string {
		return f.Detail.User.Email + " already had a sign-in to admit, so only their membership here was added: their name and password stay theirs, and they sign in here as they do elsewhere. admit emails them nothing."
	},
	"added-joined-password-unused": func(f addedFacts) string {
		return f.Detail.User.Email + " already had a sign-in to admit, so only their membership here was added, and the password you typed was not used: an admin never sets the password of someone who already has one. They sign in here with their own. admit emails them nothing."
	},
	"added-sso": func(f addedFacts) string {
		if f.SSO == nil {
			return f.Detail.User.Email + " is added without a password, to sign in through single sign-on, but no ready single sign-on connection of this account serves their address yet: they cannot sign in until one does (Single sign-on page). admit emails them nothing."
		}
		return f.Detail.User.Email + " is added without a password: they sign in through single sign-on (" + f.SSO.Name + "), from your intranet's link or by typing their address on the sign-in page. admit emails them nothing."
	},
	"invited": func(f addedFacts) string {
		inv := f.Detail.Invitation
		if inv == nil {
			return doneNotices["invited"]
		}
		return "An invitation email is on its way to " + inv.Email + ": they choose their own password with its link, which works until " + inv.ExpiresAt.Format("2006-01-02 15:04 UTC") + ". If the address bounces, you are told by email and this page says so."
	},
}

// addedNotice words an addedNotices key for the person d.
func (h *Handler) addedNotice(r *http.Request, v view, d directory.MemberDetail, notice func(addedFacts) string) (string, error) {
	f := addedFacts{Detail: d, Account: v.Admin.Account}
	if r.URL.Query().Get("done") == "added-sso" {
		c, err := h.dir.ConnectionForEmail(r.Context(), v.Admin.Account.ID, d.User.Email)
		switch {
		case err == nil:
			f.SSO = &c
		case directory.KindOf(err) != directory.NotFound:
			return "", err
		}
	}
	return notice(f), nil
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
		if notice := personNotices[done]; notice != nil {
			v.Notice, v.Done = notice(d), done
		} else if notice := addedNotices[done]; notice != nil {
			if v.Notice, err = h.addedNotice(r, v, d, notice); err != nil {
				return err
			}
			v.Done = done
		} else if doneNotices[done] != "" {
			v.Notice, v.Done = doneNotices[done], done
		}
	}
	form := personForm{FirstName: d.User.FirstName, LastName: d.User.LastName, Email: d.User.Email}
	if typed != nil {
		form = *typed
	}
	v.Page = personPage{
		Detail: d, Roles: v.Admin.Assignable(roles), Trail: auditRows(trail), Self: self,
		MayManage: ownerRule && !self && v.Admin.Can(directory.ManageMembers),
		MayResend: ownerRule && v.Admin.Can(directory.AddMembers) && d.Membership.Status == directory.StatusInvited,
		Invited:   d.Membership.Status == directory.StatusInvited,
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
	after, err := h.dir.ChangePerson(ctx, v.Admin, id, f.change(before.User))
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
	case "remove", "revoke":
		remove, done := h.dir.RemoveMember, "removed"
		if r.PathValue("action") == "revoke" {
			remove, done = h.dir.RevokeMemberInvitation, "revoked"
		}
		m, err := remove(ctx, v.Admin, id)
		if err != nil {
			return err
		}
		http.Redirect(w, r, v.Base+"/users?"+url.Values{"done": {done}, "email": {m.User.Email}}.Encode(), http.StatusSeeOther)
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
