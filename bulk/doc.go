// Package bulk is the bulk upload of people from a spreadsheet: reading
// CSV (UTF-8 with or without BOM, UTF-16 with BOM; comma, semicolon or tab)
// and XLSX (streamed by its own bounded reader, xlsx.go), mapping the columns to fields by their
// headings, the report as CSV, the runner that works import jobs, and the
// console's import pages under /admin/{account}/imports.
//
// It leaves to package directory what each row means (manual add's rules:
// an existing person only gains a membership, roles must exist, the domain
// rules of DESIGN rule 10) and the job itself, which directory keeps in the
// database and commits in batches.
//
// Routes (Handler.Register):
//
//	GET  /admin/{account}/imports              upload form and recent imports
//	POST /admin/{account}/imports/preview      read the file, show the mapping and the dry run
//	POST /admin/{account}/imports              start the import (the file comes again with the mapping)
//	GET  /admin/{account}/imports/{id}         progress, then the report
//	GET  /admin/{account}/imports/{id}/status  progress as JSON, polled by imports.js
//	GET  /admin/{account}/imports/{id}/report.csv
//	POST /admin/{account}/imports/{id}/cancel
//	GET  /admin/{account}/imports/template.csv, template.xlsx
package bulk
