package bulk_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/admit-dev/admit/bulk"
)

// workbook is an XLSX built part by part, as an attacker would write one:
// sheet and sst are written by the functions given, so that a part can be
// far larger inflated than its zip.
func workbook(t testing.TB, sheet, sst func(io.Writer), extra int) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	// The hostile parts are hundreds of MiB of one byte: the default level
	// spent over a minute of the suite compressing them (under -race),
	// the fastest one seconds, to much the same few hundred KiB.
	z.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	put := func(name string, method uint16, fill func(io.Writer)) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		fill(w)
	}
	text := func(s string) func(io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }
	put("[Content_Types].xml", zip.Deflate, text(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>`))
	put("_rels/.rels", zip.Deflate, text(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`))
	put("xl/workbook.xml", zip.Deflate, text(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`))
	put("xl/_rels/workbook.xml.rels", zip.Deflate, text(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`))
	put("xl/worksheets/sheet1.xml", zip.Deflate, func(w io.Writer) {
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
		sheet(w)
		io.WriteString(w, `</sheetData></worksheet>`)
	})
	if sst != nil {
		put("xl/sharedStrings.xml", zip.Deflate, func(w io.Writer) {
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
			sst(w)
			io.WriteString(w, `</sst>`)
		})
	}
	// The extra parts are stored, not deflated: a compressor for each of
	// thousands of empty parts cost the suite minutes under -race.
	for i := range extra {
		put(fmt.Sprintf("x/%d", i), zip.Store, text(""))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cost reads data and says what it cost: the bytes allocated and the
// time taken.
func cost(t *testing.T, data []byte, lim bulk.Limits) (uint64, time.Duration, error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := bulk.ReadTable(context.Background(), bytes.NewReader(data), "", lim)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, d, err
}

const header = `<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c></row>`

// refsRow is a row of n cells all naming shared string 0.
func refsRow(n int) func(io.Writer) {
	return func(w io.Writer) {
		io.WriteString(w, header+`<row r="2">`)
		for range n {
			io.WriteString(w, `<c t="s"><v>0</v></c>`)
		}
		io.WriteString(w, `</row>`)
	}
}

func oneString(n int) func(io.Writer) {
	return func(w io.Writer) { io.WriteString(w, `<si><t>`+strings.Repeat("A", n)+`</t></si>`) }
}

// TestHostileWorkbooks: workbooks built to cost far more to read than
// their size are refused, having cost little. Before, excelize copied a
// shared string for each cell naming it (a 19 KB file of 20 cells naming a
// 17 MiB string allocated 795 MiB, and twice the cells twice that), read 10
// million empty rows from 89 KB in 7.8 s and took them, and allocated 343
// MiB for a zip of 200,000 entries.
//
// Each workbook is only as large as its limit needs: compressing the
// hundreds of MiB the attacks were first tried with took most of the
// package's time under -race. Where the limit follows the file size limit
// (what a workbook may inflate to), the workbook is read with a small one.
func TestHostileWorkbooks(t *testing.T) {
	const small = 1 << 20 // a file size limit, so the workbook may inflate to 8 MiB
	spaces := func(prefix string, mib int) func(io.Writer) {
		return func(w io.Writer) {
			io.WriteString(w, header+prefix)
			for range mib {
				io.WriteString(w, strings.Repeat(" ", 1<<20))
			}
			io.WriteString(w, `</t></is></c></row>`)
		}
	}
	tests := []struct {
		name     string
		data     []byte
		lim      bulk.Limits
		want     string
		maxAlloc uint64
	}{
		{"a row of cells naming a long shared string", workbook(t, refsRow(20), oneString(17<<20), 0), bulk.Limits{}, "holds a text or tag of more than 1 MiB", 16 << 20},
		{"a row of cells naming a shared string longer than a cell", workbook(t, refsRow(1000), oneString(bulk.MaxCellChars+1), 0), bulk.Limits{}, "a text of more than 32767 characters", 16 << 20},
		// One row element more than a sheet holds: the rows are counted
		// as they are read, not taken.
		{"more empty rows than a sheet holds", workbook(t, func(w io.Writer) {
			io.WriteString(w, header+strings.Repeat(`<row/>`, 1<<20))
		}, nil, 0), bulk.Limits{}, "more than 1048576 rows", 256 << 20},
		{"a row numbered beyond a sheet", workbook(t, func(w io.Writer) { io.WriteString(w, header+`<row r="1048577"/>`) }, nil, 0), bulk.Limits{}, "damaged", 1 << 20},
		{"a cell beyond column XFD", workbook(t, func(w io.Writer) {
			io.WriteString(w, header+`<row r="2"><c r="XFE2" t="inlineStr"><is><t>x</t></is></c></row>`)
		}, nil, 0), bulk.Limits{}, "beyond a spreadsheet's 16384 columns", 1 << 20},
		{"a zip of many entries", workbook(t, func(w io.Writer) { io.WriteString(w, header) }, nil, 20_000), bulk.Limits{}, "more than 10000 parts", 64 << 20},
		{"a sheet that inflates beyond its limit", workbook(t, spaces(`<row r="2"><c t="inlineStr"><is><t>`, 12), nil, 0), bulk.Limits{MaxBytes: small}, "unzips to more than 8 MiB", 4 << 20},
		// Within what the workbook may inflate to, and larger than
		// maxAlloc: only the bound on one piece of XML refuses it cheaply.
		{"a text of 32 MiB", workbook(t, spaces(`<row r="2"><c t="inlineStr"><is><t>`, 32), nil, 0), bulk.Limits{}, "a text or tag of more than 1 MiB", 16 << 20},
		{"an entity declared in a DTD", workbook(t, func(w io.Writer) {
			io.WriteString(w, header+`<row r="2"><c t="inlineStr"><is><t>&a;&a;&a;</t></is></c></row>`)
		}, nil, 0), bulk.Limits{}, "invalid character entity", 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alloc, took, err := cost(t, tc.data, tc.lim)
			t.Logf("%d-byte file: %v, allocated %d MiB in %v", len(tc.data), err, alloc>>20, took.Round(time.Millisecond))
			var fe *bulk.FileError
			if !errors.As(err, &fe) || !strings.Contains(fe.Msg, tc.want) {
				t.Fatalf("err = %v; want a FileError saying %q", err, tc.want)
			}
			if alloc > tc.maxAlloc {
				t.Errorf("allocated %d MiB; want at most %d", alloc>>20, tc.maxAlloc>>20)
			}
		})
	}
}

// excelizeRows is what excelize reads from a sheet, as ReadTable keeps it:
// raw values, empty cells at a row's end and empty rows dropped. It reads
// row by row rather than with GetRows, which stops at a row it cannot read
// and returns the rows before it without an error (a workbook whose
// [Content_Types].xml is not XML read as no rows at all, though excelize's
// own GetCellValue read its cells).
func excelizeRows(data []byte) ([][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetList()[0])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		r, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, err
		}
		for len(r) > 0 && strings.TrimSpace(r[len(r)-1]) == "" {
			r = r[:len(r)-1]
		}
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	return out, rows.Error()
}

// TestReadsAsExcelizeDoes: the reader gives what excelize gives for a
// workbook excelize wrote with every kind of cell a list of people holds.
func TestReadsAsExcelizeDoes(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	set := func(cell string, v any) {
		if err := f.SetCellValue("Sheet1", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("A1", "Email")
	set("B1", "Name")
	set("D1", "Count")
	set("A2", "ada@example.com")
	set("B2", "Ada_x000D_ \"Lovelace\" <&>\r\nline")
	set("D2", 42)
	set("A4", "bob@example.com")
	set("C4", true)
	set("D4", 1.5)
	set("E4", "Ünïcødé 名前")
	if err := f.SetCellRichText("Sheet1", "B4", []excelize.RichTextRun{{Text: "Bob "}, {Text: "Builder", Font: &excelize.Font{Bold: true}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellFormula("Sheet1", "F4", `=HYPERLINK("http://x")`); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want, err := excelizeRows(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tab, err := bulk.ReadTable(context.Background(), bytes.NewReader(buf.Bytes()), "", bulk.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := append([][]string{tab.Header}, tab.Records...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-excelize +ReadTable):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 4}, tab.Lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

// TestReadingStopsWithItsContext: a large file's reading stops when the
// request that brought it ends.
func TestReadingStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rows := workbook(t, func(w io.Writer) {
		io.WriteString(w, header)
		for i := range 10_000 {
			fmt.Fprintf(w, `<row><c t="inlineStr"><is><t>p%d@example.com</t></is></c></row>`, i)
		}
	}, nil, 0)
	for name, data := range map[string][]byte{"csv": []byte(peopleFile(10_000)), "xlsx": rows} {
		if _, err := bulk.ReadTable(ctx, bytes.NewReader(data), "", bulk.Limits{}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v; want context.Canceled", name, err)
		}
		if _, err := bulk.ReadTable(context.Background(), bytes.NewReader(data), "", bulk.Limits{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
