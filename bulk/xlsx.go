package bulk

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An XLSX is read here, part by part, rather than through excelize's
// reader: excelize copies a shared string afresh for every cell that
// refers to it and builds a whole row before its caller sees it, so that
// one row of cells all naming one long shared string cost gigabytes from a
// file of a few kilobytes; it counts a zip's declared sizes, not what a
// part inflates to as it is read; and it cannot be stopped. This reader
// holds each shared string once, refuses a row at its first cell too many,
// counts every byte it inflates and every row element, and stops when its
// context ends. (excelize still writes the templates.)

const (
	// maxZipEntries bounds the parts of a workbook: a real one has a few
	// dozen, and the zip reader spends memory on each before any is read.
	maxZipEntries = 10_000
	// maxSheetRows is a sheet's most rows (Excel's): a sheet that says it
	// has more, or holds more row elements, empty ones included, is not one
	// a spreadsheet wrote.
	maxSheetRows = 1 << 20
	// inflateRatio bounds what the workbook may inflate to, against the
	// file's size limit: XML of people compresses about tenfold.
	inflateRatio = 8
	// maxToken bounds one piece of XML (a text, a tag, a comment): the
	// decoder holds a piece whole before it returns it, and a cell holds
	// at most MaxCellChars characters of 4 bytes.
	maxToken = 1 << 20
)

// centralHeader starts each entry of a zip's central directory: counting
// it bounds the entries from above before the zip reader allocates them.
var centralHeader = []byte("PK\x01\x02")

// inflated is a part as it inflates: it counts the bytes against one
// budget for the whole file, and against the end of the decoder's last
// token (tokenAt), so that no token grows beyond maxToken.
type inflated struct {
	ctx     context.Context
	r       io.Reader
	left    *int64
	read    int64
	tokenAt int64
}

var (
	errInflated = errors.New("inflated beyond the limit")
	errToken    = errors.New("a piece of XML beyond the limit")
)

func (in *inflated) Read(p []byte) (int, error) {
	if err := in.ctx.Err(); err != nil {
		return 0, err
	}
	if *in.left <= 0 {
		return 0, errInflated
	}
	if in.read-in.tokenAt > maxToken {
		return 0, errToken
	}
	p = p[:min(int64(len(p)), *in.left)]
	n, err := in.r.Read(p)
	*in.left -= int64(n)
	in.read += int64(n)
	return n, err
}

type workbookReader struct {
	ctx   context.Context
	parts map[string]*zip.File // by lower-case name
	left  int64                // of the bytes the workbook may inflate to
	max   int64
}

// open returns a decoder of the part name (nil when there is none).
func (w *workbookReader) open(name string) (*xml.Decoder, *inflated, io.Closer, error) {
	f := w.parts[strings.ToLower(name)]
	if f == nil {
		return nil, nil, nil, nil
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, nil, fileErrorf("this is not an XLSX workbook: its part %s cannot be unzipped", name)
	}
	in := &inflated{ctx: w.ctx, r: rc, left: &w.left}
	return xml.NewDecoder(in), in, rc, nil
}

// xmlError says why a part could not be read.
func (w *workbookReader) xmlError(name string, err error) error {
	switch {
	case errors.Is(err, errInflated):
		return fileErrorf("the workbook unzips to more than %s: save the people as CSV, or split the file", sizeText(w.max))
	case errors.Is(err, errToken):
		return fileErrorf("this is not a workbook a spreadsheet wrote: its part %s holds a text or tag of more than %s", name, sizeText(maxToken))
	case w.ctx.Err() != nil:
		return w.ctx.Err()
	case errors.Is(err, zip.ErrChecksum), errors.Is(err, zip.ErrFormat), errors.Is(err, io.ErrUnexpectedEOF):
		return fileErrorf("this is not an XLSX workbook: its part %s is damaged", name)
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return err
	}
	return fileErrorf("this is not an XLSX workbook: its part %s is not valid XML (%v)", name, err)
}

// each calls fn for every token of the part name; a missing part is none.
func (w *workbookReader) each(name string, fn func(xml.Token) error) error {
	d, in, c, err := w.open(name)
	if err != nil || d == nil {
		return err
	}
	defer c.Close()
	for {
		tok, err := d.RawToken()
		in.tokenAt = d.InputOffset()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return w.xmlError(name, err)
		}
		if _, ok := tok.(xml.Directive); ok {
			// A DTD may declare entities. encoding/xml expands none but
			// XML's own five (a document using another is invalid), so
			// nothing can grow from one; but no spreadsheet writes a DTD.
			return fileErrorf("this is not an XLSX workbook: its part %s holds a document type declaration", name)
		}
		if err := fn(tok); err != nil {
			return w.xmlError(name, err)
		}
	}
}

func attr(el xml.StartElement, local string) (string, bool) {
	for _, a := range el.Attr {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// rels reads a relationships part: id -> target, resolved against dir.
func (w *workbookReader) rels(name, dir string) (map[string]string, map[string]string, error) {
	byID, byType := map[string]string{}, map[string]string{}
	err := w.each(name, func(tok xml.Token) error {
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "Relationship" {
			return nil
		}
		id, _ := attr(el, "Id")
		target, _ := attr(el, "Target")
		typ, _ := attr(el, "Type")
		if strings.HasPrefix(target, "/") {
			target = strings.TrimPrefix(target, "/")
		} else {
			target = path.Join(dir, target)
		}
		byID[id] = target
		byType[path.Base(typ)] = target
		return nil
	})
	return byID, byType, err
}

type sheetRef struct{ name, part string }

// sheets lists the workbook's sheets in order, and its shared strings part.
func (w *workbookReader) sheets() ([]sheetRef, string, error) {
	_, top, err := w.rels("_rels/.rels", "")
	if err != nil {
		return nil, "", err
	}
	book := top["officeDocument"]
	if book == "" {
		book = "xl/workbook.xml"
	}
	dir := path.Dir(book)
	byID, byType, err := w.rels(path.Join(dir, "_rels", path.Base(book)+".rels"), dir)
	if err != nil {
		return nil, "", err
	}
	var out []sheetRef
	err = w.each(book, func(tok xml.Token) error {
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "sheet" {
			name, _ := attr(el, "name")
			id, _ := attr(el, "id")
			if part := byID[id]; part != "" && w.parts[strings.ToLower(part)] != nil {
				out = append(out, sheetRef{name, part})
			}
		}
		return nil
	})
	return out, byType["sharedStrings"], err
}

// text gathers a string item (<si>, or a cell's <is>): its <t> and those
// of its rich text runs, not the phonetic guides (<rPh>).
type text struct {
	b          strings.Builder
	inT, inRPh bool
	tooLong    bool
}

func (x *text) token(tok xml.Token) {
	switch el := tok.(type) {
	case xml.StartElement:
		switch el.Name.Local {
		case "t":
			x.inT = true
		case "rPh":
			x.inRPh = true
		}
	case xml.EndElement:
		switch el.Name.Local {
		case "t":
			x.inT = false
		case "rPh":
			x.inRPh = false
		}
	case xml.CharData:
		if x.inT && !x.inRPh && !x.tooLong {
			// A cell's characters take at most 4 bytes each.
			if x.b.Len()+len(el) > 4*MaxCellChars {
				x.tooLong = true
				return
			}
			x.b.Write(el)
		}
	}
}

func (x *text) String() string { return unescapeOOXML(x.b.String()) }

// sharedStrings reads the table of strings cells refer to, each kept once.
func (w *workbookReader) sharedStrings(part string) ([]string, error) {
	if part == "" {
		part = "xl/sharedStrings.xml"
	}
	var (
		out []string
		cur *text
	)
	err := w.each(part, func(tok xml.Token) error {
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "si" {
			cur = &text{}
			return nil
		}
		if el, ok := tok.(xml.EndElement); ok && el.Name.Local == "si" && cur != nil {
			s := cur.String()
			if cur.tooLong || utf8.RuneCountInString(s) > MaxCellChars {
				return fileErrorf("the workbook holds a text of more than %d characters, the most a spreadsheet cell holds", MaxCellChars)
			}
			if len(out) >= MaxCells {
				return fileErrorf("the workbook holds more than %d texts; split it, or save the people as CSV", MaxCells)
			}
			out, cur = append(out, s), nil
			return nil
		}
		if cur != nil {
			cur.token(tok)
		}
		return nil
	})
	return out, err
}

// cellColumn is the 1-based column of a cell reference such as "AB12".
func cellColumn(ref string) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref) && i < 4; i++ {
		c := ref[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		col = col*26 + int(c-'a') + 1
	}
	return col, i > 0 && col <= maxRowCells
}

func readXLSX(ctx context.Context, data []byte, sheet string, lim Limits) (*Table, error) {
	if bytes.Count(data, centralHeader) > maxZipEntries {
		return nil, fileErrorf("this is not an XLSX workbook: it holds more than %d parts", maxZipEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fileErrorf("this is not a spreadsheet admit can read (a zip, but not an XLSX workbook)")
	}
	w := &workbookReader{ctx: ctx, parts: map[string]*zip.File{}, max: inflateRatio * lim.MaxBytes}
	w.left = w.max
	// The sizes a zip declares bound what its parts inflate to (the zip
	// reader refuses a part that inflates to more), so an honest bomb is
	// refused here before anything is inflated, and a lying one when it
	// is read.
	var declared uint64
	for _, f := range zr.File {
		w.parts[strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))] = f
		if declared += f.UncompressedSize64; declared > uint64(w.max) {
			return nil, fileErrorf("the workbook unzips to more than %s: save the people as CSV, or split the file", sizeText(w.max))
		}
	}
	sheets, sstPart, err := w.sheets()
	if err != nil {
		return nil, err
	}
	if len(sheets) == 0 {
		return nil, fileErrorf("this is not an XLSX workbook, or it has no sheets")
	}
	chosen := sheets[0]
	if sheet != "" {
		i := slices.IndexFunc(sheets, func(s sheetRef) bool { return strings.EqualFold(s.name, sheet) })
		if i < 0 {
			names := make([]string, len(sheets))
			for i, s := range sheets {
				names[i] = s.name
			}
			return nil, fileErrorf("the workbook has no sheet named %q (sheets: %s)", sheet, strings.Join(names, ", "))
		}
		chosen = sheets[i]
	}
	sst, err := w.sharedStrings(sstPart)
	if err != nil {
		return nil, err
	}
	return w.sheet(chosen, sst, lim)
}

// sheet reads the rows of one sheet.
func (w *workbookReader) sheet(s sheetRef, sst []string, lim Limits) (*Table, error) {
	t := &Table{Format: "xlsx"}
	var (
		rowNum, rows int
		rec          []string
		inRow        bool
		// the cell being read
		col               int
		typ               string
		inV, inIs, inCell bool
		v                 strings.Builder
		is                *text
	)
	err := w.each(s.part, func(tok xml.Token) error {
		switch el := tok.(type) {
		case xml.StartElement:
			switch el.Name.Local {
			case "row":
				if rows++; rows > maxSheetRows {
					return fileErrorf("the sheet %q has more than %d rows, more than a spreadsheet holds", s.name, maxSheetRows)
				}
				if rows%4096 == 0 {
					if err := w.ctx.Err(); err != nil {
						return err
					}
				}
				next := rowNum + 1
				if r, ok := attr(el, "r"); ok {
					n, err := strconv.Atoi(r)
					if err != nil || n <= rowNum || n > maxSheetRows {
						return fileErrorf("the sheet %q is damaged: a row is numbered %q after row %d", s.name, r, rowNum)
					}
					next = n
				}
				rowNum, rec, inRow, col = next, nil, true, 0
			case "c":
				if !inRow {
					return nil
				}
				next := col + 1
				if r, ok := attr(el, "r"); ok {
					c, ok := cellColumn(r)
					if !ok {
						return fileErrorf("row %d of sheet %q has a cell %q beyond a spreadsheet's %d columns", rowNum, s.name, r, maxRowCells)
					}
					next = c
				}
				if next > maxRowCells {
					return fileErrorf("row %d of sheet %q has more than %d cells, more than a spreadsheet's columns", rowNum, s.name, maxRowCells)
				}
				col, inCell, is = next, true, nil
				typ, _ = attr(el, "t")
				v.Reset()
			case "v":
				inV = inCell
			case "is":
				if inCell {
					inIs, is = true, &text{}
				}
			default:
				if inIs {
					is.token(tok)
				}
			}
		case xml.CharData:
			switch {
			case inV:
				if v.Len()+len(el) > 4*MaxCellChars {
					return fileErrorf("line %d, column %d has more than %d characters, the most a spreadsheet cell holds", rowNum, col, MaxCellChars)
				}
				v.Write(el)
			case inIs:
				is.token(tok)
			}
		case xml.EndElement:
			switch el.Name.Local {
			case "v":
				inV = false
			case "is":
				inIs = false
			case "c":
				if !inCell {
					return nil
				}
				inCell = false
				val, err := cellValue(typ, v.String(), is, sst)
				if err != nil {
					return fileErrorf("line %d, column %d: %v", rowNum, col, err)
				}
				if val == "" {
					return nil
				}
				if col <= len(rec) {
					return fileErrorf("the sheet %q is damaged: row %d names column %d twice or out of order", s.name, rowNum, col)
				}
				for len(rec) < col-1 {
					rec = append(rec, "")
				}
				rec = append(rec, val)
			case "row":
				if !inRow {
					return nil
				}
				inRow = false
				// Padding between cells counts against the cells of the
				// file, as a CSV's empty cells do.
				t.cells += col - len(rec)
				return t.add(rec, rowNum, lim)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.finish()
}

// cellValue is a cell's text: the shared string it names, its inline
// string, or its value as written (numbers unformatted: a person's
// address, name and role are text).
func cellValue(typ, v string, is *text, sst []string) (string, error) {
	switch typ {
	case "s":
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < 0 || i >= len(sst) {
			return "", errors.New("the cell refers to a text the workbook does not hold")
		}
		return sst[i], nil
	case "inlineStr":
		if is == nil {
			return unescapeOOXML(v), nil
		}
		if is.tooLong {
			return "", fmt.Errorf("more than %d characters, the most a spreadsheet cell holds", MaxCellChars)
		}
		return is.String(), nil
	}
	return v, nil
}

// unescapeOOXML decodes the _xHHHH_ escapes with which OOXML writes
// characters XML cannot hold (a carriage return is _x000D_; _x005F_ is
// an underscore).
func unescapeOOXML(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && s[i+6] == '_' {
			if n, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err == nil {
				b.WriteRune(rune(n))
				i += 7
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
