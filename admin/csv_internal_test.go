package admin

import "testing"

// TestCSVCell: a cell a spreadsheet would run as a formula (it begins with
// = + - @, a tab or a carriage return) is made text; nothing else changes.
func TestCSVCell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"ann@acme.example", "ann@acme.example"},
		{"=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{" =1", " =1"},
		{"'=1", "'=1"},
		{"\n=1", "\n=1"},
		{"membership.deactivated", "membership.deactivated"},
		{`{"email":"=1"}`, `{"email":"=1"}`},
	} {
		if got := csvCell(tc.in); got != tc.want {
			t.Errorf("csvCell(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
