package admin

import (
	"context"
	"net/http"
	"slices"

	"github.com/admit-dev/admit/directory"
)

type roleMappingsPage struct {
	Mappings []directory.RoleMapping
	Roles    []directory.Role
	Group    string
	Role     string
}

func (h *Handler) roleMappingsPage(ctx context.Context, v view) (roleMappingsPage, error) {
	mappings, err := h.dir.RoleMappings(ctx, v.Admin.Account.ID)
	if err != nil {
		return roleMappingsPage{}, err
	}
	roles, err := h.dir.Roles(ctx, v.Admin.Account.ID)
	if err != nil {
		return roleMappingsPage{}, err
	}
	roles = slices.DeleteFunc(slices.Clone(roles), func(r directory.Role) bool { return r == directory.RoleOwner })
	return roleMappingsPage{Mappings: mappings, Roles: roles}, nil
}

func (h *Handler) handleRoleMappings(w http.ResponseWriter, r *http.Request, v view) error {
	p, err := h.roleMappingsPage(r.Context(), v)
	if err != nil {
		return err
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "sso_roles", "Groups and roles", v)
	return nil
}

func (h *Handler) handleMapGroup(w http.ResponseWriter, r *http.Request, v view) error {
	ctx := r.Context()
	group, role := r.PostFormValue("group"), directory.Role(r.PostFormValue("role"))
	_, _, err := h.dir.MapGroupToRole(ctx, v.Admin.Account.ID, v.Admin.Actor(), group, role, nil)
	if directory.KindOf(err) == directory.Invalid {
		p, perr := h.roleMappingsPage(ctx, v)
		if perr != nil {
			return perr
		}
		p.Group, p.Role = group, string(role)
		v.Problems, v.Page = directory.ProblemsOf(err), p
		h.render(w, r, http.StatusBadRequest, "sso_roles", "Groups and roles", v)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/sso/roles?done=mapped", http.StatusSeeOther)
	return nil
}

func (h *Handler) handleUnmapGroup(w http.ResponseWriter, r *http.Request, v view) error {
	if _, err := h.dir.UnmapGroup(r.Context(), v.Admin.Account.ID, v.Admin.Actor(), r.PostFormValue("group")); err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/sso/roles?done=unmapped", http.StatusSeeOther)
	return nil
}
