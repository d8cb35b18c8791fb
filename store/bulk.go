package store

import "strings"

// maxParams is how many ? arguments one statement takes: PostgreSQL's
// protocol allows 65,535, SQLite 32,766 since 3.32; a few thousand keep a
// statement's text and its plan small.
const maxParams = 3000

// maxRowsPerStatement is how many rows of columns arguments one
// multi-row statement carries.
func maxRowsPerStatement(columns int) int { return max(1, maxParams/columns) }

// rowsOf returns n rows of columns placeholders: "(?, ?), (?, ?)".
func rowsOf(n, columns int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", columns), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// listOf returns n placeholders for IN: "?, ?, ?".
func listOf(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
