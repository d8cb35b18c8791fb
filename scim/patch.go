package scim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	elimity "github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
)

// normalizeOps mends the PATCH operations Entra ID and Okta send:
//
//	{"op":"Replace",...}                                  capitalised op (Entra ID)
//	{"op":"replace","path":"active","value":"False"}      boolean as a string (Entra ID)
//	{"op":"replace","value":{"active":false}}             no path (Okta)
//	{"op":"replace","value":{"name.givenName":"Ada",
//	  "emails[type eq \"work\"].value":"ada@acme.example",
//	  "urn:…:enterprise:2.0:User:department":"R&D"}}        no path, paths as keys (Entra ID)
//	{"op":"Add","path":"urn:…:User:manager","value":"id"} a manager as a bare id (Entra ID)
//	{"op":"Replace","path":"title","value":""}            "" or null: clear it (Entra ID)
//
// An add or replace without a path becomes one operation per attribute
// of its value, each with that attribute as its path: RFC 7644 §3.5.2.1
// and §3.5.2.3 give them the same effect, and the library validates a key
// only as an attribute name, not as the path Entra ID makes of it. A
// value of null or "" becomes a remove: RFC 7643 §2.5 makes null and
// unassigned the same, and Entra ID clears an attribute that way.
func normalizeOps(list []any) ([]any, error) {
	var out []any
	for _, o := range list {
		op, ok := o.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("each operation must be an object")
		}
		for k, v := range op {
			if lk := strings.ToLower(k); lk != k {
				delete(op, k)
				op[lk] = v
			}
		}
		kind, _ := op["op"].(string)
		if kind != "" {
			kind = strings.ToLower(kind)
			op["op"] = kind
		}
		path, _ := op["path"].(string)
		value, isObject := op["value"].(map[string]any)
		if path != "" || !isObject || (kind != "add" && kind != "replace") {
			out = append(out, normalizeOp(op))
			continue
		}
		// Each key becomes an operation of its own, applied in turn: an
		// attribute given twice in the value would be overwritten by the
		// second, whichever the identity provider meant.
		if err := givenTwice(value); err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(value))
		for k := range value {
			keys = append(keys, k)
		}
		slices.Sort(keys) // "name" before "name.givenName"
		for _, k := range keys {
			v := value[k]
			switch ext, _ := v.(map[string]any); {
			case strings.EqualFold(k, "id"):
				// Okta repeats the id; it cannot change.
			case strings.EqualFold(k, enterpriseURN) && ext != nil:
				// The library reads a bare schema URN as a path into the
				// core schema: name each extension attribute instead.
				for _, sub := range slices.Sorted(maps.Keys(ext)) {
					out = append(out, normalizeOp(map[string]any{"op": kind, "path": enterpriseURN + ":" + sub, "value": ext[sub]}))
				}
			default:
				out = append(out, normalizeOp(map[string]any{"op": kind, "path": k, "value": v}))
			}
		}
	}
	return out, nil
}

// normalizeOp mends one operation that has a path (or is left for the
// library to refuse).
func normalizeOp(op map[string]any) map[string]any {
	kind, _ := op["op"].(string)
	path, _ := op["path"].(string)
	value, hasValue := op["value"]
	if s, isString := value.(string); hasValue && (value == nil || isString && s == "") &&
		(kind == "add" || kind == "replace") && path != "" && !strings.EqualFold(path, "active") {
		// active has no "unassigned": clearing it is refused as a bad value.
		return map[string]any{"op": "remove", "path": path}
	}
	switch value := value.(type) {
	case map[string]any:
		normalizeResource(value)
	case string:
		switch {
		case strings.EqualFold(path, "active") && (strings.EqualFold(value, "true") || strings.EqualFold(value, "false")):
			op["value"] = strings.EqualFold(value, "true")
		case strings.EqualFold(path, enterpriseURN+":manager"):
			// Entra ID sends the manager's id bare.
			op["value"] = map[string]any{"value": value}
		}
	case []any:
		for _, item := range value {
			if im, ok := item.(map[string]any); ok {
				normalizeResource(im)
			}
		}
	}
	return op
}

func normalizeResource(m map[string]any) {
	for k, v := range m {
		// null is the same as not there (RFC 7643 §2.5); Entra ID sends
		// "$ref": null with every member.
		if v == nil {
			delete(m, k)
			continue
		}
		if s, ok := v.(string); ok && (strings.EqualFold(k, "active") || strings.EqualFold(k, "primary")) {
			if strings.EqualFold(s, "true") || strings.EqualFold(s, "false") {
				m[k] = strings.EqualFold(s, "true")
			}
		}
		if top, sub, ok := strings.Cut(k, "."); ok && !strings.HasPrefix(k, "urn:") {
			parent, _ := m[top].(map[string]any)
			if parent == nil {
				parent = map[string]any{}
			}
			parent[sub] = v
			m[top] = parent
			delete(m, k)
		}
		if strings.EqualFold(k, enterpriseURN) {
			if ext, ok := v.(map[string]any); ok {
				if mgr, ok := ext["manager"].(string); ok {
					ext["manager"] = map[string]any{"value": mgr}
				}
			}
		}
		if strings.HasPrefix(k, enterpriseURN+":") {
			// "urn:…:User:manager" as a key of its own.
			attr := strings.TrimPrefix(k, enterpriseURN+":")
			ext, _ := m[enterpriseURN].(map[string]any)
			if ext == nil {
				ext = map[string]any{}
			}
			if s, ok := v.(string); ok && strings.EqualFold(attr, "manager") {
				v = map[string]any{"value": s}
			}
			ext[attr] = v
			m[enterpriseURN] = ext
			delete(m, k)
		}
		if sub, ok := v.([]any); ok {
			for _, item := range sub {
				if im, ok := item.(map[string]any); ok {
					normalizeResource(im)
				}
			}
		}
	}
}

// key finds an attribute of m by name without case (RFC 7643 §2.1),
// returning the name as stored, or name itself when m has none.
func key(m map[string]any, name string) string {
	for k := range m {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

// applyPatch applies one PATCH operation to a resource. The operation's
// value is copied, never shared with res: a transaction that is retried
// applies the same operations again.
func applyPatch(res map[string]any, op elimity.PatchOperation, caseExact func(path string) bool) error {
	op.Value = deepCopy(op.Value)
	kind := strings.ToLower(op.Op)
	if op.Path == nil {
		value, ok := op.Value.(map[string]any)
		if !ok || kind == "remove" {
			return fmt.Errorf("an operation without a path needs an object value")
		}
		for k, v := range value {
			set(res, key(res, k), v, kind == "add")
		}
		return nil
	}
	target, core := res, true
	p := op.Path.AttributePath
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, userURN) {
		ext, _ := res[key(res, uri)].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			res[uri] = ext
		}
		target, core = ext, false
	}
	name := key(target, p.AttributeName)
	sub := p.SubAttributeName()
	if op.Path.SubAttribute != nil {
		sub = *op.Path.SubAttribute
	}
	if op.Path.ValueExpression != nil {
		return patchElements(target, name, op.Path.ValueExpression, sub, kind, op.Value, func(sub string) bool {
			return caseExact(name + "." + sub)
		})
	}
	if sub != "" {
		parent, _ := target[name].(map[string]any)
		if parent == nil {
			if kind == "remove" {
				return nil
			}
			parent = map[string]any{}
			target[name] = parent
		}
		if kind == "remove" {
			delete(parent, key(parent, sub))
			return nil
		}
		set(parent, key(parent, sub), op.Value, kind == "add")
		return nil
	}
	if kind == "remove" {
		if core {
			// Unassigned rather than gone, which responses show alike
			// (RFC 7643 §2.5), so that removed emails are not shown as
			// the address the person signs in with, as emails never sent
			// are.
			target[name] = nil
		} else {
			delete(target, name)
		}
		return nil
	}
	set(target, name, op.Value, kind == "add")
	return nil
}

// set assigns v to m[k]. add appends to a multi-valued attribute and
// merges into a complex one, where replace overwrites.
func set(m map[string]any, k string, v any, add bool) {
	if add {
		switch cur := m[k].(type) {
		case []any:
			if more, ok := v.([]any); ok {
				m[k] = append(cur, more...)
				return
			}
		case map[string]any:
			if more, ok := v.(map[string]any); ok {
				for mk, mv := range more {
					cur[key(cur, mk)] = mv
				}
				return
			}
		}
	}
	if cur, ok := m[k].(map[string]any); ok && !add {
		if more, ok := v.(map[string]any); ok {
			// Replacing a complex attribute with some of its sub-attributes
			// keeps the others (RFC 7644 §3.5.2.3).
			for mk, mv := range more {
				cur[key(cur, mk)] = mv
			}
			return
		}
	}
	m[k] = v
}

// patchElements changes the elements of a multi-valued attribute that
// match a value filter: emails[type eq "work"].value. caseExact says which
// of the attribute's sub-attributes compare strings with case.
func patchElements(m map[string]any, name string, expr filter.Expression, sub, kind string, value any, caseExact func(sub string) bool) error {
	items, _ := m[name].([]any)
	matched := false
	var kept []any
	for _, it := range items {
		el, ok := it.(map[string]any)
		if !ok || !matches(el, expr, caseExact) {
			kept = append(kept, it)
			continue
		}
		matched = true
		switch {
		case kind == "remove" && (sub == "" || strings.EqualFold(sub, "value")):
			// An element without its value is no element: clearing
			// emails[type eq "work"].value drops the work email.
			continue
		case kind == "remove":
			delete(el, key(el, sub))
		case sub == "":
			if v, ok := value.(map[string]any); ok {
				for k, vv := range v {
					el[key(el, k)] = vv
				}
			}
		default:
			el[key(el, sub)] = value
		}
		kept = append(kept, el)
	}
	if !matched && kind != "remove" {
		// Nothing matched: add the element the filter describes, as Entra
		// ID expects of replace emails[type eq "work"].value for a user
		// with no work email. Only a filter of equalities joined by and
		// describes one element; for any other, RFC 7644 §3.5.2.3's
		// answer stands: no target.
		el := map[string]any{}
		if !addEqualities(el, expr) {
			return &problem{status: http.StatusBadRequest, scimType: "noTarget",
				detail: fmt.Sprintf("no value of %s matches the filter, and only a filter of eq comparisons joined by and describes a value to add", name)}
		}
		if sub != "" {
			el[sub] = value
		} else if v, ok := value.(map[string]any); ok {
			for k, vv := range v {
				el[k] = vv
			}
		}
		kept = append(kept, el)
	}
	m[name] = kept
	return nil
}

// matches reports whether el, one value of a multi-valued attribute,
// meets a PATCH path's value filter, with the operators of RFC 7644
// §3.4.2.2. The filter has passed checkPathFilter: its comparisons suit
// the types of the sub-attributes they name.
func matches(el map[string]any, expr filter.Expression, caseExact func(sub string) bool) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if strings.EqualFold(string(e.Operator), "or") {
			return matches(el, e.Left, caseExact) || matches(el, e.Right, caseExact)
		}
		return matches(el, e.Left, caseExact) && matches(el, e.Right, caseExact)
	case *filter.NotExpression:
		return !matches(el, e.Expression, caseExact)
	case *filter.AttributeExpression:
		name := e.AttributePath.AttributeName
		v := el[key(el, name)]
		return compareValue(v, e.Operator, e.CompareValue, caseExact(name))
	}
	return false
}

// compareValue compares a sub-attribute's value v (nil when absent) with
// a filter's: pr is "has a value"; eq null and ne null ask the same
// (RFC 7643 §2.5: null is unassigned). A value of another type than the
// filter's equals nothing, so ne holds for it.
func compareValue(v any, op filter.CompareOperator, want any, exact bool) bool {
	op = filter.CompareOperator(strings.ToLower(string(op)))
	if op == filter.PR || want == nil {
		has := v != nil
		switch v := v.(type) {
		case string:
			has = v != ""
		case []any:
			has = len(v) > 0
		case map[string]any:
			has = len(v) > 0
		}
		return has == (op != filter.EQ)
	}
	var c int
	switch w := want.(type) {
	case string:
		s, ok := v.(string)
		if !ok {
			return op == filter.NE
		}
		if !exact {
			s, w = strings.ToLower(s), strings.ToLower(w)
		}
		switch op {
		case filter.CO:
			return strings.Contains(s, w)
		case filter.SW:
			return strings.HasPrefix(s, w)
		case filter.EW:
			return strings.HasSuffix(s, w)
		}
		c = strings.Compare(s, w)
	case bool:
		b, ok := v.(bool)
		if op == filter.NE {
			return !ok || b != w
		}
		return ok && b == w // eq: ordering booleans is refused
	default:
		n, ok := number(v)
		m, _ := number(w)
		if !ok {
			return op == filter.NE
		}
		c = cmp.Compare(n, m)
	}
	switch op {
	case filter.EQ:
		return c == 0
	case filter.NE:
		return c != 0
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}

// number reads a JSON number as it arrives: from a request (json.Number),
// from storage (float64), or from a filter (int or float64).
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// addEqualities sets the sub-attributes an and of eq comparisons names, and
// reports whether the filter was one.
func addEqualities(el map[string]any, expr filter.Expression) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		return strings.EqualFold(string(e.Operator), "and") && addEqualities(el, e.Left) && addEqualities(el, e.Right)
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(e.Operator), "eq") || e.CompareValue == nil {
			return false
		}
		el[e.AttributePath.AttributeName] = e.CompareValue
		return true
	}
	return false
}

// deepCopy copies the maps and slices of a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
