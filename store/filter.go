package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/admit-dev/admit/directory"
)

// filterColumn is the SQL for a filter field; keyed columns hold
// lowercased values, for the fields SCIM compares without case.
var filterColumn = map[directory.FilterField]string{
	directory.FieldID:           "m.scim_id",
	directory.FieldUserName:     "m.user_name_key",
	directory.FieldExternalID:   "m.external_id",
	directory.FieldEmail:        "m.scim_email_key",
	directory.FieldEmailType:    "m.scim_email_type_key",
	directory.FieldEmailPrimary: "m.scim_email_primary",
	directory.FieldEmailDisplay: "m.scim_email_display_key",
	directory.FieldDisplayName:  "LOWER(m.display_name)",
	directory.FieldGivenName:    "LOWER(m.given_name)",
	directory.FieldFamilyName:   "LOWER(m.family_name)",
	directory.FieldActive:       "m.status",
	directory.FieldLastModified: "m.updated_at",
}

// groupFilterColumn is the SQL of the fields a group filter may use.
var groupFilterColumn = map[directory.FilterField]string{
	directory.FieldID:           "g.id",
	directory.FieldDisplayName:  "g.display_key",
	directory.FieldExternalID:   "g.external_id",
	directory.FieldLastModified: "g.updated_at",
	directory.FieldMember:       memberExists,
}

// memberExists stands for "the group has the member": Entra ID asks
// whether a user is in a group with members[value eq "id"] before adding
// them. It is one primary-key probe, never a scan of the group.
const memberExists = `EXISTS (SELECT 1 FROM group_members gm JOIN memberships mm ON mm.user_id = gm.user_id AND mm.account_id = g.account_id
	WHERE gm.group_id = g.id AND mm.scim_id = ?)`

// filterSQL turns a user filter into a WHERE condition with ? placeholders.
// Values are always arguments, never SQL text.
func (s *Store) filterSQL(f *directory.Filter) (string, []any, error) {
	return s.filterSQLOn(f, filterColumn)
}

func (s *Store) filterSQLOn(f *directory.Filter, columns map[directory.FilterField]string) (string, []any, error) {
	if f == nil {
		return "1 = 1", nil, nil
	}
	switch f.Op {
	case directory.OpAnd, directory.OpOr:
		l, la, err := s.filterSQLOn(f.Left, columns)
		if err != nil {
			return "", nil, err
		}
		r, ra, err := s.filterSQLOn(f.Right, columns)
		if err != nil {
			return "", nil, err
		}
		return "(" + l + " " + strings.ToUpper(string(f.Op)) + " " + r + ")", append(la, ra...), nil
	case directory.OpNot:
		l, la, err := s.filterSQLOn(f.Left, columns)
		if err != nil {
			return "", nil, err
		}
		return "NOT (" + l + ")", la, nil
	}
	col, ok := columns[f.Field]
	kind, caseExact, _ := directory.KindOfField(f.Field)
	if !ok {
		return "", nil, directory.InvalidError(fmt.Sprintf("filtering on %q is not supported", f.Field))
	}
	if col == memberExists {
		switch f.Op {
		case directory.OpEq:
			return col, []any{f.Value}, nil
		case directory.OpNe:
			return "NOT " + col, []any{f.Value}, nil
		}
		return "", nil, directory.InvalidError("members.value is compared with eq or ne")
	}
	if kind == directory.KindBool && f.Field != directory.FieldActive {
		// A boolean column holds no "absent": pr asks for true, as for active.
		want := f.Op == directory.OpPr || f.Value == true
		if f.Op == directory.OpNe {
			want = !want
		}
		return col + " = ?", []any{want}, nil
	}
	if kind == directory.KindBool {
		active := f.Op == directory.OpPr || f.Value == true
		if f.Op == directory.OpNe {
			active = !active
		}
		if active {
			return col + " = 'active'", nil, nil
		}
		return col + " <> 'active'", nil, nil
	}
	if f.Op == directory.OpPr {
		if kind == directory.KindTime {
			return col + " IS NOT NULL", nil, nil
		}
		return col + " <> ''", nil, nil
	}
	var v any = f.Value
	if str, ok := f.Value.(string); ok && !caseExact {
		v = strings.ToLower(str)
	}
	if t, ok := f.Value.(time.Time); ok {
		v = t.UTC()
	}
	switch f.Op {
	case directory.OpEq:
		return col + " = ?", []any{v}, nil
	case directory.OpNe:
		return col + " <> ?", []any{v}, nil
	case directory.OpGt:
		return col + " > ?", []any{v}, nil
	case directory.OpGe:
		return col + " >= ?", []any{v}, nil
	case directory.OpLt:
		return col + " < ?", []any{v}, nil
	case directory.OpLe:
		return col + " <= ?", []any{v}, nil
	case directory.OpSw:
		// A range, not LIKE: no wildcard escaping, the same in both
		// databases, and an index serves it.
		str := v.(string)
		return "(" + col + " >= ? AND " + col + " < ?)", []any{str, str + maxKey}, nil
	case directory.OpCo:
		return s.dialect.contains(col), []any{v}, nil
	case directory.OpEw:
		str := v.(string)
		if str == "" {
			return "1 = 1", nil, nil
		}
		return s.dialect.endsWith(col, utf8.RuneCountInString(str)), []any{str}, nil
	}
	return "", nil, directory.InvalidError(fmt.Sprintf("unknown operator %q", f.Op))
}
