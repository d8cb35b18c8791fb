package bulk

import (
	"fmt"
	"strings"
	"unicode"
)

// Field is what a column of the spreadsheet holds.
type Field string

const (
	FieldEmail     Field = "email"
	FieldFirstName Field = "first_name"
	FieldLastName  Field = "last_name"
	FieldFullName  Field = "full_name" // split into first and last name
	FieldRole      Field = "role"
)

// Fields returns every field a column can map to, in the order pages
// show them.
func Fields() []Field {
	return []Field{FieldEmail, FieldFirstName, FieldLastName, FieldFullName, FieldRole}
}

// Label is how pages name the field.
func (f Field) Label() string {
	switch f {
	case FieldEmail:
		return "Email"
	case FieldFirstName:
		return "First name"
	case FieldLastName:
		return "Last name"
	case FieldFullName:
		return "Full name"
	case FieldRole:
		return "Role"
	}
	return string(f)
}

// headerNames are the headings people give each field, in headerKey form
// (lowercase, without spaces, hyphens, underscores or dots).
var headerNames = map[string]Field{
	"email": FieldEmail, "emailaddress": FieldEmail, "mail": FieldEmail, "mailaddress": FieldEmail,
	"workemail": FieldEmail, "businessemail": FieldEmail, "username": FieldEmail, "login": FieldEmail,
	"firstname": FieldFirstName, "givenname": FieldFirstName, "first": FieldFirstName, "forename": FieldFirstName,
	"lastname": FieldLastName, "surname": FieldLastName, "familyname": FieldLastName, "last": FieldLastName,
	"fullname": FieldFullName, "name": FieldFullName, "displayname": FieldFullName,
	"role": FieldRole,
}

// headerKey compares headings ignoring case, spaces and punctuation:
// "E-mail", "Email address" and "email_address" are one name.
func headerKey(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Mapping says which column (0-based) holds each field; a field that no
// column holds is absent.
type Mapping map[Field]int

// Column returns the column of f, or -1.
func (m Mapping) Column(f Field) int {
	if c, ok := m[f]; ok {
		return c
	}
	return -1
}

// maxHeadingShown bounds a heading named back as unknown: a cell may hold
// 32,767 characters, and the answer naming them is shown in the console,
// printed by the CLI and kept a day for API retries.
const maxHeadingShown = 100

func shorten(h string) string {
	if r := []rune(h); len(r) > maxHeadingShown {
		return string(r[:maxHeadingShown]) + "…"
	}
	return h
}

// MapHeader guesses the mapping from the header's names, and returns the
// headings it did not recognise (reported, not fatal; each cut to 100
// characters). The first column
// that names a field wins.
func MapHeader(header []string) (Mapping, []string) {
	m := Mapping{}
	var unknown []string
	for i, h := range header {
		f, ok := headerNames[headerKey(h)]
		if !ok {
			if h = strings.TrimSpace(h); h != "" {
				unknown = append(unknown, shorten(h))
			}
			continue
		}
		if _, taken := m[f]; !taken {
			m[f] = i
		}
	}
	return m, unknown
}

// Check says what is wrong with a mapping for a header of width columns.
func (m Mapping) Check(width int) error {
	for f, c := range m {
		if c < 0 || c >= width {
			return fileErrorf("the column chosen for %s is not in the file", f.Label())
		}
	}
	if _, ok := m[FieldEmail]; !ok {
		return fileErrorf("no column holds the email address: name one \"Email\" (the template shows the headings admit knows)")
	}
	return nil
}

// Row is one person as the spreadsheet gives them.
type Row struct {
	Line      int    `json:"line"`
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Role      string `json:"role,omitempty"`
}

// Rows applies the mapping to the table's records.
func (t *Table) Rows(m Mapping) ([]Row, error) {
	if err := m.Check(len(t.Header)); err != nil {
		return nil, err
	}
	cell := func(rec []string, f Field) string {
		c := m.Column(f)
		if c < 0 || c >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[c])
	}
	rows := make([]Row, len(t.Records))
	for i, rec := range t.Records {
		r := Row{Line: t.Lines[i], Email: cell(rec, FieldEmail), FirstName: cell(rec, FieldFirstName), LastName: cell(rec, FieldLastName), Role: cell(rec, FieldRole)}
		if full := cell(rec, FieldFullName); full != "" && r.FirstName == "" && r.LastName == "" {
			r.FirstName, r.LastName = SplitName(full)
		}
		rows[i] = r
	}
	return rows, nil
}

// SplitName splits a full name at its last space: "Ada King Lovelace"
// gives "Ada King" and "Lovelace". "Lovelace, Ada" (the directory form)
// gives "Ada" and "Lovelace".
func SplitName(full string) (first, last string) {
	full = strings.Join(strings.Fields(full), " ")
	if l, f, ok := strings.Cut(full, ","); ok {
		return strings.TrimSpace(f), strings.TrimSpace(l)
	}
	i := strings.LastIndexByte(full, ' ')
	if i < 0 {
		return full, ""
	}
	return full[:i], full[i+1:]
}

// ParseMapping reads a mapping from field -> column number pairs as a
// form sends them ("" or "-1" leaves the field out).
func ParseMapping(get func(Field) string) (Mapping, error) {
	m := Mapping{}
	for _, f := range Fields() {
		v := strings.TrimSpace(get(f))
		if v == "" || v == "-1" {
			continue
		}
		var c int
		if _, err := fmt.Sscan(v, &c); err != nil || c < 0 {
			return nil, fileErrorf("the column chosen for %s is not a column of the file", f.Label())
		}
		m[f] = c
	}
	return m, nil
}
