package admin

import (
	"context"
	"errors"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

// The API's bulk upload: a spreadsheet posted as multipart/form-data
// becomes an import job (or, with dry_run, the report of what it would do),
// which admit serve's import workers run. The jobs themselves are the
// directory's; only reading the file is package bulk's.

// SpreadsheetReader reads uploaded spreadsheets for the imports API: the
// file formats and the header mapping are package bulk's
// (bulk.Spreadsheets), which admin may not import; cmd/admit passes it in
// APIConfig.Imports.
type SpreadsheetReader interface {
	// MaxBytes is the largest file ReadRows reads.
	MaxBytes() int64
	// ReadRows reads a CSV or XLSX file whole (sheet names the XLSX sheet,
	// the first when empty) and maps its header; a file it cannot read is
	// an Invalid error that names the problem. unknown are the headings
	// it did not map. It reads only as many files at once as the replica
	// allows (with the console's), one at a time for an account, and is an
	// Unavailable error when it waited for its turn in vain.
	ReadRows(ctx context.Context, accountID string, file io.Reader, sheet string) (rows []directory.ImportRow, unknown []string, err error)
	// WriteReport writes the report's pages as CSV with cells
	// neutralised against spreadsheet formulas; a page's error ends it.
	WriteReport(w io.Writer, pages iter.Seq2[[]directory.ImportRow, error]) error
}

// importsPath is the pattern of the upload, whose body may be a file.
const importsPath = "/api/v1/accounts/{account}/imports"

type importJSON struct {
	ID         string                 `json:"id"`
	Status     string                 `json:"status"`
	Mode       string                 `json:"mode"`
	Role       string                 `json:"role"`
	FileName   string                 `json:"file_name"`
	Total      int                    `json:"total"`
	Done       int                    `json:"done"`
	Counts     directory.ImportCounts `json:"counts"`
	CreatedAt  time.Time              `json:"created_at"`
	UpdatedAt  time.Time              `json:"updated_at"`
	FinishedAt *time.Time             `json:"finished_at"`
}

func toImport(im directory.Import) importJSON {
	return importJSON{ID: im.ID, Status: string(im.Status), Mode: string(im.Mode), Role: string(im.Role), FileName: im.FileName,
		Total: im.Total, Done: im.Counts.Done(), Counts: im.Counts, CreatedAt: im.CreatedAt, UpdatedAt: im.UpdatedAt, FinishedAt: im.FinishedAt}
}

type importRowJSON struct {
	Line      int    `json:"line"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`    // empty: the import's role
	Outcome   string `json:"outcome"` // "pending" until the job reaches the row
	Reason    string `json:"reason"`
}

func toImportRows(rows []directory.ImportRow) []importRowJSON {
	out := make([]importRowJSON, len(rows))
	for i, r := range rows {
		o := string(r.Outcome)
		if r.Outcome == directory.OutcomePending {
			o = "pending"
		}
		out[i] = importRowJSON{Line: r.Line, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, Role: string(r.Role), Outcome: o, Reason: r.Reason}
	}
	return out
}

// importAdmin opens the account of the path for a key that may add people.
func (a *API) importAdmin(r *http.Request, key directory.APIKey) (directory.Admin, error) {
	adm, err := a.admin(r, key)
	if err != nil {
		return adm, err
	}
	if !adm.Can(directory.AddMembers) {
		return adm, directory.ForbiddenError("This key's role does not allow adding people.")
	}
	return adm, nil
}

// uploadLimit bounds the body of an upload: the file's limit and room for
// the form's other fields and the multipart framing.
func (a *API) uploadLimit() int64 {
	if a.sheets == nil {
		return MaxAPIBody
	}
	return a.sheets.MaxBytes() + 1<<20
}

func (a *API) createImport(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.importAdmin(r, key)
	if err != nil {
		return err
	}
	if a.sheets == nil {
		return notImplemented("This server does not take spreadsheet uploads.")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
		return problem{status: http.StatusUnsupportedMediaType, title: http.StatusText(http.StatusUnsupportedMediaType), code: "unsupported_media_type",
			detail: "Send the upload as multipart/form-data, the spreadsheet in the field \"file\"."}
	}
	// The form is read as the console's is: a MiB in memory, the rest in
	// temporary files (removed when the request ends), so that uploads
	// still arriving hold little memory however many there are.
	if err := r.ParseMultipartForm(web.MultipartMemory); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return problem{status: http.StatusRequestEntityTooLarge, title: http.StatusText(http.StatusRequestEntityTooLarge), code: "too_large",
				detail: "The file is larger than the limit of " + sizeText(a.sheets.MaxBytes()) + "."}
		}
		return directory.InvalidError("the form could not be read as multipart/form-data")
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return directory.InvalidError("send the spreadsheet in the form field \"file\"")
	}
	defer f.Close()
	dryRun := false
	if v := r.PostFormValue("dry_run"); v != "" {
		if dryRun, err = strconv.ParseBool(v); err != nil {
			return directory.InvalidError("dry_run must be true or false")
		}
	}
	// A dry run of a large file answers every row unless asked for the
	// rows that need a look (all but "created"): a million rows is a
	// response of some hundred megabytes.
	onlyProblems := false
	switch r.PostFormValue("rows") {
	case "", "all":
	case "problems":
		onlyProblems = true
	default:
		return directory.InvalidError("rows must be all or problems")
	}
	spec := directory.ImportSpec{Mode: directory.ImportMode(r.PostFormValue("mode")), Role: directory.Role(r.PostFormValue("role")),
		FileName: filepath.Base(hdr.Filename), Password: r.PostFormValue("password")}
	if spec.Mode == "" {
		return directory.InvalidError("mode is required: password, invite or none")
	}
	// The whole file is read before anything is written: a file that
	// cannot be read whole writes nothing. It is read from the form's
	// part as it is: one copy, the reader's.
	rows, unknown, err := a.sheets.ReadRows(r.Context(), adm.Account.ID, f, r.PostFormValue("sheet"))
	if err != nil {
		return err
	}
	if unknown == nil {
		unknown = []string{}
	}
	if dryRun {
		out, counts, err := a.dir.PreviewMemberImport(r.Context(), adm, spec, rows)
		if err != nil {
			return err
		}
		changesNothing(w)
		total := len(out)
		if onlyProblems {
			out = slices.DeleteFunc(out, func(r directory.ImportRow) bool { return r.Outcome == directory.OutcomeCreated })
		}
		return writeJSON(w, http.StatusOK, struct {
			DryRun         bool                   `json:"dry_run"`
			Total          int                    `json:"total"`
			Counts         directory.ImportCounts `json:"counts"`
			UnknownColumns []string               `json:"unknown_columns"`
			Rows           []importRowJSON        `json:"rows"`
		}{true, total, counts, unknown, toImportRows(out)})
	}
	im, err := a.dir.StartMemberImport(r.Context(), adm, spec, rows)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/accounts/"+url.PathEscape(adm.Account.Slug)+"/imports/"+url.PathEscape(im.ID))
	return writeJSON(w, http.StatusAccepted, struct {
		importJSON
		UnknownColumns []string `json:"unknown_columns"`
	}{toImport(im), unknown})
}

func (a *API) listImports(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.importAdmin(r, key)
	if err != nil {
		return err
	}
	limit, err := pageSize(r, 20, 100)
	if err != nil {
		return err
	}
	ims, err := a.dir.ImportJobs(r.Context(), adm.Account.ID, limit)
	if err != nil {
		return err
	}
	out := make([]importJSON, len(ims))
	for i, im := range ims {
		out[i] = toImport(im)
	}
	return writeJSON(w, http.StatusOK, page(out, ""))
}

// importJob is the job of the path, of the account the key may add people to.
func (a *API) importJob(r *http.Request, key directory.APIKey) (directory.Import, error) {
	adm, err := a.importAdmin(r, key)
	if err != nil {
		return directory.Import{}, err
	}
	return a.dir.ImportJob(r.Context(), adm.Account.ID, r.PathValue("id"))
}

func (a *API) getImport(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	im, err := a.importJob(r, key)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toImport(im))
}

// getImportReport pages the rows by line (the cursor is the last line
// given); ?format=csv is the whole report as the console downloads it.
func (a *API) getImportReport(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	im, err := a.importJob(r, key)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	switch q.Get("format") {
	case "", "json":
	case "csv":
		return a.importReportCSV(w, r, im)
	default:
		return directory.InvalidError("format must be json or csv")
	}
	limit, err := pageSize(r, 1000, directory.MaxImportReportPage)
	if err != nil {
		return err
	}
	after := 0
	if c := q.Get("after"); c != "" {
		// A line number: the database keeps 32 bits of it.
		n, err := strconv.ParseInt(c, 10, 32)
		if err != nil || n < 0 {
			return directory.InvalidError("cursor is not one this API gave")
		}
		after = int(n)
	}
	rows, err := a.dir.ImportReport(r.Context(), im.AccountID, im.ID, after, limit+1)
	if err != nil {
		return err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = strconv.Itoa(rows[limit-1].Line)
	}
	return writeJSON(w, http.StatusOK, page(toImportRows(rows), next))
}

func (a *API) importReportCSV(w http.ResponseWriter, r *http.Request, im directory.Import) error {
	if a.sheets == nil {
		return notImplemented("This server does not write reports as CSV; ask for JSON.")
	}
	// The first page is read before the headers are sent, so that an
	// error can still be a problem.
	next, stop := iter.Pull2(a.dir.ImportReportPages(r.Context(), im.AccountID, im.ID))
	defer stop()
	first, err, more := next()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-report-`+im.ID+`.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	err = a.sheets.WriteReport(w, func(yield func([]directory.ImportRow, error) bool) {
		for rows, err := first, error(nil); more; rows, err, more = next() {
			if !yield(rows, err) {
				return
			}
		}
	})
	if err != nil {
		// The headers are sent: a truncated file is all that can be said.
		a.log.ErrorContext(r.Context(), "import report", "import_id", im.ID, "err", err)
	}
	return nil
}

func (a *API) cancelImport(w http.ResponseWriter, r *http.Request, key directory.APIKey) error {
	adm, err := a.importAdmin(r, key)
	if err != nil {
		return err
	}
	im, err := a.dir.CancelMemberImport(r.Context(), adm, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toImport(im))
}

// sizeText is a file size limit for people: in MiB when it is whole MiB.
func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
