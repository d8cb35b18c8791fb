// Package examples holds runnable examples and guides; this test keeps
// the documentation's links true.
package examples

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository, seen from this folder.
const root = ".."

// mdLink is an inline Markdown link or image: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocumentationLinks checks every relative link in the README, docs/
// and examples/: the file exists, and an #anchor names a heading of it.
// And every example is reachable from the README by following links, so
// nothing in examples/ is lost to a reader.
func TestDocumentationLinks(t *testing.T) {
	pages := []string{"README.md", "CHANGELOG.md"}
	for _, dir := range []string{"docs", "examples"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
				rel, _ := filepath.Rel(root, path)
				pages = append(pages, rel)
			}
			return nil
		})
	}
	links := map[string][]string{} // page -> the files and folders it links to
	for _, page := range pages {
		text, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = filepath.Join(filepath.Dir(page), file)
			}
			info, err := os.Stat(filepath.Join(root, dest))
			if err != nil {
				t.Errorf("%s links to %s, which does not exist", page, target)
				continue
			}
			links[page] = append(links[page], filepath.Clean(dest))
			if anchor != "" && !info.IsDir() && strings.HasSuffix(dest, ".md") && !hasHeading(t, dest, anchor) {
				t.Errorf("%s links to %s: %s has no heading #%s", page, target, dest, anchor)
			}
		}
	}

	// What the README reaches: pages by their links, folders with all in them.
	reached := map[string]bool{}
	var visit func(string)
	visit = func(p string) {
		if reached[p] {
			return
		}
		reached[p] = true
		for _, l := range links[p] {
			visit(l)
		}
	}
	visit("README.md")
	_ = filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "node_modules") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		for p := rel; p != "."; p = filepath.Dir(p) {
			if reached[p] {
				return nil
			}
		}
		t.Errorf("%s is not reachable from the README by links", rel)
		return nil
	})
}

// hasHeading says whether page has a heading whose GitHub anchor is anchor.
func hasHeading(t *testing.T, page, anchor string) bool {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(root, page))
	if err != nil {
		t.Fatal(err)
	}
	inCode := false
	for line := range strings.SplitSeq(string(text), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if !inCode && strings.HasPrefix(line, "#") && slug(strings.TrimLeft(line, "# ")) == anchor {
			return true
		}
	}
	return false
}

// slug is GitHub's anchor for a heading: lower case, punctuation other
// than hyphens dropped, spaces made hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}
