package admin

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/admit-dev/admit/directory"
)

// auditPageSize is how many events one page of the audit log shows;
// auditExportLimit bounds an export, which pages through the log.
const (
	auditPageSize    = 50
	auditExportLimit = 100_000
)

func (h *Handler) registerAudit(mux *http.ServeMux) {
	mux.Handle("GET /admin/{account}/audit", h.pages.Handler(h.console(h.handleAudit)))
	mux.Handle("GET /admin/{account}/audit.csv", h.pages.Handler(h.console(h.handleAuditCSV)))
}

// auditForm is the audit log's filters as the query string carries them.
type auditForm struct {
	Actor, Action, Person, Since, Until string
}

func readAuditForm(q url.Values) auditForm {
	return auditForm{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Person: strings.TrimSpace(q.Get("person")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until"))}
}

func (f auditForm) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "person": f.Person, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// filter reads the dates: since from the start of its day, until to the
// end of its day (UTC).
func (f auditForm) filter() (directory.AuditFilter, []string) {
	out := directory.AuditFilter{Actor: f.Actor, Action: f.Action, Person: f.Person}
	var problems []string
	if f.Since != "" {
		t, err := time.Parse("2006-01-02", f.Since)
		if err != nil {
			problems = append(problems, "the first day must be a date like 2026-12-01")
		}
		out.Since = t
	}
	if f.Until != "" {
		t, err := time.Parse("2006-01-02", f.Until)
		if err != nil {
			problems = append(problems, "the last day must be a date like 2026-12-31")
		}
		out.Until = t.Add(24 * time.Hour)
	}
	return out, problems
}

type auditPage struct {
	Form   auditForm
	Events []auditRow
	Next   string
	First  string
	Export string
}

func (h *Handler) handleAudit(w http.ResponseWriter, r *http.Request, v view) error {
	v.Section = "audit"
	q := r.URL.Query()
	form := readAuditForm(q)
	p := auditPage{Form: form, Export: v.Base + "/audit.csv"}
	if enc := form.query().Encode(); enc != "" {
		p.Export += "?" + enc
	}
	f, problems := form.filter()
	var page directory.AuditPage
	if len(problems) == 0 {
		var err error
		page, err = h.dir.AuditLog(r.Context(), v.Admin, f, q.Get("after"), auditPageSize)
		if directory.KindOf(err) == directory.Invalid {
			problems = directory.ProblemsOf(err)
		} else if err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		v.Page, v.Problems = p, problems
		h.render(w, r, http.StatusBadRequest, "audit", "Audit log", v)
		return nil
	}
	p.Events = auditRows(page.Events)
	if page.Next != "" {
		next := form.query()
		next.Set("after", page.Next)
		p.Next = v.Base + "/audit?" + next.Encode()
	}
	if q.Get("after") != "" {
		p.First = v.Base + "/audit"
		if enc := form.query().Encode(); enc != "" {
			p.First += "?" + enc
		}
	}
	v.Page = p
	h.render(w, r, http.StatusOK, "audit", "Audit log", v)
	return nil
}

// handleAuditCSV sends the events the filters select as CSV, newest
// first, every cell neutralised for spreadsheets (csvCell).
func (h *Handler) handleAuditCSV(w http.ResponseWriter, r *http.Request, v view) error {
	f, problems := readAuditForm(r.URL.Query()).filter()
	if len(problems) > 0 {
		return directory.InvalidError(problems...)
	}
	ctx := r.Context()
	// The first page before any byte is sent, so that a refusal is a page.
	page, err := h.dir.AuditLog(ctx, v.Admin, f, "", directory.MaxPageSize)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+v.Admin.Account.Slug+`-audit.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	out := csv.NewWriter(w)
	_ = out.Write([]string{"time", "action", "actor_source", "actor", "target_type", "target_id", "data"})
	written := 0
	for {
		for _, e := range page.Events {
			_ = out.Write(neutralised(e.CreatedAt.Format(time.RFC3339), e.Action, string(e.Actor.Source), e.Actor.Name, e.TargetType, e.TargetID, string(e.Data)))
		}
		written += len(page.Events)
		if page.Next == "" || written >= auditExportLimit {
			break
		}
		if page, err = h.dir.AuditLog(ctx, v.Admin, f, page.Next, directory.MaxPageSize); err != nil {
			// The header is sent: the broken file ends here, and the log
			// says why.
			h.log.ErrorContext(ctx, "audit export", "err", err)
			break
		}
	}
	out.Flush()
	return nil
}

func neutralised(cells ...string) []string {
	for i, c := range cells {
		cells[i] = csvCell(c)
	}
	return cells
}

// csvCell makes a value safe in a spreadsheet: one that begins with = + -
// @, a tab or a carriage return would be read as a formula (CSV
// injection, OWASP), so it gets a leading apostrophe, which spreadsheets
// show as text and do not run.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
