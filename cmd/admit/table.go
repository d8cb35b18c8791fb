package main

import (
	"strings"
	"text/tabwriter"
)

// table lays a list out as an operator reads it: a header row, then one
// row a record in aligned columns. Scripts read --json instead, so the
// columns may change; the JSON may not.
type table struct {
	head []string
	rows [][]string
}

func newTable(head ...string) *table { return &table{head: head} }

// add appends a row. Cells are made one line (a name holding a tab or
// newline would break the columns, and a terminal escape would reach the
// operator's terminal); an empty cell prints as "-" so that columns stay
// countable.
func (t *table) add(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		if c = oneLine(c); c == "" {
			c = "-"
		}
		row[i] = c
	}
	t.rows = append(t.rows, row)
}

func (t *table) len() int { return len(t.rows) }

// String returns the table without a trailing newline.
func (t *table) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, row := range append([][]string{t.head}, t.rows...) {
		tw.Write([]byte(strings.Join(row, "\t") + "\n"))
	}
	tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}
