package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"

	"github.com/admit-dev/admit/directory"
)

const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// input reads what admit keeps from a user resource, its email values
// trimmed. The email is the primary one, else the work one, else the
// first, else a userName that is an address.
func input(attrs map[string]any) directory.SCIMUserInput {
	in := directory.SCIMUserInput{Active: true}
	in.Profile.UserName, _ = attrs["userName"].(string)
	in.Profile.ExternalID, _ = attrs["externalId"].(string)
	in.Profile.DisplayName, _ = attrs["displayName"].(string)
	if name, ok := attrs["name"].(map[string]any); ok {
		in.Profile.GivenName, _ = name["givenName"].(string)
		in.Profile.FamilyName, _ = name["familyName"].(string)
	}
	if active, ok := attrs["active"].(bool); ok {
		in.Active = active
	}
	emails, sent := attrs["emails"]
	if !sent {
		// Shown as admit shows a member no identity provider sent emails
		// for (stored): a work email, primary.
		in.Profile.EmailType, in.Profile.EmailPrimary = "work", true
	}
	if list, ok := emails.([]any); ok {
		// An address has no surrounding spaces; identity providers' mapping
		// expressions sometimes add one ("user.email + ' '"). The value is
		// trimmed where it is kept, so that the answers, the stored
		// attributes and the person's address agree (admit trims the
		// address it uses: kept untrimmed, the emails read back differed
		// from it).
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if v, ok := m["value"].(string); ok {
					m["value"] = strings.TrimSpace(v)
				}
			}
		}
		pick := func(match func(map[string]any) bool) map[string]any {
			for _, e := range list {
				if m, ok := e.(map[string]any); ok && match(m) {
					if v, ok := m["value"].(string); ok && v != "" {
						return m
					}
				}
			}
			return nil
		}
		el := pick(func(m map[string]any) bool { return m["primary"] == true })
		if el == nil {
			el = pick(func(m map[string]any) bool { return strings.EqualFold(fmt.Sprint(m["type"]), "work") })
		}
		if el == nil {
			el = pick(func(map[string]any) bool { return true })
		}
		if el != nil {
			in.Email = el["value"].(string)
			in.Profile.EmailType, _ = el["type"].(string)
			in.Profile.EmailPrimary = el["primary"] == true
			in.Profile.EmailDisplay, _ = el["display"].(string)
		}
	}
	if in.Email == "" && strings.Contains(in.Profile.UserName, "@") {
		in.Email = in.Profile.UserName
	}
	kept := map[string]any{}
	for k, v := range attrs {
		if !notKept[strings.ToLower(k)] {
			kept[k] = v
		}
	}
	in.Profile.Attributes, _ = json.Marshal(kept)
	return in
}

// notKept are the attributes admit never stores: id and meta are its own,
// and a password (Okta sends one when "Sync password" is on) is returned
// "never" (RFC 7643 §4.1.1) and must not lie in the database in the clear.
// admit does not take a password from SCIM at all: a person has one
// password for every account they belong to, and no account's identity
// provider may set it (DESIGN rule 4); people provisioned by SCIM sign in
// through SSO.
var notKept = map[string]bool{"id": true, "meta": true, "password": true}

// resource is the user as SCIM returns it: every attribute the client
// sent, with admit's own facts (id, userName, active, meta) over them.
// Null, an empty list and no attribute are the same (RFC 7643 §2.5): a
// response leaves them out, as it does every attribute never set.
func (h *Handler) resource(u directory.SCIMUser) map[string]any {
	res := h.stored(u)
	for k, v := range res {
		if list, isList := v.([]any); v == nil || isList && len(list) == 0 {
			delete(res, k)
		}
	}
	// RFC 7643 §3: schemas names the namespaces of the attributes present,
	// the enterprise extension's too when it has any. What the client sent
	// as schemas is not kept (OneLogin sends names RFC 7643 does not have).
	schemas := []string{userURN}
	if ext, _ := res[enterpriseURN].(map[string]any); len(ext) > 0 {
		schemas = append(schemas, enterpriseURN)
	}
	res["schemas"] = schemas
	return res
}

// stored is the user as a PATCH changes it: resource with the attributes
// the identity provider cleared still there, as null or [], so that they
// stay cleared. Emails it cleared stay so; only a member it never sent
// emails for is shown with the address they sign in with.
func (h *Handler) stored(u directory.SCIMUser) map[string]any {
	res := map[string]any{}
	_ = json.Unmarshal(u.Profile.Attributes, &res)
	for k := range res {
		if notKept[strings.ToLower(k)] {
			delete(res, k) // a row written before passwords were dropped
		}
	}
	res["id"] = u.Membership.ID
	res["userName"] = u.Profile.UserName
	res["active"] = u.Active()
	if u.Profile.ExternalID != "" {
		res["externalId"] = u.Profile.ExternalID
	}
	if !u.Described() {
		// No identity provider has described this member (an admin added
		// them, or they came by invitation or SSO): describe them as one
		// would, with the name the account's admins see.
		describe(res, u)
	}
	if _, sent := res["emails"]; !sent {
		res["emails"] = []any{map[string]any{"value": u.Email, "type": "work", "primary": true}}
	}
	if _, ok := res["schemas"]; !ok {
		res["schemas"] = []string{userURN}
	}
	res["meta"] = map[string]any{
		"resourceType": "User", "created": u.Membership.CreatedAt.Format(time.RFC3339),
		"lastModified": u.Membership.UpdatedAt.Format(time.RFC3339), "version": etag(u.Version),
		"location": h.base + "/Users/" + u.Membership.ID,
	}
	return res
}

// describe gives an undescribed member's resource the person's own name.
func describe(res map[string]any, u directory.SCIMUser) {
	first, last := strings.TrimSpace(u.FirstName), strings.TrimSpace(u.LastName)
	full := strings.TrimSpace(first + " " + last)
	if full == "" {
		return // no name known: an invitation not yet accepted, or a person this account may not name
	}
	name := map[string]any{"formatted": full}
	if first != "" {
		name["givenName"] = first
	}
	if last != "" {
		name["familyName"] = last
	}
	res["name"] = name
	res["displayName"] = full
}

func etag(v int) string { return `W/"` + strconv.Itoa(v) + `"` }

// ifMatch reads the If-Match header (RFC 7232 §3.1, RFC 7644 §3.14):
// absent or "*", any version; otherwise a list of entity tags, W/"9" or
// "9" for version 9. admit's ETags are weak and SCIM compares them as they
// are sent (RFC 7644 §3.14's own example sends W/"..." in If-Match), so a
// weak tag matches its version here, where HTTP's strong comparison would
// match nothing. A tag that names no version of admit's (another server's,
// or no entity tag at all: "garbage") matches no version, so the change
// fails with 412 rather than going ahead unchecked.
func ifMatch(r *http.Request) directory.IfVersion {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return directory.IfVersion{}
	}
	h := strings.Join(values, ",")
	if strings.Trim(h, " \t") == "*" {
		return directory.IfVersion{}
	}
	var versions []int
	for {
		// RFC 7230 §7: a list, its elements parted by commas and spaces,
		// empty ones ignored.
		if h = strings.TrimLeft(h, ", \t"); h == "" {
			break
		}
		quoted, isTag := strings.CutPrefix(strings.TrimPrefix(h, "W/"), `"`)
		tag, rest, closed := strings.Cut(quoted, `"`)
		if !isTag || !closed {
			return directory.VersionIn() // not an entity tag
		}
		if n, err := strconv.Atoi(tag); err == nil && strconv.Itoa(n) == tag {
			versions = append(versions, n)
		}
		if h = strings.TrimLeft(rest, " \t"); h != "" && h[0] != ',' {
			return directory.VersionIn()
		}
	}
	return directory.VersionIn(versions...)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, c caller) error {
	attrs, err := h.users.readResource(r)
	if err != nil {
		return err
	}
	created, err := h.dir.CreateSCIMUser(r.Context(), c.accountID, c.token, input(attrs))
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusCreated, h.resource(created))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c caller) error {
	proj, err := readProjection(r, userURN)
	if err != nil {
		return err
	}
	u, err := h.dir.SCIMUser(r.Context(), c.accountID, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(u.Version))
	return writeJSON(w, http.StatusOK, proj.apply(h.resource(u)))
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request, c caller) error {
	attrs, err := h.users.readResource(r)
	if err != nil {
		return err
	}
	in := input(attrs)
	var replaced directory.SCIMUser
	if _, asserted := attrs["active"]; asserted {
		replaced, err = h.dir.ReplaceSCIMUser(r.Context(), c.accountID, c.token, r.PathValue("id"), in, ifMatch(r))
	} else {
		// A PUT without active does not assert it (RFC 7644 §3.5.1: an
		// omitted readWrite attribute "MAY be assumed to be not asserted"):
		// the user stays as they are, read under the change's lock. Taken
		// as the default, true, a profile pushed from a template without
		// active (OneLogin's) reactivated a user the identity provider or
		// an admin had deactivated, and gave them their access back.
		replaced, err = h.dir.PatchSCIMUser(r.Context(), c.accountID, c.token, r.PathValue("id"), ifMatch(r), func(cur directory.SCIMUser) (directory.SCIMUserInput, error) {
			kept := in
			kept.Active = cur.Active()
			return kept, nil
		})
	}
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, h.resource(replaced))
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, c caller) error {
	if err := h.dir.DeleteSCIMUser(r.Context(), c.accountID, c.token, r.PathValue("id"), ifMatch(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchUser applies the operations, in the order given (RFC 7644
// §3.5.2), to the user as stored when the change is made, inside its
// transaction.
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, c caller) error {
	ops, err := h.users.readPatch(r)
	if err != nil {
		return err
	}
	if err := checkPatchSize(ops); err != nil {
		return directory.InvalidError(err.Error())
	}
	patched, err := h.dir.PatchSCIMUser(r.Context(), c.accountID, c.token, r.PathValue("id"), ifMatch(r), func(cur directory.SCIMUser) (directory.SCIMUserInput, error) {
		res := h.stored(cur)
		for _, op := range ops {
			was := primaryValues(res)
			if err := applyPatch(res, op, h.users.caseExact); err != nil {
				if p := (*problem)(nil); errors.As(err, &p) {
					return directory.SCIMUserInput{}, p
				}
				return directory.SCIMUserInput{}, directory.InvalidError(err.Error())
			}
			onePrimary(res, was)
		}
		return input(res), nil // no email left: the person's own stays
	})
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, h.resource(patched))
}

// A user PATCH is applied while the member's row is locked (on SQLite,
// while the database's one write lock is held), and applying an operation
// with a value filter scans the attribute's values: this bounds what one
// request can hold others up for. People have a handful of emails or
// phones. (The number of operations is bounded for users and groups alike
// by readPatch.)
const maxUserPatchValues = 1000

func checkPatchSize(ops []elimity.PatchOperation) error {
	values := 0
	for _, op := range ops {
		if list, ok := op.Value.([]any); ok {
			values += len(list)
		}
	}
	if values > maxUserPatchValues {
		return fmt.Errorf("a user PATCH may add or replace at most %d values of multi-valued attributes", maxUserPatchValues)
	}
	return nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, c caller) error {
	q := r.URL.Query()
	f, t, err := parseFilter(q.Get("filter"))
	if err != nil {
		return &problem{status: http.StatusBadRequest, scimType: "invalidFilter", detail: err.Error()}
	}
	start, count, err := pageParams(r)
	if err != nil {
		return err
	}
	proj, err := readProjection(r, userURN)
	if err != nil {
		return err
	}
	if t == never {
		// The filter holds for no resource, whatever the database holds.
		return writeList(w, 0, start, []map[string]any{})
	}
	page, err := h.dir.ListSCIMUsers(r.Context(), c.accountID, f, start, count)
	if err != nil {
		return err
	}
	resources := make([]map[string]any, len(page.Users))
	for i, u := range page.Users {
		resources[i] = proj.apply(h.resource(u))
	}
	return writeList(w, page.Total, start, resources)
}

// pageParams reads startIndex and count.
func pageParams(r *http.Request) (start, count int, err error) {
	q := r.URL.Query()
	start, count = 1, 100
	for _, p := range []struct {
		name string
		dst  *int
	}{{"startIndex", &start}, {"count", &count}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, 0, invalidValue(p.name + " must be a whole number")
			}
			*p.dst = n
		}
	}
	// RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
	return max(start, 1), min(max(count, 0), directory.MaxPageSize), nil
}

// writeList sends a ListResponse.
func writeList(w http.ResponseWriter, total, start int, resources []map[string]any) error {
	return writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": total, "startIndex": start, "itemsPerPage": len(resources), "Resources": resources,
	})
}

// maxAttributeNames bounds the names in attributes and excludedAttributes
// (RFC 7644 §3.4.2.5), which every resource of a page is projected
// through: at the 64 KB a header may hold, ten thousand names cost half a
// second of CPU a request. A resource type has a few dozen attributes and
// sub-attributes to name.
const maxAttributeNames = 100

// projection is what attributes and excludedAttributes ask of a response,
// read once a request: names lowercased, without the resource's URN.
type projection struct {
	keep, drop []string
}

// readProjection reads a request's attributes and excludedAttributes for
// resources of urn. RFC 7644 §3.9 makes attributes win when both are given.
func readProjection(r *http.Request, urn string) (projection, error) {
	q := r.URL.Query()
	var p projection
	for _, param := range []struct {
		name string
		dst  *[]string
	}{{"attributes", &p.keep}, {"excludedAttributes", &p.drop}} {
		for n := range strings.SplitSeq(q.Get(param.name), ",") {
			if n = strings.TrimSpace(n); n == "" {
				continue
			}
			if len(*param.dst) == maxAttributeNames {
				return projection{}, invalidValue(fmt.Sprintf("%s may name at most %d attributes", param.name, maxAttributeNames))
			}
			*param.dst = append(*param.dst, strings.TrimPrefix(strings.ToLower(n), strings.ToLower(urn)+":"))
		}
	}
	return p, nil
}

// shows reports whether a response shows the attribute name (lowercase),
// so that what it does not show need not be loaded.
func (p projection) shows(name string) bool {
	top := func(n string) string { t, _, _ := strings.Cut(n, "."); return t }
	if len(p.keep) > 0 {
		return slices.ContainsFunc(p.keep, func(n string) bool { return top(n) == name })
	}
	return !slices.Contains(p.drop, name)
}

// keepSub adds the sub-attribute sub of v, a complex attribute or a list
// of them (members.value), to part, what is kept of v so far.
func keepSub(part, v any, sub string) any {
	pick := func(into, m map[string]any) map[string]any {
		if into == nil {
			into = map[string]any{}
		}
		for sk, sv := range m {
			if strings.ToLower(sk) == sub {
				into[sk] = sv
			}
		}
		return into
	}
	var list []map[string]any
	switch v := v.(type) {
	case map[string]any:
		p, _ := part.(map[string]any)
		return pick(p, v)
	case []map[string]any:
		list = v
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				list = append(list, m)
			}
		}
	default:
		return part
	}
	kept, _ := part.([]map[string]any)
	if kept == nil {
		kept = make([]map[string]any, len(list))
	}
	for i, m := range list {
		kept[i] = pick(kept[i], m)
	}
	return kept
}

// apply projects a resource: keep only the attributes asked for, or drop
// the excluded ones; id, schemas and meta always stay (RFC 7643 §7
// "returned: always"). Names are compared without case, and
// "name.givenName" names a sub-attribute.
func (p projection) apply(res map[string]any) map[string]any {
	always := map[string]bool{"id": true, "schemas": true, "meta": true}
	if len(p.keep) > 0 {
		out := map[string]any{}
		for k, v := range res {
			lk := strings.ToLower(k)
			for _, want := range p.keep {
				top, sub, hasSub := strings.Cut(want, ".")
				switch {
				case always[lk]:
					out[k] = v
				case lk == top && !hasSub:
					out[k] = v
				case lk == top && hasSub:
					out[k] = keepSub(out[k], v, sub)
				}
			}
		}
		return out
	}
	for _, drop := range p.drop {
		top, sub, hasSub := strings.Cut(drop, ".")
		for k, v := range res {
			if strings.ToLower(k) != top || always[strings.ToLower(k)] {
				continue
			}
			if !hasSub {
				delete(res, k)
			} else if m, ok := v.(map[string]any); ok {
				for sk := range m {
					if strings.ToLower(sk) == sub {
						delete(m, sk)
					}
				}
			}
		}
	}
	return res
}
