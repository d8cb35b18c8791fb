package bulk

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Limits bound what a file may hold. The zero value takes the defaults.
type Limits struct {
	MaxBytes int64 // default DefaultMaxBytes
	MaxRows  int   // default DefaultMaxRows
}

// The limits of the issue: a spreadsheet of a large company fits well
// within them; anything larger is more likely a mistake or an attack.
const (
	DefaultMaxBytes = 50 << 20
	DefaultMaxRows  = 1_000_000
	// MaxColumns and MaxCells bound what a file costs in memory, whatever
	// its size on disk: one XLSX cell in column XFD makes a row of 16,384
	// cells, and a CSV line of commas one cell per byte. A real list of
	// people has a handful of columns.
	MaxColumns = 256
	MaxCells   = 8_000_000
	// MaxCellChars is Excel's own limit on a cell: a longer one is no
	// person's name or address, and a repeated XLSX shared string of many
	// megabytes would otherwise be kept once per row.
	MaxCellChars = 32_767
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultMaxRows
	}
	return l
}

// FileError is a file that cannot be read whole: its message names the
// problem for the admin who uploaded it.
type FileError struct{ Msg string }

func (e *FileError) Error() string { return e.Msg }

func fileErrorf(format string, args ...any) error {
	return &FileError{Msg: fmt.Sprintf(format, args...)}
}

// Table is a spreadsheet read whole: its header and its rows of cells,
// each with the line (CSV) or row number (XLSX) it started on.
type Table struct {
	Format  string // "csv" or "xlsx"
	Header  []string
	Records [][]string
	Lines   []int
	cells   int // in Header and Records, against MaxCells
}

var (
	zipMagic = []byte("PK\x03\x04")
	// Encrypted OOXML workbooks (and legacy .xls files) are OLE compound
	// files, not zips.
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

// ReadTable reads a CSV or XLSX file whole, or says why it cannot. sheet
// names the XLSX sheet to read (the first when empty); CSV files ignore it.
// It stops, with ctx's error, when ctx ends: a large file takes seconds.
func ReadTable(ctx context.Context, r io.Reader, sheet string, lim Limits) (*Table, error) {
	lim = lim.withDefaults()
	data, err := readFile(r, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	return parseTable(ctx, data, sheet, lim)
}

// readFile reads r whole, up to limit bytes. It holds the file once: a
// reader that knows its size (an upload's part, in memory or in its
// temporary file) is read into a buffer of that size, where io.ReadAll
// would grow one by doubling, holding up to twice the file at a time.
func readFile(r io.Reader, limit int64) ([]byte, error) {
	var size int64
	switch f := r.(type) {
	case interface{ Size() int64 }:
		size = f.Size()
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	var buf bytes.Buffer
	// ReadFrom keeps MinRead bytes free before each read: with them,
	// the read that finds the end needs no more room.
	buf.Grow(int(min(max(size, 0), limit+1)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, fileErrorf("the file is larger than the limit of %s", sizeText(limit))
	}
	return buf.Bytes(), nil
}

// parseTable is ReadTable of a file already read.
func parseTable(ctx context.Context, data []byte, sheet string, lim Limits) (*Table, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, fileErrorf("the file is larger than the limit of %s", sizeText(lim.MaxBytes))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fileErrorf("the file is empty")
	}
	var (
		t   *Table
		err error
	)
	switch {
	case bytes.HasPrefix(data, zipMagic):
		t, err = readXLSX(ctx, data, sheet, lim)
	case bytes.HasPrefix(data, oleMagic):
		if bytes.Contains(data, utf16le("EncryptionInfo")) {
			return nil, fileErrorf("the workbook is encrypted (protected with a password): save a copy without a password, or as CSV, and upload that")
		}
		return nil, fileErrorf("this is an old Excel (.xls) workbook, which is not supported: save it as .xlsx or CSV")
	default:
		t, err = readCSV(ctx, data, lim)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), 0)
	}
	return b
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// decodeText turns the bytes of a CSV file into UTF-8: a UTF-8 or UTF-16
// byte order mark says what it is; without one it must be UTF-8 (what
// "CSV UTF-8" in Excel and every other tool writes). UTF-8 is given back
// as it came, not copied.
func decodeText(data []byte) ([]byte, error) {
	var enc encoding.Encoding
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		enc = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		enc = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
	}
	if enc != nil {
		out, _, err := transform.Bytes(enc.NewDecoder(), data)
		if err != nil {
			return nil, fileErrorf("the file says it is UTF-16 but is not valid UTF-16")
		}
		data = out
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fileErrorf("this is not a spreadsheet: upload a CSV or XLSX file")
	}
	if !utf8.Valid(data) {
		return nil, fileErrorf("the file is not in UTF-8 (it may be in a legacy encoding such as Windows-1252): save it as \"CSV UTF-8\" and upload it again")
	}
	return data, nil
}

// detectDelimiter picks comma, semicolon (Excel in many European locales)
// or tab by counting them outside quotes on the first line. Each is one
// byte in UTF-8, which no byte of another character equals.
func detectDelimiter(text []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, c := range text {
		r := rune(c)
		if r == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if r == '\n' {
			break
		}
		if r == ',' || r == ';' || r == '\t' {
			counts[r]++
		}
	}
	best := ','
	for _, d := range []rune{';', '\t'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}

func readCSV(ctx context.Context, data []byte, lim Limits) (*Table, error) {
	text, err := decodeText(data)
	if err != nil {
		return nil, err
	}
	comma := detectDelimiter(text)
	if err := checkWidth(text, comma); err != nil {
		return nil, err
	}
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	t := &Table{Format: "csv"}
	for n := 1; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fileErrorf("the file is not valid CSV: line %d: %v", pe.Line, pe.Err)
			}
			return nil, fileErrorf("the file is not valid CSV: %v", err)
		}
		line, _ := cr.FieldPos(0)
		if err := t.add(rec, line, lim); err != nil {
			return nil, err
		}
	}
	return t.finish()
}

// checkWidth refuses a CSV with a record wider than MaxColumns (empty
// cells at its end aside: spreadsheets pad rows), or with more than
// MaxCells cells in all (padding included), before the CSV reader builds
// any record: it would hold a line of fifty million commas as fifty
// million strings. It reads quotes as the reader does (LazyQuotes): a
// quote opens a quoted field only as the field's first character, "" in
// one is a quote, and a quote ends one only where closesQuote says. Any
// other quote is a character, so that x",,,, and "a"\r,",,,, are as many
// cells here as there.
// maxRowCells bounds one record's cells, padding included: a spreadsheet
// has at most 16,384 columns (XFD), and the CSV reader builds a whole
// record at once (a line of 8 million commas, under MaxCells, took
// hundreds of MB).
const maxRowCells = 16384

func checkWidth(text []byte, comma rune) error {
	sep := byte(comma) // detectDelimiter's choices are all ASCII
	line, recordLine := 1, 1
	fields, width, cells := 1, 0, 0
	fieldStart, quoted := true, false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if quoted {
			switch {
			case c == '\n':
				line++
			case c == '"' && i+1 < len(text) && text[i+1] == '"':
				i++
				width = fields
			case c == '"' && closesQuote(text[i+1:], sep):
				quoted = false
			case c != ' ' && c != '\t' && c != '\r':
				width = fields
			}
			continue
		}
		switch {
		case c == sep:
			if fields++; cells+fields > MaxCells {
				return fileErrorf("the file has more than %d cells; split it, or remove the columns admit does not read", MaxCells)
			}
			if fields > maxRowCells {
				return fileErrorf("line %d has more than %d cells, more than a spreadsheet's columns", recordLine, maxRowCells)
			}
			fieldStart = true
			continue
		case c == '\n':
			if width > MaxColumns {
				return fileErrorf("line %d has %d columns; a file may have at most %d", recordLine, width, MaxColumns)
			}
			cells += fields
			line++
			fields, width, recordLine, fieldStart = 1, 0, line, true
			continue
		case c == '"' && fieldStart:
			// Blank until it holds more than spaces: a row padded with
			// "" is as narrow as one padded with nothing.
			quoted = true
		case c != ' ' && c != '\t' && c != '\r':
			width = fields
		}
		fieldStart = false
	}
	if width > MaxColumns {
		return fileErrorf("line %d has %d columns; a file may have at most %d", recordLine, width, MaxColumns)
	}
	return nil
}

// closesQuote reports whether a quote followed by rest ends a quoted
// field, as encoding/csv has it: before a delimiter, a line's end (\n or
// \r\n) or the file's; before anything else (a lone \r too) it is a
// character of the field.
func closesQuote(rest []byte, sep byte) bool {
	return len(rest) == 0 || string(rest) == "\r" || rest[0] == sep || rest[0] == '\n' || bytes.HasPrefix(rest, []byte("\r\n"))
}

// add keeps one record: the first non-empty one is the header. Empty
// cells at the end of a row are dropped (spreadsheets pad rows to their
// widest), and a row or a file wider than the bounds is refused.
func (t *Table) add(rec []string, line int, lim Limits) error {
	// Every cell the reader made counts, blank or not: a sheet of rows
	// holding one space in column XFD costs 16,384 cells a row to read.
	if t.cells += len(rec); t.cells > MaxCells {
		return fileErrorf("the file has more than %d cells; split it, or remove the columns admit does not read", MaxCells)
	}
	for len(rec) > 0 && strings.TrimSpace(rec[len(rec)-1]) == "" {
		rec = rec[:len(rec)-1]
	}
	if len(rec) == 0 {
		return nil
	}
	if len(rec) > MaxColumns {
		return fileErrorf("line %d has %d columns; a file may have at most %d", line, len(rec), MaxColumns)
	}
	for i, c := range rec {
		if len(c) > MaxCellChars && utf8.RuneCountInString(c) > MaxCellChars {
			return fileErrorf("line %d, column %d has more than %d characters, the most a spreadsheet cell holds", line, i+1, MaxCellChars)
		}
	}
	// A row keeps a copy of its own: the reader's slice may be as wide as
	// the sheet.
	if cap(rec) > len(rec) {
		rec = slices.Clone(rec)
	}
	if t.Header == nil {
		t.Header = rec
		return nil
	}
	if len(t.Records) >= lim.MaxRows {
		return fileErrorf("the file has more than %d rows", lim.MaxRows)
	}
	t.Records = append(t.Records, rec)
	t.Lines = append(t.Lines, line)
	return nil
}

func (t *Table) finish() (*Table, error) {
	if t.Header == nil {
		return nil, fileErrorf("the file is empty")
	}
	return t, nil
}
