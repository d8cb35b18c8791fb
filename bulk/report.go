package bulk

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/admit-dev/admit/directory"
)

// ReportHeader is the first line of a report.
var ReportHeader = []string{"line", "email", "first_name", "last_name", "role", "outcome", "reason"}

// Neutralise makes a cell safe to open in a spreadsheet: a cell that
// begins with = + - @, a tab or a carriage return would be taken as a
// formula (CSV injection, OWASP), so it gets a leading apostrophe.
func Neutralise(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// OutcomeText is how reports name an outcome; a pending row is "not done".
func OutcomeText(o directory.ImportOutcome) string {
	if o == directory.OutcomePending {
		return "not_done"
	}
	return string(o)
}

// ReportWriter writes a report as CSV.
type ReportWriter struct{ w *csv.Writer }

// NewReportWriter writes the header to w.
func NewReportWriter(w io.Writer) (*ReportWriter, error) {
	cw := csv.NewWriter(w)
	return &ReportWriter{w: cw}, cw.Write(ReportHeader)
}

// Write adds rows.
func (rw *ReportWriter) Write(rows []directory.ImportRow) error {
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.Line), r.Email, r.FirstName, r.LastName, string(r.Role), OutcomeText(r.Outcome), r.Reason}
		for i := range rec {
			rec[i] = Neutralise(rec[i])
		}
		if err := rw.w.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

// Flush ends the report.
func (rw *ReportWriter) Flush() error {
	rw.w.Flush()
	return rw.w.Error()
}
