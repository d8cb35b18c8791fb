package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/admit-dev/admit/directory"
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
}

func (h *Handler) handlePerson(w http.ResponseWriter, r *http.Request, v view) error {
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
	if done := r.URL.Query().Get("done"); doneNotices[done] != "" {
		v.Notice, v.Done = doneNotices[done], done
	}
	v.Page = personPage{
		Detail: d, Roles: assignableRoles(roles, v.Admin), Trail: trail, Self: self,
		MayManage: ownerRule && !self && v.Admin.Can(directory.ManageMembers),
		MayResend: ownerRule && v.Admin.Can(directory.AddMembers) && d.Membership.Status == directory.StatusInvited,
	}
	title := d.User.Email
	h.render(w, r, http.StatusOK, "person", title, v)
	return nil
}

func (h *Handler) handleRole(w http.ResponseWriter, r *http.Request, v view) error {
	id := r.PathValue("id")
	if _, err := h.dir.ChangeRole(r.Context(), v.Admin, id, directory.Role(r.PostFormValue("role"))); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/users/"+url.PathEscape(id)+"?done=role", http.StatusSeeOther)
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
	case "resend":
		_, err = h.dir.ResendInvitation(ctx, v.Admin, id)
		done = "resent"
	case "reset":
		_, err = h.dir.SendResetLink(ctx, v.Admin, id)
		done = "reset"
	case "remove":
		if _, err := h.dir.RemoveMember(ctx, v.Admin, id); err != nil {
			return err
		}
		http.Redirect(w, r, v.Base+"/users?done=removed", http.StatusSeeOther)
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
