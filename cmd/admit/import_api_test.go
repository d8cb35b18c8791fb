package main

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"strings"
	"testing"
	"time"
)

// TestImportThroughAPI: a spreadsheet larger than the server's usual body
// limit is uploaded through the JSON API of the built binary, and the
// server's own import workers run the job to its end.
func TestImportThroughAPI(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db string) {
		settings := []string{"ADMIT_DATABASE_URL=" + db, testKey}
		s := startServer(t, t.TempDir(), settings...)
		env := append(cleanEnv(), settings...)
		if r := admitEnv(t, env, "", "account", "create", "--slug", "acme", "--name", "Acme", "--domain", "acme.example"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		r := admitEnv(t, env, "", "api-key", "create", "--account", "acme", "--name", "hr sync", "--json")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		key := decode[map[string]any](t, r)["key"].(string)

		// 4,000 rows with a long column admit does not know: over 1 MiB.
		const n = 4000
		var file strings.Builder
		file.WriteString("Email,Full name,Notes\n")
		for i := range n {
			fmt.Fprintf(&file, "p%05d@acme.example,Person %d,%s\n", i, i, strings.Repeat("n", 300))
		}
		if file.Len() <= maxBodyBytes {
			t.Fatalf("the file is %d bytes, not over the usual limit", file.Len())
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("mode", "none")
		fw, _ := mw.CreateFormFile("file", "people.csv")
		_, _ = io.WriteString(fw, file.String())
		_ = mw.Close()

		call := func(method, path string, body io.Reader, ct string) (int, map[string]any) {
			t.Helper()
			status, out, _ := withBearer(t, key, method, s.url+path, ct, body)
			return status, out
		}
		status, job := call("POST", "/api/v1/accounts/acme/imports", &body, mw.FormDataContentType())
		if status != 202 {
			t.Fatalf("upload: %d %v", status, job)
		}
		id := job["id"].(string)
		deadline := time.Now().Add(60 * time.Second)
		for job["status"] != "finished" {
			if time.Now().After(deadline) {
				t.Fatalf("the job did not finish: %v", job)
			}
			time.Sleep(200 * time.Millisecond)
			if status, job = call("GET", "/api/v1/accounts/acme/imports/"+id, nil, ""); status != 200 {
				t.Fatalf("status: %d %v", status, job)
			}
		}
		if c := job["counts"].(map[string]any); c["created"] != float64(n) || job["done"] != float64(n) {
			t.Errorf("finished job: %v", job)
		}
		if r := admitEnv(t, env, "", "user", "list", "--account", "acme", "--search", "p03999"); !strings.Contains(r.stdout, "p03999@acme.example") {
			t.Errorf("the last row's person is not in the account:\n%.500s", r.stdout)
		}

		// A file over the limit is answered as a problem that says so,
		// not with the server's bare "request body too large".
		var big bytes.Buffer
		mw = multipart.NewWriter(&big)
		_ = mw.WriteField("mode", "none")
		fw, _ = mw.CreateFormFile("file", "big.csv")
		_, _ = fw.Write(bytes.Repeat([]byte("x@acme.example\n"), 53<<20/15))
		_ = mw.Close()
		status, prob, hdr := withBearer(t, key, "POST", s.url+"/api/v1/accounts/acme/imports", mw.FormDataContentType(), &big)
		if detail, _ := prob["detail"].(string); status != 413 || hdr.Get("Content-Type") != "application/problem+json" || !strings.Contains(detail, "larger than the limit of 50 MiB") {
			t.Errorf("an upload over the limit: %d %s %v; want 413 and a problem naming the limit", status, hdr.Get("Content-Type"), prob)
		}
	})
}
