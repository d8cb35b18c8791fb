package scim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/admit-dev/admit/directory"
)

const groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"

// Members are changed one row at a time and never loaded to be changed,
// so that adding one member to a group of 100,000 costs what it costs in a
// group of 10.

// groupResource is the group as SCIM returns it; members only when loaded.
func (h *Handler) groupResource(g directory.SCIMGroup) map[string]any {
	res := map[string]any{
		"schemas": []string{groupURN}, "id": g.Group.ID, "displayName": g.Group.DisplayName,
		"meta": map[string]any{
			"resourceType": "Group", "created": g.Group.CreatedAt.Format(time.RFC3339),
			"lastModified": g.Group.UpdatedAt.Format(time.RFC3339), "version": etag(g.Version),
			"location": h.base + "/Groups/" + g.Group.ID,
		},
	}
	if g.Group.ExternalID != "" {
		res["externalId"] = g.Group.ExternalID
	}
	if g.Members != nil {
		members := make([]map[string]any, len(g.Members))
		for i, m := range g.Members {
			members[i] = map[string]any{"value": m.ID, "display": m.Display, "type": "User", "$ref": h.base + "/Users/" + m.ID}
		}
		res["members"] = members
	}
	return res
}

// memberValues reads the ids of a members attribute: a list of objects
// with a value, or a single one.
func memberValues(v any) ([]string, error) {
	var list []any
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	default:
		return nil, fmt.Errorf("members must be a list of objects with a value")
	}
	ids := make([]string, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("each member must be an object with a value")
		}
		id, _ := m[key(m, "value")].(string)
		if id == "" {
			return nil, fmt.Errorf("each member needs a value: the id of a user")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func groupInput(attrs map[string]any) (directory.GroupInput, bool, error) {
	var in directory.GroupInput
	in.DisplayName, _ = attrs[key(attrs, "displayName")].(string)
	in.ExternalID, _ = attrs[key(attrs, "externalId")].(string)
	raw, hasMembers := attrs[key(attrs, "members")]
	var err error
	in.Members, err = memberValues(raw)
	return in, hasMembers, err
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, c caller) error {
	attrs, err := h.groups.readResource(r)
	if err != nil {
		return err
	}
	in, _, err := groupInput(attrs)
	if err != nil {
		return directory.InvalidError(err.Error())
	}
	created, err := h.dir.CreateSCIMGroup(r.Context(), c.accountID, c.token, in)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusCreated, h.groupResource(created))
}

// replaceGroup sets the name, externalId and, when the body has them, the
// members. A body without members leaves them as they are (RFC 7644
// §3.5.1 lets the server take an omitted attribute as not asserted):
// renaming a group must not empty it. "members": [] empties it.
func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request, c caller) error {
	attrs, err := h.groups.readResource(r)
	if err != nil {
		return err
	}
	in, hasMembers, err := groupInput(attrs)
	if err != nil {
		return directory.InvalidError(err.Error())
	}
	change := directory.GroupChange{DisplayName: &in.DisplayName, ExternalID: &in.ExternalID}
	if hasMembers {
		change.Steps = []directory.MemberStep{{Op: directory.MembersReplace, Members: in.Members}}
	}
	changed, err := h.dir.ChangeSCIMGroup(r.Context(), c.accountID, c.token, r.PathValue("id"), change, ifMatch(r))
	if err != nil {
		return err
	}
	return h.replyGroup(w, r, c, changed)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := h.dir.DeleteSCIMGroup(r.Context(), c.accountID, c.token, r.PathValue("id"), ifMatch(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchGroup turns the operations into one group change, applied in
// order in one transaction.
func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request, c caller) error {
	ops, err := h.groups.readPatch(r)
	if err != nil {
		return err
	}
	var change directory.GroupChange
	for _, op := range ops {
		if err := addGroupOp(&change, op); err != nil {
			if p := (*problem)(nil); errors.As(err, &p) {
				return p
			}
			return directory.InvalidError(err.Error())
		}
	}
	changed, err := h.dir.ChangeSCIMGroup(r.Context(), c.accountID, c.token, r.PathValue("id"), change, ifMatch(r))
	if err != nil {
		return err
	}
	return h.replyGroup(w, r, c, changed)
}

// replyGroup answers a PUT or PATCH. Without an attributes parameter a
// PATCH gets 204 No Content (RFC 7644 §3.5.2 allows it), which Okta and
// Entra ID both accept: sending back every member of a large group after
// changing one would cost what the change was built not to. PUT, and PATCH
// with attributes=members, get the group.
func (h *Handler) replyGroup(w http.ResponseWriter, r *http.Request, c caller, changed directory.SCIMGroup) error {
	proj, err := readProjection(r, groupURN)
	if err != nil {
		return err
	}
	if r.Method == http.MethodPatch && len(proj.keep) == 0 {
		w.Header().Set("ETag", etag(changed.Version))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if proj.shows("members") {
		if changed, err = h.dir.SCIMGroup(r.Context(), c.accountID, changed.Group.ID, true); err != nil {
			return err
		}
	}
	return writeResource(w, http.StatusOK, proj.apply(h.groupResource(changed)))
}

// addGroupOp adds one PATCH operation to c. What clients send:
//
//	{"op":"add","path":"members","value":[{"value":"id"}]}          Okta, Entra ID
//	{"op":"remove","path":"members","value":[{"value":"id"}]}       Entra ID
//	{"op":"remove","path":"members[value eq \"id\"]"}               Okta, RFC 7644
//	{"op":"remove","path":"members"}                                 every member
//	{"op":"replace","path":"members","value":[...]}                  Okta
//	{"op":"replace","path":"displayName","value":"x"}               Entra ID
//	{"op":"replace","value":{"id":"...","displayName":"x"}}         Okta (no path)
func addGroupOp(c *directory.GroupChange, op elimity.PatchOperation) error {
	if op.Path == nil {
		if strings.EqualFold(op.Op, elimity.PatchOperationRemove) {
			return fmt.Errorf("remove needs a path")
		}
		value, ok := op.Value.(map[string]any)
		if !ok {
			return fmt.Errorf("%s without a path needs an object value", op.Op)
		}
		for k, v := range value {
			if err := setGroupAttr(c, op.Op, k, nil, v); err != nil {
				return err
			}
		}
		return nil
	}
	name := op.Path.AttributePath.AttributeName
	if uri := op.Path.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, groupURN) {
		return fmt.Errorf("path %s: groups have no %s attributes", op.Path, uri)
	}
	if sub := op.Path.AttributePath.SubAttributeName(); sub != "" || op.Path.SubAttribute != nil {
		return fmt.Errorf("path %s: sub-attributes of %s cannot be changed", op.Path, name)
	}
	return setGroupAttr(c, op.Op, name, op.Path.ValueExpression, op.Value)
}

func setGroupAttr(c *directory.GroupChange, op, name string, where filter.Expression, value any) error {
	op = strings.ToLower(op)
	switch strings.ToLower(name) {
	case "displayname", "externalid":
		if where != nil {
			return fmt.Errorf("%s has one value: no filter", name)
		}
		s, ok := value.(string)
		if op == elimity.PatchOperationRemove {
			if strings.EqualFold(name, "displayName") {
				return fmt.Errorf("displayName is required and cannot be removed")
			}
			s, ok = "", true
		}
		if !ok {
			return fmt.Errorf("%s must be a string", name)
		}
		if strings.EqualFold(name, "displayName") {
			c.DisplayName = &s
		} else {
			c.ExternalID = &s
		}
	case "members":
		ids, err := memberValues(value)
		if err != nil {
			return err
		}
		if where != nil {
			if op != elimity.PatchOperationRemove {
				return fmt.Errorf("a members[...] filter is for remove; add and replace take a list of members")
			}
			id, err := memberFilterValue(where)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		switch {
		case op == elimity.PatchOperationAdd:
			c.Steps = append(c.Steps, directory.MemberStep{Op: directory.MembersAdd, Members: ids})
		case op == elimity.PatchOperationReplace:
			c.Steps = append(c.Steps, directory.MemberStep{Op: directory.MembersReplace, Members: ids})
		case len(ids) == 0: // remove with no value and no filter: all of them
			c.Steps = append(c.Steps, directory.MemberStep{Op: directory.MembersRemoveAll})
		default:
			c.Steps = append(c.Steps, directory.MemberStep{Op: directory.MembersRemove, Members: ids})
		}
	case "id", "schemas", "meta":
		// Okta's no-path replace repeats the id; it cannot change.
	default:
		return fmt.Errorf("groups have no attribute %q that admit keeps (displayName, externalId, members)", name)
	}
	return nil
}

// memberFilterValue reads the id of members[value eq "id"], the one
// filter Okta and Entra ID send in a group's PATCH path. Any other is
// refused (400 invalidFilter) rather than evaluated: members are never
// loaded to be changed, and ne, co or not would ask to load them all.
func memberFilterValue(where filter.Expression) (string, error) {
	refused := invalidFilter(`a members filter in a PATCH path must be members[value eq "id"]: to remove several members, list them in the value of one remove`)
	e, ok := where.(*filter.AttributeExpression)
	if !ok || !strings.EqualFold(e.AttributePath.AttributeName, "value") || !strings.EqualFold(string(e.Operator), "eq") {
		return "", refused
	}
	id, ok := e.CompareValue.(string)
	if !ok || id == "" {
		return "", refused
	}
	return id, nil
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, c caller) error {
	q := r.URL.Query()
	f, t, err := groupFilter.parse(q.Get("filter"))
	if err != nil {
		return &problem{status: http.StatusBadRequest, scimType: "invalidFilter", detail: err.Error()}
	}
	start, count, err := pageParams(r)
	if err != nil {
		return err
	}
	proj, err := readProjection(r, groupURN)
	if err != nil {
		return err
	}
	if t == never {
		// The filter holds for no resource, whatever the database holds.
		return writeList(w, 0, start, []map[string]any{})
	}
	page, err := h.dir.ListSCIMGroups(r.Context(), c.accountID, f, start, count, proj.shows("members"))
	if err != nil {
		return err
	}
	resources := make([]map[string]any, len(page.Groups))
	for i, g := range page.Groups {
		resources[i] = proj.apply(h.groupResource(g))
	}
	return writeList(w, page.Total, start, resources)
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, c caller) error {
	proj, err := readProjection(r, groupURN)
	if err != nil {
		return err
	}
	g, err := h.dir.SCIMGroup(r.Context(), c.accountID, r.PathValue("id"), proj.shows("members"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(g.Version))
	return writeJSON(w, http.StatusOK, proj.apply(h.groupResource(g)))
}
