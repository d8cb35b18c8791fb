package bulk

import (
	"context"
	"errors"
	"io"
	"iter"

	"github.com/admit-dev/admit/directory"
)

// Spreadsheets is package bulk's part of the JSON API's imports (admin's
// SpreadsheetReader, which admin may not import bulk for): reading an
// uploaded file into rows, and writing a report as CSV. cmd/admit passes
// it in admin.APIConfig.Imports.
type Spreadsheets struct {
	Limits Limits
	// Slots bounds the uploads read at once, with the console's pages.
	Slots *Slots
}

// MaxBytes is the largest file ReadRows reads.
func (s Spreadsheets) MaxBytes() int64 { return s.Limits.withDefaults().MaxBytes }

// ReadRows reads the file whole, in one of the slots (the account's one
// turn), and maps its header
// by name. A file that cannot be read, or has no email column, is an
// Invalid error with the FileError's message; unknown are the columns no
// field took. With every slot taken for ReadWait it is an Unavailable
// error.
func (s Spreadsheets) ReadRows(ctx context.Context, accountID string, file io.Reader, sheet string) (rows []directory.ImportRow, unknown []string, err error) {
	release, err := s.Slots.Take(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	t, err := ReadTable(ctx, file, sheet, s.Limits)
	if err != nil {
		return nil, nil, asInvalid(err)
	}
	m, unknown := MapHeader(t.Header)
	rs, err := t.Rows(m)
	if err != nil {
		return nil, nil, asInvalid(err)
	}
	return ImportRows(rs), unknown, nil
}

// WriteReport writes the report's pages as CSV with its cells
// neutralised; a page's error ends it.
func (s Spreadsheets) WriteReport(w io.Writer, pages iter.Seq2[[]directory.ImportRow, error]) error {
	rw, err := NewReportWriter(w)
	if err != nil {
		return err
	}
	for rows, err := range pages {
		if err != nil {
			return err
		}
		if err := rw.Write(rows); err != nil {
			return err
		}
	}
	return rw.Flush()
}

// asInvalid makes a FileError the directory's Invalid kind, which every
// edge already answers as the client's mistake.
func asInvalid(err error) error {
	var fe *FileError
	if errors.As(err, &fe) {
		return directory.InvalidError(fe.Msg)
	}
	return err
}
