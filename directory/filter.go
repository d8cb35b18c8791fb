package directory

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter selects an account's SCIM users: a comparison of one field with
// a value, or and/or/not of other filters. Package scim builds it from a
// SCIM filter expression (RFC 7644 §3.4.2.2); the store turns it into SQL,
// so filtering never loads users to test them one by one.
type Filter struct {
	Op    FilterOp
	Field FilterField // comparisons only
	Value any         // string, bool or time.Time; nil for pr
	Left  *Filter     // and, or, not
	Right *Filter     // and, or
}

// FilterOp is a comparison or a logical operator.
type FilterOp string

const (
	OpEq, OpNe, OpCo, OpSw, OpEw, OpPr FilterOp = "eq", "ne", "co", "sw", "ew", "pr"
	OpGt, OpGe, OpLt, OpLe             FilterOp = "gt", "ge", "lt", "le"
	OpAnd, OpOr, OpNot                 FilterOp = "and", "or", "not"
)

// FilterField is a user attribute a filter can compare.
type FilterField string

const (
	FieldID           FilterField = "id"
	FieldUserName     FilterField = "userName"
	FieldExternalID   FilterField = "externalId"
	FieldEmail        FilterField = "emails.value"
	FieldEmailType    FilterField = "emails.type"    // of the email emails.value matches
	FieldEmailPrimary FilterField = "emails.primary" // of the email emails.value matches
	FieldEmailDisplay FilterField = "emails.display" // of the email emails.value matches
	FieldDisplayName  FilterField = "displayName"
	FieldGivenName    FilterField = "name.givenName"
	FieldFamilyName   FilterField = "name.familyName"
	FieldActive       FilterField = "active"
	FieldLastModified FilterField = "meta.lastModified"
	FieldMember       FilterField = "members.value" // groups only: the SCIM id of a member
)

// FieldKind is the type of a field's values.
type FieldKind int

const (
	KindString FieldKind = iota
	KindBool
	KindTime
)

// fieldKinds gives each field its type, and says whether its strings are
// compared exactly (RFC 7643 "caseExact"); the others ignore case.
var fieldKinds = map[FilterField]struct {
	kind      FieldKind
	caseExact bool
}{
	FieldID: {KindString, true}, FieldUserName: {KindString, false}, FieldExternalID: {KindString, true},
	FieldEmail: {KindString, false}, FieldDisplayName: {KindString, false}, FieldGivenName: {KindString, false},
	FieldFamilyName: {KindString, false}, FieldActive: {KindBool, false}, FieldLastModified: {KindTime, false},
	FieldMember: {KindString, true}, FieldEmailType: {KindString, false}, FieldEmailPrimary: {KindBool, false},
	FieldEmailDisplay: {KindString, false},
}

// KindOfField returns the type of a field and whether it is compared with case.
func KindOfField(f FilterField) (FieldKind, bool, bool) {
	k, ok := fieldKinds[f]
	return k.kind, k.caseExact, ok
}

// A filter is bounded before any SQL is made of it. Every comparison and
// every and, or and not is a level of the SQL expression the store makes:
// SQLite refuses one deeper than 1000 ("Expression tree is too large",
// SQLITE_MAX_EXPR_DEPTH), PostgreSQL's parser runs out of room near 10,000
// ("memory exhausted"), and either would be a 500 for what is the client's
// mistake (DESIGN rule 9). Identity providers send one comparison, or two
// joined by and. These are the one home of the bound: package scim stops
// reading a filter at them, and Check refuses a filter past them, however
// it was made.
const (
	// MaxFilterTerms is the most comparisons a filter may have, the most
	// of and, or and not, and the deepest parentheses may nest. A filter at
	// the limit makes an SQL expression some 200 levels deep.
	MaxFilterTerms = 100
	// MaxFilterValue is the longest string a filter compares with, in
	// characters: no attribute a filter reaches holds more than 256.
	MaxFilterValue = 1024
)

// FilterTooLargeError is the refusal of a filter past MaxFilterTerms.
func FilterTooLargeError() error {
	return InvalidError(fmt.Sprintf("the filter is too large: a filter may have at most %[1]d comparisons, at most %[1]d of and, or and not, and parentheses nested at most %[1]d deep",
		MaxFilterTerms))
}

// Check reports whether the filter can be evaluated: known fields, values
// of the field's type, operators that make sense for it (RFC 7644: no
// ordering of booleans, no substrings of times), and a size within
// MaxFilterTerms and MaxFilterValue.
func (f *Filter) Check() error {
	var n filterSize
	return f.check(&n)
}

// filterSize counts what Check has seen of a filter, so that it stops at
// the bound rather than walking a tree of any depth.
type filterSize struct{ comparisons, operators int }

func (f *Filter) check(n *filterSize) error {
	if f == nil {
		return nil
	}
	switch f.Op {
	case OpAnd, OpOr, OpNot:
		if n.operators++; n.operators > MaxFilterTerms {
			return FilterTooLargeError()
		}
	default:
		if n.comparisons++; n.comparisons > MaxFilterTerms {
			return FilterTooLargeError()
		}
	}
	switch f.Op {
	case OpAnd, OpOr:
		if f.Left == nil || f.Right == nil {
			return InvalidError(fmt.Sprintf("%s needs two sides", f.Op))
		}
		if err := f.Left.check(n); err != nil {
			return err
		}
		return f.Right.check(n)
	case OpNot:
		if f.Left == nil {
			return InvalidError("not needs a filter")
		}
		return f.Left.check(n)
	}
	k, ok := fieldKinds[f.Field]
	if !ok {
		return InvalidError(fmt.Sprintf("filtering on %q is not supported", f.Field))
	}
	if f.Op == OpPr {
		return nil
	}
	switch k.kind {
	case KindString:
		s, ok := f.Value.(string)
		if !ok {
			return InvalidError(fmt.Sprintf("%s compares with a string", f.Field))
		}
		if utf8.RuneCountInString(s) > MaxFilterValue {
			return InvalidError(fmt.Sprintf("a filter compares with strings of at most %d characters", MaxFilterValue))
		}
		// Neither database stores such a string; PostgreSQL refuses to
		// take one as a parameter at all.
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return InvalidError(fmt.Sprintf("%s compares with text: valid UTF-8 without NUL characters", f.Field))
		}
	case KindBool:
		if _, ok := f.Value.(bool); !ok || (f.Op != OpEq && f.Op != OpNe) {
			return InvalidError(fmt.Sprintf("%s is true or false, compared with eq or ne", f.Field))
		}
	case KindTime:
		if _, ok := f.Value.(time.Time); !ok {
			return InvalidError(fmt.Sprintf("%s compares with a date and time like 2026-01-02T15:04:05Z", f.Field))
		}
		if f.Op == OpCo || f.Op == OpSw || f.Op == OpEw {
			return InvalidError(fmt.Sprintf("%s cannot be compared with %s", f.Field, f.Op))
		}
	}
	switch f.Op {
	case OpEq, OpNe, OpCo, OpSw, OpEw, OpGt, OpGe, OpLt, OpLe:
		return nil
	}
	return InvalidError(fmt.Sprintf("unknown operator %q", f.Op))
}
