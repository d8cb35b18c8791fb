package bulk

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/web"
)

//go:embed templates
var templates embed.FS

// ConsoleConfig configures the import pages.
type ConsoleConfig struct {
	Directory *directory.Service
	Pages     *web.Renderer
	Secure    bool // behind HTTPS: the session cookie has the __Host- name
	Limits    Limits
	// Slots bounds the uploads read at once, with the API's.
	Slots  *Slots
	Logger *slog.Logger
}

// Handler serves the console's import pages. It authorises as the console
// does: the session's person must be an owner or admin of the account in
// the path (directory.Service.Console), allowed to add members.
type Handler struct {
	dir    *directory.Service
	pages  *web.Renderer
	cookie web.SessionCookie
	limits Limits
	slots  *Slots
	log    *slog.Logger
	tmpl   map[string]*template.Template
}

// NewHandler parses the pages.
func NewHandler(cfg ConsoleConfig) (*Handler, error) {
	h := &Handler{dir: cfg.Directory, pages: cfg.Pages, cookie: web.SessionCookie{Secure: cfg.Secure}, limits: cfg.Limits.withDefaults(), slots: cfg.Slots, log: cfg.Logger, tmpl: map[string]*template.Template{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range []string{"imports", "prepare", "job"} {
		t, err := web.ParseConsolePage(templates, "templates/nav.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		h.tmpl[name] = t
	}
	return h, nil
}

// Register adds the import pages to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	get := func(fn pageFunc) http.Handler { return h.pages.Handler(h.admin(fn)) }
	post := func(fn pageFunc) http.Handler { return h.pages.Protect(h.pages.Handler(h.admin(fn))) }
	mux.Handle("GET /admin/{account}/imports", get(h.handleImports))
	mux.Handle("GET /admin/{account}/imports/template.csv", get(h.handleTemplateCSV))
	mux.Handle("GET /admin/{account}/imports/template.xlsx", get(h.handleTemplateXLSX))
	mux.Handle("POST /admin/{account}/imports/upload", h.bounded(post(h.handleUpload)))
	mux.Handle("GET /admin/{account}/imports/prepare", get(h.handlePrepare))
	mux.Handle("POST /admin/{account}/imports/start", post(h.handleStart))
	mux.Handle("GET /admin/{account}/imports/{id}", get(h.handleJob))
	mux.Handle("GET /admin/{account}/imports/{id}/status", get(h.handleStatus))
	mux.Handle("GET /admin/{account}/imports/{id}/report.csv", get(h.handleReport))
	mux.Handle("POST /admin/{account}/imports/{id}/cancel", post(h.handleCancel))
}

type view struct {
	Admin    directory.Admin
	Base     string
	Section  string // the console's navigation entry: "imports"
	Problems []string
	Page     any
}

type pageFunc func(w http.ResponseWriter, r *http.Request, v view) error

// admin runs fn for an owner or admin of the account in the path who may
// add people, as the console's pages do.
func (h *Handler) admin(fn pageFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		visit, err := h.cookie.SignedIn(w, r, h.dir)
		if visit == nil || err != nil {
			return err
		}
		adm, err := h.dir.Console(r.Context(), *visit, r.PathValue("account"))
		if err != nil {
			return err
		}
		if adm.Elsewhere {
			return directory.ForbiddenError("Your session is open in another account: switch to " + adm.Account.Title() + " first (from your home page).")
		}
		if !adm.Can(directory.AddMembers) {
			return directory.ForbiddenError("Your role does not allow adding people here.")
		}
		return fn(w, r, view{Admin: adm, Base: "/admin/" + url.PathEscape(adm.Account.Slug), Section: "imports"})
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, v view) {
	a := v.Admin.Account
	h.pages.Render(w, r, status, h.tmpl[name], web.Page{
		Title: title, Wide: true, Data: v,
		Branding: web.Branding{Name: a.Title(), LogoURL: a.LogoSource(), PrimaryColor: a.Branding.PrimaryColor},
	})
}

func (h *Handler) handleImports(w http.ResponseWriter, r *http.Request, v view) error {
	return h.importsPage(w, r, v, http.StatusOK)
}

func (h *Handler) importsPage(w http.ResponseWriter, r *http.Request, v view, status int) error {
	ims, err := h.dir.ImportJobs(r.Context(), v.Admin.Account.ID, 10)
	if err != nil {
		return err
	}
	v.Page = struct {
		MaxSize, Kept string
		Imports       []directory.Import
	}{sizeText(h.limits.MaxBytes), directory.ImportUploadKept(), ims}
	h.render(w, r, status, "imports", "Import people", v)
	return nil
}

func (h *Handler) handleTemplateCSV(w http.ResponseWriter, r *http.Request, v view) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="admit-import-template.csv"`)
	_, err := w.Write(TemplateCSV())
	return err
}

func (h *Handler) handleTemplateXLSX(w http.ResponseWriter, r *http.Request, v view) error {
	b, err := TemplateXLSX()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="admit-import-template.xlsx"`)
	_, err = w.Write(b)
	return err
}

// refuse shows the upload page again with what is wrong with the file.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, v view, err error) error {
	var fe *FileError
	switch {
	case errors.As(err, &fe):
		v.Problems = []string{fe.Msg}
	case directory.KindOf(err) == directory.Invalid || directory.KindOf(err) == directory.NotFound:
		v.Problems = directory.ProblemsOf(err)
		if len(v.Problems) == 0 {
			v.Problems = []string{directory.Message(err)}
		}
	case directory.KindOf(err) == directory.Gone:
		// The upload expired or was discarded: the message says which,
		// above the form to upload it again.
		v.Problems = []string{directory.Message(err)}
		return h.importsPage(w, r, v, http.StatusGone)
	case directory.KindOf(err) == directory.Unavailable:
		// Every slot was taken (Slots.Take): the form, ready to send again.
		h.log.WarnContext(r.Context(), "upload refused: no turn to be read", "path", web.SafePath(r), "err", err)
		web.SetRetryAfter(w)
		v.Problems = []string{directory.Message(err)}
		return h.importsPage(w, r, v, http.StatusServiceUnavailable)
	default:
		return err
	}
	return h.importsPage(w, r, v, http.StatusBadRequest)
}

// bounded answers an upload over the limit with the import page saying
// so (413), before the CSRF check reads the form: a form cut short at the
// limit has lost its token, and the check would tell the admin the form
// had expired. A body declared too long is answered unread; one that turns
// out too long (sent in chunks) is read up to the limit only, as the CSRF
// check would read it. The page changes nothing and shows only what the
// import page shows, so it needs no token; within the limit the CSRF
// check runs as on every form. Nothing of the body is read before the
// sender is known to be an admin who may upload here: anyone else (signed
// out, a member, another account's admin) would otherwise have the server
// take in 50 MiB a request, as often at once as they liked (rule 12).
func (h *Handler) bounded(next http.Handler) http.Handler {
	return h.pages.Handler(h.admin(func(w http.ResponseWriter, r *http.Request, v view) error {
		// The form's other fields are small; the file is bounded by the limit.
		limit := h.limits.MaxBytes + 1<<20
		if r.ContentLength > limit {
			return h.handleTooLarge(w, r, v)
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var tooBig *http.MaxBytesError
		if err := r.ParseMultipartForm(web.MultipartMemory); errors.As(err, &tooBig) {
			return h.handleTooLarge(w, r, v)
		}
		next.ServeHTTP(w, r)
		return nil
	}))
}

func (h *Handler) handleTooLarge(w http.ResponseWriter, r *http.Request, v view) error {
	v.Problems = []string{fmt.Sprintf("The file is larger than the limit of %s: split it into smaller files, each with the heading row, and upload them one after the other.", sizeText(h.limits.MaxBytes))}
	return h.importsPage(w, r, v, http.StatusRequestEntityTooLarge)
}

func (h *Handler) handleUpload(w http.ResponseWriter, r *http.Request, v view) error {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return h.refuse(w, r, v, fileErrorf("choose a file to upload"))
	}
	defer f.Close()
	release, err := h.slots.Take(r.Context(), v.Admin.Account.ID)
	if err != nil {
		return h.refuse(w, r, v, err)
	}
	defer release()
	data, err := readFile(f, h.limits.MaxBytes)
	if err != nil {
		return h.refuse(w, r, v, err)
	}
	sheet := r.FormValue("sheet")
	// Read it whole now: a file that cannot be read is refused at once,
	// and nothing is kept of it.
	if _, err := parseTable(r.Context(), data, sheet, h.limits); err != nil {
		return h.refuse(w, r, v, err)
	}
	up, err := h.dir.SaveImportUpload(r.Context(), v.Admin, filepath.Base(hdr.Filename), data)
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/imports/prepare?"+url.Values{"upload": {up.ID}, "sheet": {sheet}}.Encode(), http.StatusSeeOther)
	return nil
}

// prepared is an upload read with the mapping and choices of a form.
type prepared struct {
	upload  directory.ImportUpload
	table   *Table
	mapping Mapping
	unknown []string
	rows    []Row
	spec    directory.ImportSpec
}

// prepare reads the upload, in one of the slots. Only its rows (and the
// table's header) go on to the preview or the job: the file's bytes and
// cells are let go first.
func (h *Handler) prepare(r *http.Request, v view, form url.Values) (prepared, error) {
	var p prepared
	release, err := h.slots.Take(r.Context(), v.Admin.Account.ID)
	if err != nil {
		return p, err
	}
	defer release()
	if p.upload, err = h.dir.ImportUploadOf(r.Context(), v.Admin, form.Get("upload")); err != nil {
		return p, err
	}
	if p.table, err = parseTable(r.Context(), p.upload.Data, form.Get("sheet"), h.limits); err != nil {
		return p, err
	}
	p.mapping, p.unknown = MapHeader(p.table.Header)
	if form.Has("col_email") {
		if p.mapping, err = ParseMapping(func(f Field) string { return form.Get("col_" + string(f)) }); err != nil {
			return p, err
		}
		p.unknown = nil
		for i, hd := range p.table.Header {
			used := false
			for _, c := range p.mapping {
				used = used || c == i
			}
			if !used && hd != "" {
				p.unknown = append(p.unknown, hd)
			}
		}
	}
	if p.rows, err = p.table.Rows(p.mapping); err != nil {
		return p, err
	}
	p.upload.Data, p.table.Records, p.table.Lines = nil, nil, nil
	p.spec = directory.ImportSpec{Mode: directory.ImportMode(form.Get("mode")), Role: directory.Role(form.Get("role")), FileName: p.upload.FileName, Password: form.Get("password")}
	if p.spec.Mode == "" {
		p.spec.Mode = directory.ImportPassword
	}
	return p, nil
}

// previewRows bounds the rows the preview page lists.
const previewRows = 500

func (h *Handler) handlePrepare(w http.ResponseWriter, r *http.Request, v view) error {
	p, err := h.prepare(r, v, r.URL.Query())
	if err != nil {
		return h.refuse(w, r, v, err)
	}
	out, counts, err := h.dir.PreviewMemberImport(r.Context(), v.Admin, p.spec, ImportRows(p.rows))
	if err != nil {
		return h.refuse(w, r, v, err)
	}
	roles, err := h.dir.Roles(r.Context(), v.Admin.Account.ID)
	if err != nil {
		return err
	}
	type field struct {
		Field  Field
		Label  string
		Column int
	}
	var fields []field
	for _, f := range Fields() {
		fields = append(fields, field{f, f.Label(), p.mapping.Column(f)})
	}
	role := string(p.spec.Role)
	if role == "" {
		role = string(directory.RoleMember)
	}
	v.Page = struct {
		Upload, Sheet, FileName, Mode, Role string
		Header, Unknown                     []string
		Fields                              []field
		Roles                               []directory.Role
		Rows                                []directory.ImportRow
		More                                bool
		Total                               int
		Summary                             string
	}{p.upload.ID, r.URL.Query().Get("sheet"), p.upload.FileName, string(p.spec.Mode), role,
		p.table.Header, p.unknown, fields, v.Admin.Assignable(roles), out[:min(len(out), previewRows)], len(out) > previewRows, len(out), summary(counts, true)}
	h.render(w, r, http.StatusOK, "prepare", "Preview the import", v)
	return nil
}

func (h *Handler) handleStart(w http.ResponseWriter, r *http.Request, v view) error {
	if err := r.ParseForm(); err != nil {
		return directory.InvalidError("the form could not be read")
	}
	p, err := h.prepare(r, v, r.PostForm)
	if err != nil {
		return h.refuse(w, r, v, err)
	}
	im, err := h.dir.StartUploadedImport(r.Context(), v.Admin, p.upload.ID, p.spec, ImportRows(p.rows))
	if k := directory.KindOf(err); k == directory.Gone || k == directory.NotFound {
		// It expired, was discarded or replaced while it was read.
		return h.refuse(w, r, v, err)
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/imports/"+url.PathEscape(im.ID), http.StatusSeeOther)
	return nil
}

func (h *Handler) handleJob(w http.ResponseWriter, r *http.Request, v view) error {
	im, err := h.dir.ImportJob(r.Context(), v.Admin.Account.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	v.Page = struct {
		Import  directory.Import
		Summary string
	}{im, summary(im.Counts, false)}
	h.render(w, r, http.StatusOK, "job", "Import of "+im.FileName, v)
	return nil
}

// status is the JSON the progress bar polls.
type status struct {
	ID      string                 `json:"id"`
	Status  string                 `json:"status"`
	Total   int                    `json:"total"`
	Done    int                    `json:"done"`
	Counts  directory.ImportCounts `json:"counts"`
	Summary string                 `json:"summary"`
}

func (h *Handler) handleStatus(w http.ResponseWriter, r *http.Request, v view) error {
	im, err := h.dir.ImportJob(r.Context(), v.Admin.Account.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(status{im.ID, string(im.Status), im.Total, im.Counts.Done(), im.Counts, summary(im.Counts, false)})
}

// summary says in words what an import's rows do (planned: the preview's
// "join") or did ("joined"), each count with its noun in number: the
// preview, the job's page and its progress script all show this text.
func summary(c directory.ImportCounts, planned bool) string {
	n := func(k int, one, many string) string {
		if k == 1 {
			return "1 " + one
		}
		return strconv.Itoa(k) + " " + many
	}
	joined := n(c.Joined, "joined this account", "joined this account")
	if planned {
		joined = n(c.Joined, "joins this account", "join this account")
	}
	return n(c.Created, "new person", "new people") + ", " + joined + ", " +
		n(c.AlreadyMember, "already a member", "already members") + ", " +
		n(c.Duplicate, "duplicate", "duplicates") + ", " + n(c.Failed, "error", "errors") + "."
}

func (h *Handler) handleReport(w http.ResponseWriter, r *http.Request, v view) error {
	im, err := h.dir.ImportJob(r.Context(), v.Admin.Account.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-report-`+im.ID+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	rw, err := NewReportWriter(w)
	if err != nil {
		return nil // the client went away
	}
	for rows, err := range h.dir.ImportReportPages(r.Context(), v.Admin.Account.ID, im.ID) {
		if err != nil {
			// Headers are sent: the truncated file is all that can be said.
			h.log.ErrorContext(r.Context(), "import report", "import_id", im.ID, "err", err)
			return nil
		}
		if err := rw.Write(rows); err != nil {
			return nil
		}
	}
	_ = rw.Flush()
	return nil
}

func (h *Handler) handleCancel(w http.ResponseWriter, r *http.Request, v view) error {
	im, err := h.dir.CancelMemberImport(r.Context(), v.Admin, r.PathValue("id"))
	if err != nil {
		return err
	}
	http.Redirect(w, r, v.Base+"/imports/"+url.PathEscape(im.ID), http.StatusSeeOther)
	return nil
}
