package scim

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	elimityfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
)

const patchOpURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// resourceType is what a body of one resource type is validated against:
// elimity-com/scim's schema (with the common externalId) and extensions.
type resourceType struct {
	schema     schema.Schema
	extensions []schema.Schema
	byURN      map[string]schema.Schema
	// exact are the sub-attributes ("emails.value", lowercase) whose
	// strings compare with case (RFC 7643 caseExact).
	exact map[string]bool
}

func newResourceType(s schema.Schema, extensions ...schema.Schema) resourceType {
	// RFC 7643 §3.1: externalId is common to every resource type; the
	// library's schemas leave it to the server.
	s.Attributes = append(s.Attributes, schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
		CaseExact: true, Mutability: schema.AttributeMutabilityReadWrite(), Name: schema.CommonAttributeExternalID,
		Uniqueness: schema.AttributeUniquenessNone(),
	})))
	rt := resourceType{schema: s, extensions: extensions, byURN: map[string]schema.Schema{s.ID: s}, exact: map[string]bool{}}
	for _, e := range extensions {
		rt.byURN[e.ID] = e
	}
	for _, sc := range rt.byURN {
		for _, a := range sc.Attributes {
			for _, sub := range a.SubAttributes() {
				if sub.CaseExact() {
					rt.exact[strings.ToLower(a.Name()+"."+sub.Name())] = true
				}
			}
		}
	}
	return rt
}

// readResource reads the body of a POST or PUT, once: it mends what
// identity providers really send (normalizeResource) and keeps what the
// schema knows, validated.
func (rt resourceType) readResource(r *http.Request) (map[string]any, error) {
	m, err := readObject(r)
	if err != nil {
		return nil, err
	}
	if _, ok := rt.byURN[enterpriseURN]; ok {
		if err := oneEnterpriseName(m); err != nil {
			return nil, err
		}
	}
	if err := givenTwice(m); err != nil {
		return nil, err
	}
	normalizeResource(m)
	for _, a := range rt.schema.Attributes {
		// OneLogin's documented template sends emails as one object where
		// RFC 7643 has a list: read it as the list of that one. The
		// library would pass it through as the object, which nothing after
		// it reads as emails, and the address was lost. normalizeResource
		// mends the elements of a list, not an object: the object is
		// mended as the list's element it becomes ("primary":"True").
		if k := key(m, a.Name()); a.MultiValued() && a.HasSubAttributes() {
			if obj, ok := m[k].(map[string]any); ok {
				normalizeResource(obj)
				m[k] = []any{obj}
			}
		}
	}
	attrs, serr := rt.schema.Validate(m)
	if serr != nil {
		return nil, refusal(rt.schema.Attributes, m, "", serr)
	}
	// Validate has made "primary" a boolean, whatever form it was sent in.
	onePrimary(attrs, marked{})
	for _, e := range rt.extensions {
		ext, ok := m[e.ID]
		if !ok || ext == nil {
			continue
		}
		v, serr := e.Validate(ext)
		if serr != nil {
			obj, ok := ext.(map[string]any)
			if !ok {
				return nil, invalidValue(e.ID + " must be an object of its attributes")
			}
			return nil, refusal(e.Attributes, obj, e.ID+":", serr)
		}
		attrs[e.ID] = v
	}
	return attrs, nil
}

// oneLoginEnterpriseURN is the key OneLogin's "SCIM v2 Enterprise"
// template puts the enterprise attributes under (and lists in "schemas",
// with "urn:scim:schemas:core:2.0"): the name draft SCIM 2.0 schemas used
// before RFC 7643 gave the extension its URN.
const oneLoginEnterpriseURN = "urn:scim:schemas:extension:enterprise:2.0"

// enterpriseNames reads the keys of a resource, or the paths and keys of
// a PATCH, for the enterprise extension's two names: OneLogin's is read as
// RFC 7643's (left as it is, its attributes were valid JSON that no schema
// names, and were dropped without a word), as the extension's object
// ("urn:scim:…:2.0") or as a path into it ("urn:scim:…:2.0:department").
// A request that uses both names is refused (err): when they disagree,
// which one describes the user is not for admit to guess, and when they
// agree, the identity provider still sends one of them by mistake.
type enterpriseNames struct {
	rfc, oneLogin string // the first key seen under each name
}

// read returns k with OneLogin's name of the extension replaced by RFC
// 7643's, and notes which name k used.
func (n *enterpriseNames) read(k string) string {
	switch {
	case hasPrefixFold(k, enterpriseURN) && (len(k) == len(enterpriseURN) || k[len(enterpriseURN)] == ':'):
		if n.rfc == "" {
			n.rfc = k
		}
	case hasPrefixFold(k, oneLoginEnterpriseURN) && (len(k) == len(oneLoginEnterpriseURN) || k[len(oneLoginEnterpriseURN)] == ':'):
		if n.oneLogin == "" {
			n.oneLogin = k
		}
		return enterpriseURN + k[len(oneLoginEnterpriseURN):]
	}
	return k
}

func (n *enterpriseNames) err() error {
	if n.rfc == "" || n.oneLogin == "" {
		return nil
	}
	return invalidSyntax("the enterprise extension is given under both of its names, as " + n.rfc + " and as " + n.oneLogin +
		" (OneLogin's name for " + enterpriseURN + "): send it under one")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// oneEnterpriseName gives the keys of m that use OneLogin's name of the
// enterprise extension RFC 7643's (enterpriseNames).
func oneEnterpriseName(m map[string]any) error {
	var names enterpriseNames
	renamed := map[string]string{}
	for k := range m {
		if rfc := names.read(k); rfc != k {
			renamed[k] = rfc
		}
	}
	if err := names.err(); err != nil {
		return err
	}
	for k, rfc := range renamed {
		if _, taken := m[rfc]; taken {
			return invalidSyntax(rfc + " is given more than once (names are compared without case)")
		}
		m[rfc] = m[k]
		delete(m, k)
	}
	return nil
}

// oneEnterpriseNameInOps is oneEnterpriseName for a PATCH: the paths of
// its operations, and the keys of a value without a path (each a path),
// across all of them. Operations apply in order (RFC 7644 §3.5.2), but an
// identity provider that names the extension both ways in one request
// means one of them by mistake, as in a POST.
func oneEnterpriseNameInOps(list []any) error {
	var names enterpriseNames
	for _, o := range list {
		op, ok := o.(map[string]any)
		if !ok {
			continue // normalizeOps refuses it
		}
		if k := key(op, "path"); op[k] != nil {
			if path, ok := op[k].(string); ok {
				op[k] = names.read(path)
			}
			continue
		}
		value, ok := op[key(op, "value")].(map[string]any)
		if !ok {
			continue
		}
		for k := range value {
			names.read(k)
		}
		if err := names.err(); err != nil {
			return err
		}
		if err := oneEnterpriseName(value); err != nil {
			return err
		}
	}
	return names.err()
}

// givenTwice refuses an attribute that m gives both inside its parent and
// as a path of its own beside it: "name":{"givenName":"A"} with
// "name.givenName":"B", or the enterprise extension's object with
// "urn:…:User:department". The path was merged over the object
// (normalizeResource), so one of the two values was dropped without a
// word, whichever the identity provider meant. Only differing values
// are refused.
func givenTwice(m map[string]any) error {
	for k, v := range m {
		var parent, sub string
		switch {
		case hasPrefixFold(k, enterpriseURN+":"):
			parent, sub = enterpriseURN, k[len(enterpriseURN)+1:]
		case strings.HasPrefix(strings.ToLower(k), "urn:"):
			continue
		default:
			var ok bool
			if parent, sub, ok = strings.Cut(k, "."); !ok {
				continue
			}
		}
		sub, _, _ = strings.Cut(sub, ".")
		p, ok := m[key(m, parent)]
		if !ok || p == nil || v == nil {
			continue
		}
		obj, isObject := p.(map[string]any)
		if !isObject {
			return invalidSyntax(fmt.Sprintf("%s is given twice: as %s, and as %s beside it", k, key(m, parent), k))
		}
		// The same value both ways loses nothing: taken as it is.
		if x, ok := obj[key(obj, sub)]; ok && x != nil && !reflect.DeepEqual(x, v) {
			return invalidSyntax(fmt.Sprintf("%s is given twice: as %s in %s, and as %s beside it", k, key(obj, sub), key(m, parent), k))
		}
	}
	return nil
}

// refusal names the attribute of obj that elimity-com/scim refuses, and
// what is wrong with it: the library's own error says only "A required
// value was missing, or the value specified was not compatible with the
// operation or attribute type, or resource schema", whichever attribute it
// was. It asks the library again, one attribute at a time (a schema of that
// attribute alone), so the attribute it names is one the library refuses,
// by the library's own rules. prefix is put before the names (an
// extension's URN). Should it find none, the library's error stands.
func refusal(attrs schema.Attributes, obj map[string]any, prefix string, err *scimerrors.ScimError) error {
	if scimType, detail := fault(attrs, obj, prefix); detail != "" {
		return &problem{status: http.StatusBadRequest, scimType: scimType, detail: detail}
	}
	return fromLibrary(err)
}

// fault finds the first of attrs that the library refuses in obj, and says
// what is wrong with it; "" when every one passes alone.
func fault(attrs schema.Attributes, obj map[string]any, prefix string) (scimType, detail string) {
	for _, a := range attrs {
		if _, err := (schema.Schema{Attributes: schema.Attributes{a}}).Validate(obj); err == nil {
			continue
		}
		name := prefix + a.Name()
		var v any
		n := 0
		for k, x := range obj {
			if strings.EqualFold(k, a.Name()) {
				v, n = x, n+1
			}
		}
		switch {
		case n > 1:
			return "invalidSyntax", name + " is given more than once (attribute names are compared without case)"
		case v == nil:
			return "invalidValue", name + " is required"
		case !a.MultiValued():
			return faultIn(a, name, name, v)
		}
		list, ok := v.([]any)
		switch {
		case !ok:
			if m, isObject := v.(map[string]any); isObject && a.HasSubAttributes() {
				// The library takes one object for a list of them.
				if scimType, detail := fault(a.SubAttributes(), m, name+"."); detail != "" {
					return scimType, detail
				}
			}
			return "invalidValue", name + " must be a list"
		case len(list) == 0:
			return "invalidValue", name + " is required: it needs at least one value"
		}
		for _, el := range list {
			if _, err := a.ValidateSingular(el); err != nil {
				return faultIn(a, name, "each value of "+name, el)
			}
		}
	}
	return "", ""
}

// faultIn says what is wrong with v, a value of a named name; label names
// it in the sentence.
func faultIn(a schema.CoreAttribute, name, label string, v any) (string, string) {
	if a.HasSubAttributes() {
		if m, ok := v.(map[string]any); ok {
			if scimType, detail := fault(a.SubAttributes(), m, name+"."); detail != "" {
				return scimType, detail
			}
		}
		return "invalidValue", label + " must be an object"
	}
	what := map[string]string{
		"boolean": "true or false", "integer": "a whole number", "decimal": "a number",
		"dateTime": "a date and time such as 2026-01-02T15:04:05Z", "binary": "base64 text",
	}[a.AttributeType()]
	if what == "" {
		what = "a string"
	}
	return "invalidValue", label + " must be " + what
}

// readPatch reads the body of a PATCH, once (RFC 7644 §3.5.2): it mends
// the operations identity providers send (normalizeOps) and validates each
// path and value against the schema.
func (rt resourceType) readPatch(r *http.Request) ([]elimity.PatchOperation, error) {
	m, err := readObject(r)
	if err != nil {
		return nil, err
	}
	schemas, _ := m[key(m, "schemas")].([]any)
	if len(schemas) != 1 || schemas[0] != patchOpURN {
		return nil, &problem{status: http.StatusBadRequest, scimType: "invalidValue", detail: `a PATCH body needs "schemas": ["` + patchOpURN + `"]`}
	}
	list, ok := m[key(m, "Operations")].([]any)
	if !ok || len(list) == 0 {
		return nil, &problem{status: http.StatusBadRequest, scimType: "invalidValue", detail: "a PATCH body needs Operations: a list of one or more operations"}
	}
	if len(list) > maxPatchOps {
		return nil, tooManyOps()
	}
	if _, ok := rt.byURN[enterpriseURN]; ok {
		if err := oneEnterpriseNameInOps(list); err != nil {
			return nil, err
		}
	}
	list, err = normalizeOps(list)
	if err != nil {
		return nil, invalidSyntax(err.Error())
	}
	if len(list) > maxPatchOps {
		return nil, tooManyOps()
	}
	for _, o := range list {
		// active has no "unassigned" (a user is active or not): removed, it
		// read as the default, true, and reactivated a deactivated user.
		if op, _ := o.(map[string]any); op["op"] == "remove" && strings.EqualFold(fmt.Sprint(op["path"]), "active") {
			return nil, invalidValue("active cannot be removed: replace it with true or false")
		}
	}
	ops := make([]elimity.PatchOperation, 0, len(list))
	for i, o := range list {
		op, err := rt.patchOp(o.(map[string]any))
		if err != nil {
			return nil, fmt.Errorf("operation %d: %w", i+1, err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// maxPatchOps bounds the operations of one PATCH, of a user or a group:
// each is validated against the schema and applied in the one transaction
// that holds the resource's row, so a body of a megabyte of operations
// held it for half a second. Identity providers send few operations and
// put many members in one: Entra ID one operation per changed attribute,
// and group membership as an add or a remove whose value lists the
// members; Okta one or two. The members in an operation's value are not
// bounded here (a group change costs what its members cost, as a POST of
// them does, within the body's size).
const maxPatchOps = 100

// tooManyOps refuses a PATCH past maxPatchOps. RFC 7644 §3.12 has no
// scimType for it: tooMany is for a filter or search that yields more
// results than the server will process, so it is invalidValue, as for
// other values a PATCH may not hold.
func tooManyOps() error {
	return invalidValue(fmt.Sprintf("a PATCH may have at most %d operations (an add or replace without a path counts one for each attribute of its value); send the rest in another request",
		maxPatchOps))
}

// patchOp validates one operation, as elimity-com/scim's PATCH validator
// does (its own is internal to the library): the path against the schema,
// the value against the attribute the path names.
func (rt resourceType) patchOp(o map[string]any) (elimity.PatchOperation, error) {
	kind, _ := o["op"].(string)
	kind = strings.ToLower(kind)
	rawPath, hasPath := o["path"]
	path, isString := rawPath.(string)
	if hasPath && rawPath != nil && !isString {
		return elimity.PatchOperation{}, invalidPath("the path must be a string")
	}
	value := o["value"]
	if m, ok := value.(map[string]any); ok {
		// Okta repeats the id in a value; it cannot change.
		delete(m, key(m, "id"))
	}
	op := elimity.PatchOperation{Op: kind}
	if path != "" {
		p, err := rt.path(path)
		if err != nil {
			return op, err
		}
		op.Path = &p
	}
	var err error
	switch kind {
	case elimity.PatchOperationAdd, elimity.PatchOperationReplace:
		if value == nil {
			return op, invalidValue(kind + " needs a value")
		}
		op.Value, err = rt.validateValue(op.Path, value, false)
	case elimity.PatchOperationRemove:
		if op.Path == nil {
			return op, &problem{status: http.StatusBadRequest, scimType: "noTarget", detail: "remove needs a path"}
		}
		if value != nil {
			op.Value, err = rt.validateValue(op.Path, value, true)
		}
	default:
		return op, invalidValue(fmt.Sprintf("op must be add, remove or replace, not %q", kind))
	}
	return op, err
}

// path reads a PATCH path and checks it against the schema as
// elimity-com/scim's PathValidator does (the core schema first, then each
// extension), but read with readPath rather than the library's parser.
func (rt resourceType) path(raw string) (filter.Path, error) {
	p, err := readPath(raw)
	if err != nil {
		return p, invalidPath(err.Error())
	}
	if p.ValueExpression != nil {
		if err := unescapeStrings(p.ValueExpression); err != nil {
			return p, invalidPath(err.Error())
		}
	}
	for _, s := range append([]schema.Schema{rt.schema}, rt.extensions...) {
		if !pathIn(s, p) {
			continue
		}
		if p.ValueExpression != nil {
			attr, err := rt.attribute(p.AttributePath)
			if err != nil {
				return p, err
			}
			if err := checkPathFilter(attr, p.ValueExpression); err != nil {
				return p, err
			}
		}
		return p, nil
	}
	return p, invalidPath(fmt.Sprintf("the path %q names no attribute of the schema", raw))
}

// caseExact reports whether a sub-attribute's strings ("emails.value")
// compare with case.
func (rt resourceType) caseExact(path string) bool { return rt.exact[strings.ToLower(path)] }

// checkPathFilter refuses, as 400 invalidFilter, a comparison in a PATCH
// path's value filter that RFC 7644 §3.4.2.2 does not define for the type
// of the sub-attribute it names, so that every filter let through is
// evaluated by matches as the RFC says: no ordering of booleans (gt, ge,
// lt, le "MUST" fail on them), co, sw and ew only on strings, and a value
// of the sub-attribute's type (or null, for eq and ne).
func checkPathFilter(attr schema.CoreAttribute, expr filter.Expression) error {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if err := checkPathFilter(attr, e.Left); err != nil {
			return err
		}
		return checkPathFilter(attr, e.Right)
	case *filter.NotExpression:
		return checkPathFilter(attr, e.Expression)
	case *filter.ValuePath:
		return invalidFilter("a filter in a path cannot hold another [ ]")
	case *filter.AttributeExpression:
		sub, err := subAttribute(attr, e.AttributePath.AttributeName)
		if err != nil {
			return err
		}
		op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
		name := attr.Name() + "." + sub.Name()
		if op == filter.PR {
			return nil
		}
		if e.CompareValue == nil {
			if op != filter.EQ && op != filter.NE {
				return invalidFilter(fmt.Sprintf("%s %s null: null compares only with eq or ne", name, op))
			}
			return nil
		}
		var ok bool
		want := "a string in quotes"
		switch sub.AttributeType() {
		case "boolean":
			_, ok = e.CompareValue.(bool)
			want = "true or false"
			if ok && op != filter.EQ && op != filter.NE {
				return invalidFilter(fmt.Sprintf("%s is true or false: it compares with eq, ne or pr, not %s", name, op))
			}
		case "integer", "decimal":
			_, ok = number(e.CompareValue)
			want = "a number"
			if ok && (op == filter.CO || op == filter.SW || op == filter.EW) {
				return invalidFilter(fmt.Sprintf("%s is a number: it compares with eq, ne, gt, ge, lt, le or pr, not %s", name, op))
			}
		default: // string, reference, binary, dateTime
			_, ok = e.CompareValue.(string)
		}
		if !ok {
			return invalidFilter(fmt.Sprintf("%s compares with %s", name, want))
		}
	}
	return nil
}

// pathIn reports whether s has the attribute p names, and the attributes
// its value filter compares.
func pathIn(s schema.Schema, p filter.Path) bool {
	if uri := p.AttributePath.URI(); uri != "" && uri != s.ID {
		return false
	}
	attr, ok := s.Attributes.ContainsAttribute(p.AttributePath.AttributeName)
	if !ok {
		return false
	}
	for _, sub := range []string{p.AttributePath.SubAttributeName(), p.SubAttributeName()} {
		if _, ok := attr.SubAttributes().ContainsAttribute(sub); sub != "" && !ok {
			return false
		}
	}
	return p.ValueExpression == nil || elimityfilter.NewFilterValidator(p.ValueExpression,
		schema.Schema{ID: s.ID, Attributes: elimityfilter.MultiValuedFilterAttributes(attr)}).Validate() == nil
}

// validateValue checks an operation's value against the attribute its
// path names; without a path, each key of the value is a path.
// Multi-valued attributes come back as a list.
func (rt resourceType) validateValue(path *filter.Path, value any, remove bool) (any, error) {
	if path == nil {
		attrs, ok := value.(map[string]any)
		if !ok {
			return nil, invalidValue("an operation without a path needs an object value")
		}
		out := make(map[string]any, len(attrs))
		for k, v := range attrs {
			p, err := readPath(k)
			if err != nil {
				return nil, invalidPath(err.Error())
			}
			if out[k], err = rt.validateValue(&p, v, remove); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	attr, err := rt.attribute(path.AttributePath)
	if err != nil {
		return nil, err
	}
	if path.ValueExpression != nil {
		sub := attr.SubAttributes()
		if remove {
			sub = elimityfilter.MultiValuedFilterAttributes(attr)
		}
		if err := elimityfilter.NewFilterValidator(path.ValueExpression, schema.Schema{Attributes: sub}).Validate(); err != nil {
			return nil, invalidPath(fmt.Sprintf("the filter of %s: %v", path, err))
		}
	}
	if name := path.SubAttributeName(); name != "" {
		if attr, err = subAttribute(attr, name); err != nil {
			return nil, err
		}
	}
	one := func(v any) (any, error) {
		out, serr := attr.ValidateSingular(v)
		if serr != nil {
			return nil, invalidValue(fmt.Sprintf("a bad value for %s", path))
		}
		return out, nil
	}
	if !attr.MultiValued() {
		return one(value)
	}
	list, ok := value.([]any)
	if !ok {
		list = []any{value}
	}
	out := make([]any, len(list))
	for i, v := range list {
		if out[i], err = one(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// attribute finds the attribute a path names, in the core schema or the
// extension its URN prefix names.
func (rt resourceType) attribute(p filter.AttributePath) (schema.CoreAttribute, error) {
	s := rt.schema
	if uri := p.URI(); uri != "" {
		var ok bool
		if s, ok = rt.byURN[uri]; !ok {
			return schema.CoreAttribute{}, invalidPath(fmt.Sprintf("no schema %s", uri))
		}
	}
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name(), p.AttributeName) {
			if sub := p.SubAttributeName(); sub != "" {
				return subAttribute(a, sub)
			}
			return a, nil
		}
	}
	return schema.CoreAttribute{}, invalidPath(fmt.Sprintf("no attribute %s", p))
}

func subAttribute(a schema.CoreAttribute, name string) (schema.CoreAttribute, error) {
	for _, s := range a.SubAttributes() {
		if strings.EqualFold(s.Name(), name) {
			return s, nil
		}
	}
	return schema.CoreAttribute{}, invalidPath(fmt.Sprintf("%s has no sub-attribute %s", a.Name(), name))
}

func invalidPath(detail string) error {
	return &problem{status: http.StatusBadRequest, scimType: "invalidPath", detail: detail}
}

func invalidFilter(detail string) error {
	return &problem{status: http.StatusBadRequest, scimType: "invalidFilter", detail: detail}
}

func invalidValue(detail string) error {
	return &problem{status: http.StatusBadRequest, scimType: "invalidValue", detail: detail}
}

// fromLibrary turns one of elimity-com/scim's validation errors into a
// problem with its status and scimType.
func fromLibrary(err *scimerrors.ScimError) error {
	status := err.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	detail := err.Detail
	if detail == "" {
		detail = "the resource does not match its schema"
	}
	return &problem{status: status, scimType: string(err.ScimType), detail: detail}
}
