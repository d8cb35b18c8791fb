package bulk_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/admit-dev/admit/bulk"
)

func utf16Bytes(s string, bigEndian bool) []byte {
	var b []byte
	if bigEndian {
		b = []byte{0xFE, 0xFF}
	} else {
		b = []byte{0xFF, 0xFE}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return b
}

func xlsx(t testing.TB, password string, sheets map[string][][]string, order ...string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			t.Fatal(err)
		}
		for r, rec := range sheets[name] {
			row := make([]any, len(rec))
			for j, c := range rec {
				row[j] = c
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+1)
			if err := sw.SetRow(cell, row); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		var out bytes.Buffer
		if err := f.Write(&out, excelize.Options{Password: password}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	return buf.Bytes()
}

var ada = bulk.Row{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Role: "admin"}

func TestReadFormats(t *testing.T) {
	plain := "Email,First name,Last name,Role\nada@example.com,Ada,Lovelace,admin\n"
	people := map[string][][]string{
		"Other":  {{"nothing", "here"}},
		"People": {{"E-mail", "Given name", "Surname", "Role"}, {"ada@example.com", "Ada", "Lovelace", "admin"}},
	}
	tests := []struct {
		name  string
		data  []byte
		sheet string
		want  []bulk.Row
	}{
		{"utf-8", []byte(plain), "", []bulk.Row{withLine(ada, 2)}},
		{"utf-8 with BOM", append([]byte("\ufeff"), plain...), "", []bulk.Row{withLine(ada, 2)}},
		{"utf-16 LE with BOM", utf16Bytes(plain, false), "", []bulk.Row{withLine(ada, 2)}},
		{"utf-16 BE with BOM", utf16Bytes(plain, true), "", []bulk.Row{withLine(ada, 2)}},
		{"semicolon", []byte("Email;First name;Last name;Role\r\nada@example.com;Ada;Lovelace;admin\r\n"), "", []bulk.Row{withLine(ada, 2)}},
		{"tab", []byte("Email\tFirst name\tLast name\tRole\nada@example.com\tAda\tLovelace\tadmin\n"), "", []bulk.Row{withLine(ada, 2)}},
		{"quoted newline", []byte("Email,First name,Last name,Role\n\"ada@example.com\",\"Ada\nAugusta\",Lovelace,admin\nbob@example.com,Bob,B,\n"), "",
			[]bulk.Row{{Line: 2, Email: "ada@example.com", FirstName: "Ada\nAugusta", LastName: "Lovelace", Role: "admin"}, {Line: 4, Email: "bob@example.com", FirstName: "Bob", LastName: "B"}}},
		{"blank lines skipped", []byte("\n\nEmail,First name,Last name,Role\n,,,\nada@example.com,Ada,Lovelace,admin\n"), "", []bulk.Row{withLine(ada, 5)}},
		{"xlsx first sheet", xlsx(t, "", map[string][][]string{"S": people["People"]}, "S"), "", []bulk.Row{withLine(ada, 2)}},
		{"xlsx named sheet", xlsx(t, "", people, "Other", "People"), "People", []bulk.Row{withLine(ada, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := bulk.ReadTable(context.Background(), bytes.NewReader(tc.data), tc.sheet, bulk.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := bulk.MapHeader(tab.Header)
			got, err := tab.Rows(m)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func withLine(r bulk.Row, line int) bulk.Row { r.Line = line; return r }

func TestMapHeaderVariants(t *testing.T) {
	tests := []struct {
		header  []string
		want    bulk.Mapping
		unknown []string
	}{
		{[]string{"Email", "First name", "Last name", "Role"}, bulk.Mapping{"email": 0, "first_name": 1, "last_name": 2, "role": 3}, nil},
		{[]string{" E-Mail ", "GIVEN NAME", "Family name"}, bulk.Mapping{"email": 0, "first_name": 1, "last_name": 2}, nil},
		{[]string{"Email address", "Forename", "Surname", "Department"}, bulk.Mapping{"email": 0, "first_name": 1, "last_name": 2}, []string{"Department"}},
		{[]string{"email_address", "Full name"}, bulk.Mapping{"email": 0, "full_name": 1}, nil},
		{[]string{"Name", "Mail", "Mail"}, bulk.Mapping{"full_name": 0, "email": 1}, nil},
		{[]string{"Phone", ""}, bulk.Mapping{}, []string{"Phone"}},
		// Named back cut to 100 characters (not bytes).
		{[]string{"Email", strings.Repeat("é", 150), strings.Repeat("x", 100)}, bulk.Mapping{"email": 0}, []string{strings.Repeat("é", 100) + "…", strings.Repeat("x", 100)}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.header, "|"), func(t *testing.T) {
			m, unknown := bulk.MapHeader(tc.header)
			if diff := cmp.Diff(tc.want, m); diff != "" {
				t.Errorf("mapping (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.unknown, unknown); diff != "" {
				t.Errorf("unknown (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{
		"Ada Lovelace": {"Ada", "Lovelace"}, "Ada King  Lovelace": {"Ada King", "Lovelace"},
		"Lovelace, Ada": {"Ada", "Lovelace"}, "Cher": {"Cher", ""},
	} {
		if f, l := bulk.SplitName(in); f != want[0] || l != want[1] {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", in, f, l, want[0], want[1])
		}
	}
}

func TestBadFiles(t *testing.T) {
	many := "email\n" + strings.Repeat("a@example.com\n", 11)
	tests := []struct {
		name  string
		data  []byte
		sheet string
		lim   bulk.Limits
		want  string
	}{
		{"empty", []byte("  \n"), "", bulk.Limits{}, "the file is empty"},
		{"not a spreadsheet", []byte("%PDF-1.4\x00\x01\x02binary"), "", bulk.Limits{}, "this is not a spreadsheet"},
		{"zip that is not a workbook", []byte("PK\x03\x04garbage"), "", bulk.Limits{}, "not an XLSX workbook"},
		{"encrypted workbook", xlsx(t, "secret", map[string][][]string{"S": {{"Email"}, {"a@example.com"}}}, "S"), "", bulk.Limits{}, "the workbook is encrypted"},
		{"no email column", []byte("Name,Phone\nAda,1\n"), "", bulk.Limits{}, "no column holds the email address"},
		{"legacy encoding", []byte("Email,Last name\nzoe@example.com,Jos\xe9\n"), "", bulk.Limits{}, "not in UTF-8"},
		{"too big", []byte(many), "", bulk.Limits{MaxBytes: 20}, "larger than the limit of 20 bytes"},
		{"too many rows", []byte(many), "", bulk.Limits{MaxRows: 10}, "more than 10 rows"},
		{"no such sheet", xlsx(t, "", map[string][][]string{"S": {{"Email"}}}, "S"), "People", bulk.Limits{}, `no sheet named "People" (sheets: S)`},
		// One cell in the sheet's last column would make every row 16,384
		// cells wide in memory: a few kilobytes costing gigabytes.
		{"a cell in column XFD", xfdWorkbook(t), "", bulk.Limits{}, "has 16384 columns; a file may have at most 256"},
		{"a line of commas", []byte("email\na@example.com" + strings.Repeat(",", 300) + "x\n"), "", bulk.Limits{}, "line 2 has 301 columns"},
		{"a cell longer than a spreadsheet holds", []byte("email,name\na@example.com,\"" + strings.Repeat("<", 40_000) + "\"\n"), "", bulk.Limits{}, "line 2, column 2 has more than 32767 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := bulk.ReadTable(context.Background(), bytes.NewReader(tc.data), tc.sheet, tc.lim)
			if err == nil {
				m, _ := bulk.MapHeader(tab.Header)
				_, err = tab.Rows(m)
			}
			var fe *bulk.FileError
			if !errors.As(err, &fe) || !strings.Contains(fe.Msg, tc.want) {
				t.Fatalf("err = %v; want a FileError saying %q", err, tc.want)
			}
		})
	}
}

// xfdWorkbook is a sheet of two people, one with a value in the sheet's
// last column (XFD).
func xfdWorkbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for cell, v := range map[string]string{"A1": "Email", "A2": "a@example.com", "A3": "b@example.com", "XFD3": "x"} {
		if err := f.SetCellValue("Sheet1", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPaddedRowsAreTrimmed: empty cells at the end of rows (spreadsheets
// pad rows to their widest) cost nothing and do not count as columns.
func TestPaddedRowsAreTrimmed(t *testing.T) {
	tab, err := bulk.ReadTable(context.Background(), strings.NewReader("email,,,\na@example.com"+strings.Repeat(",", 1000)+"\n"), "", bulk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Header) != 1 || len(tab.Records) != 1 || len(tab.Records[0]) != 1 || cap(tab.Records[0]) != 1 {
		t.Errorf("header %q, records %q (cap %d)", tab.Header, tab.Records, cap(tab.Records[0]))
	}
}

func TestTemplatesReadBack(t *testing.T) {
	x, err := bulk.TemplateXLSX()
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"csv": bulk.TemplateCSV(), "xlsx": x} {
		tab, err := bulk.ReadTable(context.Background(), bytes.NewReader(data), "", bulk.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, unknown := bulk.MapHeader(tab.Header)
		rows, err := tab.Rows(m)
		if err != nil || len(unknown) > 0 || len(rows) != 1 || rows[0].Email != "ada.lovelace@example.com" || rows[0].Role != "member" {
			t.Errorf("%s template reads back as %+v, unknown %v, %v", name, rows, unknown, err)
		}
	}
}

func TestReportNeutralisesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "ada": "ada", "": ""} {
		if got := bulk.Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q; want %q", in, got, want)
		}
	}
}

func FuzzReadTable(f *testing.F) {
	f.Add([]byte("Email,First name\nada@example.com,Ada\n"), "")
	f.Add([]byte("\ufeffE-mail;Surname\n\"a\"\"b\";x\n"), "")
	f.Add(utf16Bytes("Email\ta\n", false), "")
	f.Add([]byte("PK\x03\x04"), "Sheet1")
	f.Fuzz(func(t *testing.T, data []byte, sheet string) {
		tab, err := bulk.ReadTable(context.Background(), bytes.NewReader(data), sheet, bulk.Limits{MaxBytes: 1 << 20, MaxRows: 1000})
		if err != nil {
			return
		}
		m, _ := bulk.MapHeader(tab.Header)
		rows, err := tab.Rows(m)
		if err == nil && len(rows) != len(tab.Records) {
			t.Fatalf("%d rows from %d records", len(rows), len(tab.Records))
		}
	})
}

// FuzzXLSX: whatever the workbook, ReadTable answers without panicking,
// and a workbook both it and excelize read reads the same.
func FuzzXLSX(f *testing.F) {
	f.Add(xlsx(f, "", map[string][][]string{"S": {{"Email", "Name"}, {"a@example.com", "A B"}}}, "S"))
	f.Add(workbook(f, refsRow(3), oneString(10), 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := bulk.ReadTable(context.Background(), bytes.NewReader(data), "", bulk.Limits{MaxBytes: 1 << 20, MaxRows: 1000})
		if err != nil {
			return
		}
		want, err := excelizeRows(data)
		if err != nil {
			return
		}
		if diff := cmp.Diff(want, append([][]string{tab.Header}, tab.Records...)); diff != "" {
			t.Errorf("rows (-excelize +ReadTable):\n%s", diff)
		}
	})
}

func FuzzMapHeader(f *testing.F) {
	f.Add("Email,First name,Last name,Role")
	f.Add("E-mail,,Full name")
	f.Fuzz(func(t *testing.T, header string) {
		h := strings.Split(header, ",")
		m, unknown := bulk.MapHeader(h)
		if len(m)+len(unknown) > len(h) {
			t.Fatalf("%d mapped and %d unknown from %d headings", len(m), len(unknown), len(h))
		}
		for _, c := range m {
			if c < 0 || c >= len(h) {
				t.Fatalf("column %d out of %d", c, len(h))
			}
		}
		_ = fmt.Sprint(m.Check(len(h)))
	})
}

// TestReadingCostIsBounded: files built to cost far more to read than
// their size are refused, and refused cheaply. Rows holding a blank cell
// in column XFD read as 16,384 cells each though they trim to nothing; a
// CSV line of commas would be as many strings before any row is looked at.
func TestReadingCostIsBounded(t *testing.T) {
	// Written part by part (workbook): excelize builds every cell up to
	// XFD in memory to set one there, which took half a minute under
	// -race for a file of 8 KB.
	data := workbook(t, func(w io.Writer) {
		io.WriteString(w, header)
		for row := 2; row < 2+bulk.MaxCells/16384+2; row++ {
			fmt.Fprintf(w, `<row r="%d"><c r="XFD%d" t="inlineStr"><is><t> </t></is></c></row>`, row, row)
		}
	}, nil, 0)
	if _, err := bulk.ReadTable(context.Background(), bytes.NewReader(data), "", bulk.Limits{}); err == nil || !strings.Contains(err.Error(), "cells") {
		t.Errorf("rows of blank cells in column XFD: %v; want refused for its cells", err)
	}

	commas := strings.Repeat(",", bulk.MaxCells+10)
	for _, c := range []struct{ name, file string }{
		{"a line of commas", "email\n" + commas + "\n"},
		{"a line of commas, fewer than the file may have", "email\n" + commas[:bulk.MaxCells-100] + "\n"},
		// A quote inside a field is a character to the CSV reader
		// (LazyQuotes), so the commas after it are cells all the same.
		{"a line of commas after a quote inside a field", "email\nx\"" + commas + "\n"},
		// A quote before a lone \r does not end a quoted field, so
		// the next quote does, and the commas after it are cells.
		{"a line of commas after a quote and a carriage return", "email\n\"a\"\r,\"" + commas + "\n"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := bulk.ReadTable(context.Background(), strings.NewReader(c.file), "", bulk.Limits{})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "cells") {
			t.Errorf("%s: %v; want refused for its cells", c.name, err)
		}
		// The file is 8 MB; reading it into records took over 150 MB.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("refusing %s allocated %d MiB; want it refused before it is split", c.name, grew>>20)
		}
	}

	// Delimiters and line ends inside quoted cells are text, not cells:
	// a file of a few wide quoted cells is read, not refused.
	wide := `"` + strings.Repeat(`a,""b"",`+"\n", 300) + `"`
	tab, err := bulk.ReadTable(context.Background(), strings.NewReader("email,first_name\nada@acme.example,"+wide+"\n"), "", bulk.Limits{})
	if err != nil {
		t.Fatalf("quoted cells holding commas, quotes and line ends: %v", err)
	}
	if len(tab.Records) != 1 || len(tab.Records[0]) != 2 {
		t.Errorf("quoted cells read as %d records, %q; want one record of two cells", len(tab.Records), tab.Records)
	}
	// A row padded with quoted empty cells, as exports that quote every
	// cell write it, is as wide as its last filled cell.
	filled := "a@acme.example" + strings.Repeat(",x", bulk.MaxColumns-1)
	padded := filled + strings.Repeat(`,""`, 50)
	if _, err := bulk.ReadTable(context.Background(), strings.NewReader("email\n"+padded+"\n"), "", bulk.Limits{}); err != nil {
		t.Errorf("a row of %d cells padded with 50 quoted empty ones: %v; want read", bulk.MaxColumns, err)
	}
	if _, err := bulk.ReadTable(context.Background(), strings.NewReader("email\n"+filled+`,"x"`+"\n"), "", bulk.Limits{}); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("a row of %d cells, the last quoted: %v; want refused for its columns", bulk.MaxColumns+1, err)
	}
}
