package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/store/storetest"
)

// TestConsoleUploadOverTheLimit: a file over the console's 50 MiB limit
// is answered with the import page in the console's layout, saying the
// limit and what to do (413), not with the server's bare text/plain
// "request body too large" nor with the CSRF check's "form has expired".
// A body declared too large is answered unread (the test never sends
// it); one sent in chunks is read only up to the limit. An upload without
// the CSRF token is still refused.
func TestConsoleUploadOverTheLimit(t *testing.T) {
	settings := []string{"ADMIT_DATABASE_URL=" + storetest.SQLiteURL(t), testKey}
	s := startServer(t, t.TempDir(), settings...)
	env := append(cleanEnv(), settings...)
	for _, args := range [][]string{
		{"account", "create", "--slug", "acme", "--name", "Acme Inc", "--domain", "acme.example"},
		{"user", "add", "--account", "acme", "--email", "olive@acme.example", "--first", "Olive", "--last", "Owner", "--role", "owner", "--password-stdin"},
	} {
		if r := admitEnv(t, env, "first password given 42\n", args...); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	v := newVisitor(t)
	v.signInAt(s.url+"/login", s.url, "olive@acme.example", "first password given 42", "her own long passphrase 7")
	_, page := v.do("GET", s.url+"/admin/acme/imports", nil, nil)
	token := csrfInput.FindStringSubmatch(page)
	if token == nil {
		t.Fatalf("no upload form:\n%.500s", page)
	}
	base, _ := url.Parse(s.url)
	var cookies []string
	for _, c := range v.client.Jar.Cookies(base) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}

	// send writes head on a connection of its own, then body (from a
	// goroutine: the server may answer before it is all sent), and reads
	// the answer.
	send := func(head string, body io.Reader) (*http.Response, string) {
		t.Helper()
		conn, err := net.Dial("tcp", base.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
		head += "Cookie: " + strings.Join(cookies, "; ") + "\r\nOrigin: " + s.url + "\r\n\r\n"
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		if body != nil {
			go func() { _, _ = io.Copy(conn, body) }()
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer: %v\n%s", err, s.logs)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	expectLimitPage := func(what string, resp *http.Response, page string) {
		t.Helper()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s; want a 413 page\n%.800s", what, resp.StatusCode, resp.Header.Get("Content-Type"), page)
		}
		for _, want := range []string{"Import people from a spreadsheet", `aria-label="Console"`, "Acme Inc", "larger than the limit of 50 MiB", "split it"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the page lacks %q:\n%s", what, want, page)
			}
		}
	}

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("csrf_token", token[1])
	_, _ = mw.CreateFormFile("file", "people.csv")
	head := "POST /admin/acme/imports/upload HTTP/1.1\r\nHost: " + base.Host + "\r\nContent-Type: " + mw.FormDataContentType() + "\r\n"

	// A browser sends the length first: nothing of the body is needed to
	// answer, so none is sent.
	resp, page := send(head+fmt.Sprintf("Content-Length: %d\r\n", 60<<20), nil)
	expectLimitPage("declared too large", resp, page)

	// Sent in chunks, the body is read up to the limit and no further:
	// the answer comes while the rest is still being offered.
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		cw := httputil.NewChunkedWriter(pw)
		_, _ = cw.Write(form.Bytes())
		line := bytes.Repeat([]byte("x@acme.example,X,Y\n"), 1<<14)
		for sent := 0; sent < 200<<20; sent += len(line) {
			if _, err := cw.Write(line); err != nil {
				return
			}
		}
		_ = pw.CloseWithError(errors.New("the test sent 200 MiB and the server still read on"))
	}()
	resp, page = send(head+"Transfer-Encoding: chunked\r\n", pr)
	expectLimitPage("sent in chunks", resp, page)

	// Within the limit, the CSRF check stands: a form without the token
	// is refused and writes nothing.
	var small bytes.Buffer
	mw = multipart.NewWriter(&small)
	fw, _ := mw.CreateFormFile("file", "people.csv")
	_, _ = io.WriteString(fw, "Email,First name,Last name\nnew@acme.example,N,W\n")
	_ = mw.Close()
	req, _ := http.NewRequest("POST", s.url+"/admin/acme/imports/upload", &small)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if resp, err := v.client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an upload without the CSRF token: %v %v; want 403", resp.StatusCode, err)
	}
}
