package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
)

type importJSON struct {
	Type     string                 `json:"type"` // progress, finished, cancelled
	ID       string                 `json:"id"`
	Account  string                 `json:"account"`
	Mode     string                 `json:"mode"`
	FileName string                 `json:"file_name"`
	Status   string                 `json:"status"`
	Total    int                    `json:"total"`
	Done     int                    `json:"done"`
	Counts   directory.ImportCounts `json:"counts"`
}

func toImportJSON(slug string, im directory.Import) importJSON {
	typ := "progress"
	if !im.Status.Open() {
		typ = string(im.Status)
	}
	return importJSON{typ, im.ID, slug, string(im.Mode), im.FileName, string(im.Status), im.Total, im.Counts.Done(), im.Counts}
}

type importRowJSON struct {
	Type      string `json:"type"` // row
	Line      int    `json:"line"`
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Role      string `json:"role,omitempty"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason,omitempty"`
}

// isTerminal reports whether w is a terminal, where a progress bar can
// redraw itself; elsewhere progress goes out as JSON lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// jsonLine writes v as one line of JSON.
func (c *cli) jsonLine(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(c.stdout, "%s\n", b)
}

func (c *cli) importRun(ctx context.Context, args []string) error {
	fs := c.flags("import")
	slug := fs.String("account", "", "account slug")
	file := fs.String("file", "", "the spreadsheet: .csv (UTF-8 or UTF-16; comma, semicolon or tab) or .xlsx")
	passwordStdin := fs.Bool("password-stdin", false, "read one initial password from standard input: every new person gets it and must change it at first sign-in")
	invite := fs.Bool("invite", false, "send each person an invitation instead")
	noPassword := fs.Bool("no-password", false, "add people without a password: they sign in through single sign-on")
	role := fs.String("role", "member", "role of the rows whose Role column is empty")
	sheet := fs.String("sheet", "", "the XLSX sheet to read (default: the first)")
	dryRun := fs.Bool("dry-run", false, "print what each row would become, and change nothing")
	maxMiB := fs.Int64("max-size", bulk.DefaultMaxBytes>>20, "refuse files larger than this many MiB")
	if err := c.parse(fs, args, "account", "file"); err != nil {
		return err
	}
	spec := directory.ImportSpec{Role: directory.Role(*role), FileName: filepath.Base(*file)}
	switch {
	case *passwordStdin && !*invite && !*noPassword:
		spec.Mode = directory.ImportPassword
	case *invite && !*passwordStdin && !*noPassword:
		spec.Mode = directory.ImportInvite
	case *noPassword && !*passwordStdin && !*invite:
		spec.Mode = directory.ImportNoPassword
	default:
		return usageError{msg: "import: give one of --password-stdin, --invite or --no-password"}
	}
	f, err := os.Open(*file)
	if err != nil {
		return directory.InvalidError(fmt.Sprintf("cannot open %s: %v", *file, err))
	}
	defer f.Close()
	tab, err := bulk.ReadTable(ctx, f, *sheet, bulk.Limits{MaxBytes: *maxMiB << 20})
	if err != nil {
		return spreadsheetError(err)
	}
	mapping, unknown := bulk.MapHeader(tab.Header)
	rows, err := tab.Rows(mapping)
	if err != nil {
		return spreadsheetError(err)
	}
	if len(unknown) > 0 {
		// A warning, not a refusal: the rest of the file is imported.
		fmt.Fprintf(c.stderr, "admit: warning: columns not imported (admit reads no such heading): %s\n", oneLine(strings.Join(unknown, ", ")))
	}
	if spec.Mode == directory.ImportPassword {
		if spec.Password, err = readSecret(c.stdin, "--password-stdin", "password"); err != nil {
			return err
		}
	}
	svc, a, done, err := c.account(ctx, *slug)
	if err != nil {
		return err
	}
	defer done()
	if *dryRun {
		out, counts, err := svc.PreviewImport(ctx, a.ID, spec, bulk.ImportRows(rows))
		if err != nil {
			return err
		}
		c.printRows(out)
		if !c.json {
			fmt.Fprintf(c.stdout, "dry run of %d rows: %d to create, %d to join %s, %d already members, %d duplicates, %d errors; nothing was changed\n",
				len(out), counts.Created, counts.Joined, a.Slug, counts.AlreadyMember, counts.Duplicate, counts.Failed)
		}
		return nil
	}
	im, err := svc.CreateImport(ctx, a.ID, c.actor(), spec, bulk.ImportRows(rows))
	if err != nil {
		return err
	}
	return c.runImport(ctx, svc, a, im.ID)
}

// spreadsheetError gives a file that cannot be read the Invalid kind, so that it
// prints as the problem it names.
func spreadsheetError(err error) error {
	if fe, ok := err.(*bulk.FileError); ok {
		return directory.InvalidError(fe.Msg)
	}
	return err
}

func (c *cli) printRows(rows []directory.ImportRow) {
	for _, r := range rows {
		if c.json || !isTerminal(c.stdout) {
			c.jsonLine(importRowJSON{"row", r.Line, r.Email, r.FirstName, r.LastName, string(r.Role), bulk.OutcomeText(r.Outcome), r.Reason})
			continue
		}
		line := fmt.Sprintf("line %d\t%s\t%s", r.Line, r.Email, bulk.OutcomeText(r.Outcome))
		if r.Reason != "" {
			line += "\t" + r.Reason
		}
		fmt.Fprintln(c.stdout, line)
	}
}

// runImport works the job in this process: a bar on a terminal, JSON
// lines otherwise.
func (c *cli) runImport(ctx context.Context, svc *directory.Service, a directory.Account, id string) error {
	bar := !c.json && isTerminal(c.stdout)
	r := &bulk.Runner{Service: svc, Progress: func(im directory.Import) {
		if bar {
			c.drawBar(im)
		} else if im.Status.Open() {
			c.jsonLine(toImportJSON(a.Slug, im))
		}
	}}
	im, err := r.RunNow(ctx, id)
	if err != nil {
		return fmt.Errorf("%w (the import resumes where it stopped: admit import resume --account %s)", err, a.Slug)
	}
	if !bar {
		c.jsonLine(toImportJSON(a.Slug, im))
		return nil
	}
	fmt.Fprintf(c.stdout, "\nimport %s %s: %d rows: %d created, %d joined, %d already members, %d duplicates, %d errors (admit import report --account %s --id %s)\n",
		im.ID, im.Status, im.Total, im.Counts.Created, im.Counts.Joined, im.Counts.AlreadyMember, im.Counts.Duplicate, im.Counts.Failed, a.Slug, im.ID)
	return nil
}

func (c *cli) drawBar(im directory.Import) {
	const width = 40
	done := im.Counts.Done()
	n := 0
	if im.Total > 0 {
		n = done * width / im.Total
	}
	fmt.Fprintf(c.stdout, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(" ", width-n), done, im.Total)
}

// importJob finds the job --id names, or the account's newest.
func (c *cli) importJob(ctx context.Context, svc *directory.Service, a directory.Account, id string) (directory.Import, error) {
	if id != "" {
		return svc.ImportJob(ctx, a.ID, id)
	}
	ims, err := svc.ImportJobs(ctx, a.ID, 1)
	if err != nil {
		return directory.Import{}, err
	}
	if len(ims) == 0 {
		return directory.Import{}, directory.NotFoundError("the account has no imports")
	}
	return ims[0], nil
}

func (c *cli) importCommand(name string, ctx context.Context, args []string, fn func(*flag.FlagSet, *directory.Service, directory.Account, directory.Import) error) error {
	fs := c.flags(name)
	id := fs.String("id", "", "the import (default: the account's newest)")
	return c.inAccount(ctx, fs, args, nil, func(svc *directory.Service, a directory.Account) error {
		im, err := c.importJob(ctx, svc, a, *id)
		if err != nil {
			return err
		}
		return fn(fs, svc, a, im)
	})
}

func (c *cli) importStatus(ctx context.Context, args []string) error {
	return c.importCommand("import status", ctx, args, func(_ *flag.FlagSet, _ *directory.Service, a directory.Account, im directory.Import) error {
		c.output(toImportJSON(a.Slug, im), fmt.Sprintf("import %s of %s (%s mode) is %s: %d of %d rows done: %d created, %d joined, %d already members, %d duplicates, %d errors",
			im.ID, im.FileName, im.Mode, im.Status, im.Counts.Done(), im.Total, im.Counts.Created, im.Counts.Joined, im.Counts.AlreadyMember, im.Counts.Duplicate, im.Counts.Failed))
		return nil
	})
}

func (c *cli) importCancel(ctx context.Context, args []string) error {
	return c.importCommand("import cancel", ctx, args, func(_ *flag.FlagSet, svc *directory.Service, a directory.Account, im directory.Import) error {
		im, err := svc.CancelImport(ctx, a.ID, c.actor(), im.ID)
		if err != nil {
			return err
		}
		c.output(toImportJSON(a.Slug, im), fmt.Sprintf("cancelled import %s: %d of %d rows were done; the others were not added", im.ID, im.Counts.Done(), im.Total))
		return nil
	})
}

func (c *cli) importResume(ctx context.Context, args []string) error {
	return c.importCommand("import resume", ctx, args, func(_ *flag.FlagSet, svc *directory.Service, a directory.Account, im directory.Import) error {
		if !im.Status.Open() {
			return directory.ConflictError(fmt.Sprintf("import %s is %s: there is nothing to resume", im.ID, im.Status))
		}
		return c.runImport(ctx, svc, a, im.ID)
	})
}

func (c *cli) importReport(ctx context.Context, args []string) error {
	return c.importCommand("import report", ctx, args, func(_ *flag.FlagSet, svc *directory.Service, a directory.Account, im directory.Import) error {
		var rw *bulk.ReportWriter
		if !c.json {
			var err error
			if rw, err = bulk.NewReportWriter(c.stdout); err != nil {
				return err
			}
		}
		for rows, err := range svc.ImportReportPages(ctx, a.ID, im.ID) {
			if err != nil {
				return err
			}
			if c.json {
				c.printRows(rows)
			} else if err := rw.Write(rows); err != nil {
				return err
			}
		}
		if rw != nil {
			return rw.Flush()
		}
		return nil
	})
}
