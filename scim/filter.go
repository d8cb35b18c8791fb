package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/admit-dev/admit/directory"
)

const userURN = "urn:ietf:params:scim:schemas:core:2.0:User"

// userFields maps attribute paths, compared without case as RFC 7644
// §3.10 asks, to directory filter fields. The elimity-com/scim library
// validates filters against its User schema, which lacks externalId and
// meta, and rejects value paths; admit parses filters itself instead.
// emails are the one address admit keeps of a member's (the primary one,
// else the work one, else the first) with what was sent of it: its type,
// primary and display.
var userFields = map[string]directory.FilterField{
	"id": directory.FieldID, "username": directory.FieldUserName, "externalid": directory.FieldExternalID,
	"emails": directory.FieldEmail, "emails.value": directory.FieldEmail, "emails.type": directory.FieldEmailType,
	"emails.primary": directory.FieldEmailPrimary, "emails.display": directory.FieldEmailDisplay,
	"displayname":    directory.FieldDisplayName,
	"name.givenname": directory.FieldGivenName, "name.familyname": directory.FieldFamilyName,
	"active": directory.FieldActive, "meta.lastmodified": directory.FieldLastModified,
}

// groupFields are the attribute paths a Groups filter may use.
var groupFields = map[string]directory.FilterField{
	"id": directory.FieldID, "displayname": directory.FieldDisplayName, "externalid": directory.FieldExternalID,
	"members": directory.FieldMember, "members.value": directory.FieldMember, "meta.lastmodified": directory.FieldLastModified,
}

// resourceFilter is what a filter may say of one resource type.
type resourceFilter struct {
	urn    string
	fields map[string]directory.FilterField
	// constants are the sub-attributes every value has the same string
	// of, as GET shows them (compared without case: RFC 7643 gives them
	// canonical values, caseExact false). A comparison with one is known
	// true or false before any resource is read.
	constants map[string]string
}

var (
	userFilter = resourceFilter{urn: userURN, fields: userFields}
	// Every member of a group is a user: GET shows "type": "User".
	groupFilter = resourceFilter{urn: groupURN, fields: groupFields, constants: map[string]string{"members.type": "User"}}
)

// truth is what is known of a condition before any resource is read.
type truth int

const (
	depends truth = iota // on the resource: its directory.Filter says
	always
	never
)

// parseFilter turns a SCIM filter on users into a directory filter. An
// error is the client's: it becomes a 400 invalidFilter.
func parseFilter(raw string) (*directory.Filter, truth, error) {
	return userFilter.parse(raw)
}

// parse reads a filter. nil and always: every resource matches; never: none
// does, and the database need not be asked.
func (rf resourceFilter) parse(raw string) (*directory.Filter, truth, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, always, nil
	}
	if f := rf.lookup(raw); f != nil {
		return f, depends, f.Check()
	}
	expr, err := readFilter(raw)
	if err != nil {
		return nil, depends, err
	}
	f, t, err := rf.convert(expr, "")
	if err != nil || t != depends {
		return nil, t, err
	}
	return f, depends, f.Check()
}

// lookupFields are the attributes identity providers look resources up
// by, one equality at a time, before every create and change.
var lookupFields = map[string]bool{"username": true, "externalid": true, "id": true, "displayname": true}

// lookup reads the filter an identity provider sends most, attr eq
// "value" on one of lookupFields, without the general parser (a quarter
// of a lookup's CPU in admit went to it); nil for anything else, which
// parse hands to the general parser. It reads exactly what that parser
// and convert make of such a filter (TestLookupFastPath).
func (rf resourceFilter) lookup(raw string) *directory.Filter {
	name, rest, ok := strings.Cut(raw, " ")
	if !ok {
		return nil
	}
	field, known := rf.fields[strings.ToLower(name)]
	if !known || !lookupFields[strings.ToLower(name)] {
		return nil
	}
	op, value, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(op, "eq") {
		return nil
	}
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' || strings.ContainsAny(value[1:len(value)-1], `"\`) ||
		strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == utf8.RuneError }) {
		return nil // escapes, control characters and everything else: the general parser
	}
	return &directory.Filter{Op: directory.OpEq, Field: field, Value: value[1 : len(value)-1]}
}

// convert maps one expression. Inside a value path (prefix "emails"),
// names are of the sub-attributes of the one value admit keeps. A
// condition known before any resource is read (a constant's) folds into
// the conditions around it.
func (rf resourceFilter) convert(expr filter.Expression, prefix string) (*directory.Filter, truth, error) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		l, lt, err := rf.convert(e.Left, prefix)
		if err != nil {
			return nil, depends, err
		}
		r, rt, err := rf.convert(e.Right, prefix)
		if err != nil {
			return nil, depends, err
		}
		// decides is the side's value that settles the whole: true for or,
		// false for and; the other value leaves the other side to say.
		decides, op := always, directory.OpOr
		if !strings.EqualFold(string(e.Operator), "or") {
			decides, op = never, directory.OpAnd
		}
		switch {
		case lt == decides || rt == decides:
			return nil, decides, nil
		case lt != depends:
			return r, rt, nil
		case rt != depends:
			return l, lt, nil
		}
		return &directory.Filter{Op: op, Left: l, Right: r}, depends, nil
	case *filter.NotExpression:
		inner, t, err := rf.convert(e.Expression, prefix)
		switch {
		case err != nil:
			return nil, depends, err
		case t == always:
			return nil, never, nil
		case t == never:
			return nil, always, nil
		}
		return &directory.Filter{Op: directory.OpNot, Left: inner}, depends, nil
	case *filter.ValuePath:
		name := strings.ToLower(e.AttributePath.AttributeName)
		if _, ok := rf.fields[name+".value"]; !ok || prefix != "" {
			return nil, depends, fmt.Errorf("filtering inside %q is not supported", e.AttributePath.AttributeName)
		}
		return rf.convert(e.ValueFilter, name)
	case *filter.AttributeExpression:
		return rf.compare(*e, prefix)
	}
	return nil, depends, fmt.Errorf("unsupported filter expression")
}

func (rf resourceFilter) compare(e filter.AttributeExpression, prefix string) (*directory.Filter, truth, error) {
	p := e.AttributePath
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, rf.urn) {
		return nil, depends, fmt.Errorf("filtering on %s attributes is not supported", uri)
	}
	name := strings.ToLower(p.AttributeName)
	if sub := p.SubAttributeName(); sub != "" {
		name += "." + strings.ToLower(sub)
	}
	if prefix != "" {
		name = prefix + "." + name
	}
	value := e.CompareValue
	if s, ok := value.(string); ok {
		var err error
		if value, err = unescape(s); err != nil {
			return nil, depends, err
		}
	}
	if c, ok := rf.constants[name]; ok {
		if _, isString := value.(string); !isString && e.Operator != filter.PR {
			return nil, depends, fmt.Errorf("%s compares with a string", name)
		}
		if compareValue(c, e.Operator, value, false) {
			return nil, always, nil
		}
		return nil, never, nil
	}
	field, ok := rf.fields[name]
	if !ok {
		return nil, depends, fmt.Errorf("filtering on %q is not supported", p.String())
	}
	f := &directory.Filter{Op: directory.FilterOp(strings.ToLower(string(e.Operator))), Field: field, Value: value}
	if field == directory.FieldLastModified {
		if s, ok := e.CompareValue.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, depends, fmt.Errorf("meta.lastModified compares with a date and time like 2026-01-02T15:04:05Z")
			}
			f.Value = t
		}
	}
	return f, depends, nil
}

// unescape returns a string of a filter or PATCH path as meant: the
// reader leaves its JSON escapes as they were sent (as the library's
// parser did).
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var v string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &v); err != nil {
		return "", fmt.Errorf("the string %q has a bad escape", s)
	}
	return v, nil
}

// unescapeStrings replaces the strings e compares with by what they mean
// (unescape), throughout, refusing a NUL, which no attribute holds (a
// filter's are refused by directory.Filter.Check).
func unescapeStrings(e filter.Expression) error {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if s, ok := e.CompareValue.(string); ok {
			v, err := unescape(s)
			if err != nil {
				return err
			}
			if strings.ContainsRune(v, 0) {
				return fmt.Errorf("the string %q holds a NUL (\\u0000), which no attribute may", s)
			}
			e.CompareValue = v
		}
	case *filter.LogicalExpression:
		if err := unescapeStrings(e.Left); err != nil {
			return err
		}
		return unescapeStrings(e.Right)
	case *filter.NotExpression:
		return unescapeStrings(e.Expression)
	case *filter.ValuePath:
		return unescapeStrings(e.ValueFilter)
	}
	return nil
}
