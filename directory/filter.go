package directory

import (
	"fmt"
	"time"
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
	FieldMember: {KindString, true},
}

// KindOfField returns the type of a field and whether it is compared with case.
func KindOfField(f FilterField) (FieldKind, bool, bool) {
	k, ok := fieldKinds[f]
	return k.kind, k.caseExact, ok
}

// Check reports whether the filter can be evaluated: known fields, values
// of the field's type, operators that make sense for it (RFC 7644: no
// ordering of booleans, no substrings of times).
func (f *Filter) Check() error {
	if f == nil {
		return nil
	}
	switch f.Op {
	case OpAnd, OpOr:
		if f.Left == nil || f.Right == nil {
			return InvalidError(fmt.Sprintf("%s needs two sides", f.Op))
		}
		if err := f.Left.Check(); err != nil {
			return err
		}
		return f.Right.Check()
	case OpNot:
		if f.Left == nil {
			return InvalidError("not needs a filter")
		}
		return f.Left.Check()
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
		if _, ok := f.Value.(string); !ok {
			return InvalidError(fmt.Sprintf("%s compares with a string", f.Field))
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
