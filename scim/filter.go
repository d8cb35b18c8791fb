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
var userFields = map[string]directory.FilterField{
	"id": directory.FieldID, "username": directory.FieldUserName, "externalid": directory.FieldExternalID,
	"emails": directory.FieldEmail, "emails.value": directory.FieldEmail, "displayname": directory.FieldDisplayName,
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
	// ignored are the sub-attributes of value paths ("emails[type eq
	// "work"]") that always hold for the one value admit keeps.
	ignored map[string]bool
}

var (
	userFilter  = resourceFilter{userURN, userFields, map[string]bool{"emails.type": true, "emails.primary": true, "emails.display": true}}
	groupFilter = resourceFilter{groupURN, groupFields, map[string]bool{"members.type": true}}
)

// parseFilter turns a SCIM filter on users into a directory filter. An
// error is the client's: it becomes a 400 invalidFilter.
func parseFilter(raw string) (*directory.Filter, error) {
	return userFilter.parse(raw)
}

func (rf resourceFilter) parse(raw string) (*directory.Filter, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	if f := rf.lookup(raw); f != nil {
		return f, f.Check()
	}
	expr, err := readFilter(raw)
	if err != nil {
		return nil, err
	}
	f, always, err := rf.convert(expr, "")
	if err != nil {
		return nil, err
	}
	if f == nil && always {
		return nil, nil
	}
	return f, f.Check()
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
// conditions on sub-attributes admit keeps one value of (type, primary)
// hold for that value: they come back as always-true (nil, true).
func (rf resourceFilter) convert(expr filter.Expression, prefix string) (*directory.Filter, bool, error) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		l, lAlways, err := rf.convert(e.Left, prefix)
		if err != nil {
			return nil, false, err
		}
		r, rAlways, err := rf.convert(e.Right, prefix)
		if err != nil {
			return nil, false, err
		}
		if strings.EqualFold(string(e.Operator), "or") {
			if lAlways || rAlways {
				return nil, true, nil
			}
			return &directory.Filter{Op: directory.OpOr, Left: l, Right: r}, false, nil
		}
		switch {
		case lAlways && rAlways:
			return nil, true, nil
		case lAlways:
			return r, false, nil
		case rAlways:
			return l, false, nil
		}
		return &directory.Filter{Op: directory.OpAnd, Left: l, Right: r}, false, nil
	case *filter.NotExpression:
		inner, always, err := rf.convert(e.Expression, prefix)
		if err != nil {
			return nil, false, err
		}
		if always {
			return nil, false, fmt.Errorf("not() of a condition that always holds matches nothing useful")
		}
		return &directory.Filter{Op: directory.OpNot, Left: inner}, false, nil
	case *filter.ValuePath:
		name := strings.ToLower(e.AttributePath.AttributeName)
		if _, ok := rf.fields[name+".value"]; !ok || prefix != "" {
			return nil, false, fmt.Errorf("filtering inside %q is not supported", e.AttributePath.AttributeName)
		}
		return rf.convert(e.ValueFilter, name)
	case *filter.AttributeExpression:
		return rf.compare(*e, prefix)
	}
	return nil, false, fmt.Errorf("unsupported filter expression")
}

func (rf resourceFilter) compare(e filter.AttributeExpression, prefix string) (*directory.Filter, bool, error) {
	p := e.AttributePath
	if uri := p.URI(); uri != "" && !strings.EqualFold(uri, rf.urn) {
		return nil, false, fmt.Errorf("filtering on %s attributes is not supported", uri)
	}
	name := strings.ToLower(p.AttributeName)
	if sub := p.SubAttributeName(); sub != "" {
		name += "." + strings.ToLower(sub)
	}
	if prefix != "" {
		name = prefix + "." + name
		if rf.ignored[name] {
			return nil, true, nil
		}
	}
	field, ok := rf.fields[name]
	if !ok {
		return nil, false, fmt.Errorf("filtering on %q is not supported", p.String())
	}
	value := e.CompareValue
	if s, ok := value.(string); ok {
		var err error
		if value, err = unescape(s); err != nil {
			return nil, false, err
		}
	}
	f := &directory.Filter{Op: directory.FilterOp(strings.ToLower(string(e.Operator))), Field: field, Value: value}
	if field == directory.FieldLastModified {
		if s, ok := e.CompareValue.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, false, fmt.Errorf("meta.lastModified compares with a date and time like 2026-01-02T15:04:05Z")
			}
			f.Value = t
		}
	}
	return f, false, nil
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
