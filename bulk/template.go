package bulk

import (
	"bytes"
	"fmt"

	"github.com/xuri/excelize/v2"
)

// templateRows are the headings admit knows best, and one example person.
var templateRows = [][]string{
	{"Email", "First name", "Last name", "Role"},
	{"ada.lovelace@example.com", "Ada", "Lovelace", "member"},
}

// TemplateCSV is the template spreadsheet as CSV (UTF-8, with a byte
// order mark so that Excel opens it as UTF-8).
func TemplateCSV() []byte {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	for _, r := range templateRows {
		for i, c := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(c)
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// TemplateXLSX is the template spreadsheet as an XLSX workbook.
func TemplateXLSX() ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	if err := f.SetSheetName(sheet, "People"); err != nil {
		return nil, err
	}
	for i, r := range templateRows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		row := make([]any, len(r))
		for j, c := range r {
			row[j] = c
		}
		if err := f.SetSheetRow("People", cell, &row); err != nil {
			return nil, fmt.Errorf("template: %w", err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return buf.Bytes(), nil
}
