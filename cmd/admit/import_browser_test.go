package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/admit-dev/admit/store/storetest"
)

// TestImportInBrowser: an owner uploads a spreadsheet in the console,
// confirms the column mapping, sees the dry run, starts the import with
// one initial password, watches the bar move to the end without reloading,
// and downloads the report, whose formula-looking cells are neutralised.
func TestImportInBrowser(t *testing.T) {
	t.Parallel()
	axe := axeScript(t)
	ctx := newBrowserFor(t, 4*time.Minute)
	console := watchConsole(ctx)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey}
	s := startServer(t, t.TempDir(), settings...)
	cli := func(stdin string, args ...string) result {
		t.Helper()
		r := admitWith(t, append(cleanEnv(), settings...), stdin, args...)
		if r.code != 0 {
			t.Fatalf("admit %v: %s", args, r.stderr)
		}
		return r
	}
	cli("", "account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "acme.example")
	cli("first password given 42\n", "user", "add", "--account", "acme", "--email", "olive@acme.example", "--first", "Olive", "--last", "Owner", "--role", "owner", "--password-stdin")

	const n = 2500
	var b strings.Builder
	b.WriteString("Work e-mail,Full name,Team\n")
	for i := range n {
		fmt.Fprintf(&b, "p%05d@acme.example,Person %d,Blue\n", i, i)
	}
	b.WriteString("=cmd|' /C calc'!A0,Evil Formula,Red\n")
	file := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, s.logs)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	do("sign in",
		chromedp.Navigate(s.url+"/admin/acme/users"),
		firstSignIn("olive@acme.example", "first password given 42", "her own long passphrase 7"),
		// The password changed, the browser goes on where it was going.
		chromedp.WaitVisible(`#content a[href="/admin/acme/imports"]`),
		chromedp.Click(`#content a[href="/admin/acme/imports"]`),
		chromedp.WaitVisible(`#file`))
	checkAccessibility(t, ctx, axe, "Import")

	do("upload", chromedp.SetUploadFiles(`#file`, []string{file}), chromedp.Click(`#upload`), chromedp.WaitVisible(`#preview`))
	checkAccessibility(t, ctx, axe, "Preview")
	if got := text(`#unknown`); !strings.Contains(got, "Team") {
		t.Errorf("unknown columns: %q", got)
	}
	if got := text(`#summary`); !strings.Contains(got, fmt.Sprintf("%d rows: %d new people", n+1, n)) || !strings.Contains(got, "1 error.") {
		t.Errorf("dry run summary: %q", got)
	}
	// Confirming the mapping: take the full name out, and every new
	// person lacks a name; put it back.
	// The mapping form is a GET form: its query, as the browser builds
	// it, is opened (navigating waits for the page, where a click would
	// race it).
	remap := func(what, column, want string) {
		t.Helper()
		do(what, chromedp.SetValue(`#col-full_name`, column))
		qs, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new URLSearchParams(new FormData(document.getElementById("mapping-form"))).toString()`))
		if err != nil {
			t.Fatal(err)
		}
		do(what, chromedp.Navigate(s.url+"/admin/acme/imports/prepare?"+qs), chromedp.WaitVisible(`#preview`))
		if got := text(`#summary`); !strings.Contains(got, want) {
			t.Errorf("%s: summary %q; want %q", what, got, want)
		}
	}
	remap("remap without the name", "-1", fmt.Sprintf("%d errors", n+1))
	remap("map the name back", "1", fmt.Sprintf("%d new people", n))
	if v := cli("", "user", "list", "--account", "acme", "--json").stdout; strings.Contains(v, "p00000") {
		t.Fatal("the preview added people")
	}

	do("start",
		chromedp.SendKeys(`#password`, "shared initial secret 9"),
		chromedp.Click(`#start`),
		chromedp.WaitVisible(`#progress`))
	checkAccessibility(t, ctx, axe, "Import progress")
	// The bar and the counts move by the page's script, without a reload:
	// a mark left on the page survives to the end.
	do("mark the page", chromedp.Evaluate[chromedp.Void](`window.admitMark = 42`))
	do("finish", chromedp.Poll[chromedp.Void](`document.getElementById("status") && document.getElementById("status").textContent === "finished"`, chromedp.WithPollingTimeout(3*time.Minute)))
	if got := text(`#counts`); !strings.Contains(got, fmt.Sprintf("%d new people", n)) {
		t.Errorf("counts: %q", got)
	}
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.admitMark || 0`)); err != nil || mark != 42 {
		t.Errorf("the progress page was reloaded (mark %d, %v); it should move by itself", mark, err)
	}
	report, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.getElementById("report").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(report, "line,email,first_name,last_name,role,outcome,reason\n2,p00000@acme.example,Person,0,member,created,\n") ||
		!strings.Contains(report, "\n2502,'=cmd|' /C calc'!A0,Evil,Formula,member,error,") {
		t.Errorf("report:\n%.300s\n...%s", report, report[max(0, len(report)-300):])
	}
	if problems := console.problems(ctx, s.url); len(problems) > 0 {
		t.Errorf("console problems: %v", problems)
	}
	if out := cli("", "audit", "list", "--account", "acme", "--action", "import.finished", "--json").stdout; !strings.Contains(out, "olive@acme.example") {
		t.Errorf("import.finished not audited with the owner as actor:\n%s", out)
	}
}

// TestImportOverTheLimitInBrowser: a browser that uploads a file over the
// 50 MiB limit shows the import page saying the limit and to split the
// file: the server answers before reading the body the browser is still
// sending, and the browser must show that answer, not a broken connection.
func TestImportOverTheLimitInBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey}
	s := startServer(t, t.TempDir(), settings...)
	for _, args := range [][]string{
		{"account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "acme.example"},
		{"user", "add", "--account", "acme", "--email", "olive@acme.example", "--first", "Olive", "--last", "Owner", "--role", "owner", "--password-stdin"},
	} {
		if r := admitWith(t, append(cleanEnv(), settings...), "first password given 42\n", args...); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	file := filepath.Join(t.TempDir(), "everyone.csv")
	line := []byte("someone@acme.example,Some,One\n")
	big := make([]byte, 0, 60<<20+len(line))
	for len(big) < 60<<20 {
		big = append(big, line...)
	}
	if err := os.WriteFile(file, big, 0o600); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/admin/acme/imports"),
		firstSignIn("olive@acme.example", "first password given 42", "her own long passphrase 7"),
		// The password changed, the browser goes on where it was going.
		chromedp.WaitVisible(`#file`),
		chromedp.SetUploadFiles(`#file`, []string{file}))
	if err != nil {
		t.Fatalf("sign in: %v\n%s", err, s.logs)
	}
	// A minute for the answer, so that the browser is still there to
	// show what it got instead.
	answer, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(answer, chromedp.Click(`#upload`), chromedp.WaitVisible(`.problems`)); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		t.Fatalf("upload over the limit: %v\n%.2000s\n%s", err, body, s.logs)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(`.problems`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "larger than the limit of 50 MiB") || !strings.Contains(got, "split it") {
		t.Errorf("the page says %q; want the limit and to split the file", got)
	}
}
