package bulk_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
	"github.com/admit-dev/admit/web"
)

// TestImportPagesAuthorise: the import pages are an owner's or an admin's
// of the account in the path. A member gets 403 on every one of them, an
// admin of another account cannot reach this account's jobs, and nobody
// signed out gets a job's report.
func TestImportPagesAuthorise(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := newService(t, s)
		mux := consoleMux(t, svc, nil)
		srv := httptest.NewServer(mux)
		defer srv.Close()

		acme := mustAccount(t, svc, "acme", "acme.example")
		beta := mustAccount(t, svc, "beta", "beta.example")
		person := func(a directory.Account, email string, role directory.Role) *http.Client {
			t.Helper()
			return signedIn(t, svc, srv.URL, a, email, role)
		}
		admin := person(acme, "ada@acme.example", directory.RoleAdmin)
		member := person(acme, "mo@acme.example", directory.RoleMember)
		stranger := person(beta, "bo@beta.example", directory.RoleOwner)
		im := runImport(t, svc, acme.ID, directory.ImportSpec{Mode: directory.ImportNoPassword}, readRows(t, "email,first name,last name\nnew@acme.example,N,W\n"))

		status := func(c *http.Client, path string) int {
			t.Helper()
			resp, err := c.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		paths := []string{"/admin/acme/imports", "/admin/acme/imports/template.csv", "/admin/acme/imports/template.xlsx",
			"/admin/acme/imports/" + im.ID, "/admin/acme/imports/" + im.ID + "/status", "/admin/acme/imports/" + im.ID + "/report.csv"}
		for _, p := range paths {
			if got := status(admin, p); got != http.StatusOK {
				t.Errorf("an admin: GET %s = %d; want 200", p, got)
			}
			if got := status(member, p); got != http.StatusForbidden {
				t.Errorf("a member: GET %s = %d; want 403", p, got)
			}
			if got := status(stranger, p); got == http.StatusOK {
				t.Errorf("beta's owner: GET %s = 200; want a refusal", p)
			}
			if got := status(&http.Client{CheckRedirect: admin.CheckRedirect}, p); got == http.StatusOK {
				t.Errorf("signed out: GET %s = 200", p)
			}
		}
		// beta's owner, in beta, asking for acme's job by its id.
		if got := status(stranger, "/admin/beta/imports/"+im.ID+"/report.csv"); got != http.StatusNotFound {
			t.Errorf("beta's owner: acme's report under beta = %d; want 404", got)
		}
	})
}

// TestImportPagesInTheConsole: the import pages carry the console's
// navigation, every section of it (not a short list of their own), with
// Import as the current one.
func TestImportPagesInTheConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := newService(t, s)
		srv := httptest.NewServer(consoleMux(t, svc, nil))
		defer srv.Close()
		acme := mustAccount(t, svc, "acme", "acme.example")
		admin := signedIn(t, svc, srv.URL, acme, "ada@acme.example", directory.RoleAdmin)
		resp, err := admin.Get(srv.URL + "/admin/acme/imports")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(b)
		for _, want := range []string{`<a href="/admin/acme/users">Users</a>`, `<a href="/admin/acme/users/new">Add user</a>`, `<a href="/admin/acme/invite">Invite</a>`,
			`<a href="/admin/acme/imports" aria-current="page">Import</a>`, `<a href="/admin/acme/security">Security</a>`, `<a href="/admin/acme/audit">Audit log</a>`, `<a href="/me">Your home</a>`} {
			if !strings.Contains(page, want) {
				t.Errorf("the import page's navigation lacks %s", want)
			}
		}
	})
}

// TestConsoleUploadWaitsForItsTurn: the console reads uploads in the
// slots it shares with the API. With every slot taken, an upload, and the
// preview that reads the file again, wait their while and show the import
// page saying to try again (503, Retry-After); with a slot free they go
// on.
func TestConsoleUploadWaitsForItsTurn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		slots := bulk.NewSlots(1, 50*time.Millisecond)
		mux := consoleMux(t, svc, slots)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		acme := mustAccount(t, svc, "acme", "acme.example")
		c := signedIn(t, svc, srv.URL, acme, "ada@acme.example", directory.RoleAdmin)
		get := func(path string) (*http.Response, string) {
			t.Helper()
			resp, err := c.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		upload := func() (*http.Response, string) {
			t.Helper()
			return uploadCSV(t, c, srv.URL, "acme", "Email,First name,Last name\nnew@acme.example,N,W\n")
		}
		busy := func(what string, resp *http.Response, page string) {
			t.Helper()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s with every slot taken: %d, Retry-After %q; want 503 and one", what, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			for _, want := range []string{"reading other uploaded files", "try again", `id="file"`} {
				if !strings.Contains(page, want) {
					t.Errorf("%s with every slot taken: the page lacks %q:\n%s", what, want, page)
				}
			}
		}

		release, err := slots.Take(ctx, "another account")
		if err != nil {
			t.Fatal(err)
		}
		resp, page := upload()
		busy("the upload", resp, page)
		release()
		resp, page = upload()
		prepare := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(prepare, "/imports/prepare?") {
			t.Fatalf("the upload with a slot free: %d %s\n%s", resp.StatusCode, prepare, page)
		}
		if release, err = slots.Take(ctx, "another account"); err != nil {
			t.Fatal(err)
		}
		resp, page = get(prepare)
		busy("the preview", resp, page)
		release()
		if resp, page = get(prepare); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="preview"`) {
			t.Errorf("the preview with a slot free: %d\n%s", resp.StatusCode, page)
		}
	})
}

// uploadCSV uploads a CSV file of body through the import page of account
// slug, as c, and returns the answer.
func uploadCSV(t *testing.T, c *http.Client, base, slug, body string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(base + "/admin/" + slug + "/imports")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatalf("no upload form:\n%s", page)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("csrf_token", string(csrf[1]))
	fw, _ := mw.CreateFormFile("file", "people.csv")
	_, _ = io.WriteString(fw, body)
	_ = mw.Close()
	if resp, err = c.Post(base+"/admin/"+slug+"/imports/upload", mw.FormDataContentType(), &form); err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPreviewOffersOwnerOnlyToOwners: the preview's role of rows without
// one offers the owner role only to those who may make owners, as the
// console's other forms do; an admin was offered it, and the import was
// refused when they chose it.
func TestPreviewOffersOwnerOnlyToOwners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		svc := newService(t, s)
		srv := httptest.NewServer(consoleMux(t, svc, bulk.NewSlots(2, time.Second)))
		defer srv.Close()
		acme := mustAccount(t, svc, "acme", "acme.example")
		for _, tc := range []struct {
			role  directory.Role
			owner bool
		}{{directory.RoleAdmin, false}, {directory.RoleOwner, true}} {
			c := signedIn(t, svc, srv.URL, acme, string(tc.role)+"@acme.example", tc.role)
			resp, page := uploadCSV(t, c, srv.URL, "acme", "Email,First name,Last name\nnew@acme.example,N,W\n")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s's upload: %d\n%s", tc.role, resp.StatusCode, page)
			}
			if resp, err := c.Get(srv.URL + resp.Header.Get("Location")); err != nil {
				t.Fatal(err)
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				page = string(b)
			}
			if !strings.Contains(page, `<option value="member" selected>`) {
				t.Fatalf("%s's preview has no role choice:\n%s", tc.role, page)
			}
			if got := strings.Contains(page, `<option value="owner"`); got != tc.owner {
				t.Errorf("%s's preview offers the owner role: %v; want %v", tc.role, got, tc.owner)
			}
		}
	})
}

// countingBody is a request body that counts what the server read of it.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestUploadUnreadForStrangers: the upload route reads its body (up to the
// 50 MiB limit, to temporary files) only for someone who may upload there.
// It read it whole first, for anyone at all (to answer an upload over the
// limit before the CSRF check): a stranger with no session, a member, or
// another account's owner each made the server take in 50 MiB, as often
// at once as they liked.
func TestUploadUnreadForStrangers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		svc := newService(t, s)
		mux := consoleMux(t, svc, nil)
		acme := mustAccount(t, svc, "acme", "acme.example")
		beta := mustAccount(t, svc, "beta", "beta.example")
		session := func(a directory.Account, email string, role directory.Role) string {
			t.Helper()
			added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "P", LastName: "Q", Role: role})
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := svc.StartSession(ctx, added.Member.User.ID, a.ID, directory.ByPassword)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		_ = mw.WriteField("csrf_token", "forged")
		fw, _ := mw.CreateFormFile("file", "people.csv")
		_, _ = fw.Write([]byte("email\n" + strings.Repeat("x@acme.example\n", 4<<20/15)))
		_ = mw.Close()
		for _, tc := range []struct {
			who, session string
		}{
			{"signed out", ""},
			{"a member", session(acme, "mo@acme.example", directory.RoleMember)},
			{"beta's owner", session(beta, "bo@beta.example", directory.RoleOwner)},
		} {
			body := &countingBody{r: bytes.NewReader(form.Bytes())}
			req := httptest.NewRequest(http.MethodPost, "/admin/acme/imports/upload", body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.AddCookie(&http.Cookie{Name: "csrf", Value: "forged"})
			if tc.session != "" {
				req.AddCookie(&http.Cookie{Name: web.SessionCookie{}.Name(), Value: tc.session})
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code < 300 || body.read > 64<<10 {
				t.Errorf("%s: %d, the server read %d bytes of the upload; want a refusal, the body unread", tc.who, rec.Code, body.read)
			}
		}
	})
}

// consoleMux serves the import pages of svc, reading uploads in slots
// (nil: the handler's own).
func consoleMux(t *testing.T, svc *directory.Service, slots *bulk.Slots) *http.ServeMux {
	t.Helper()
	pages, err := web.NewRenderer(web.Config{Key: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := bulk.NewHandler(bulk.ConsoleConfig{Directory: svc, Pages: pages, Slots: slots})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	return mux
}

// signedIn adds a person to account a with role and returns a client of
// the server at base holding a session of theirs there, which does not
// follow redirects.
func signedIn(t *testing.T, svc *directory.Service, base string, a directory.Account, email string, role directory.Role) *http.Client {
	t.Helper()
	ctx := context.Background()
	added, err := svc.AddUser(ctx, a.ID, operator, directory.NewUser{Email: email, FirstName: "P", LastName: "Q", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.StartSession(ctx, added.Member.User.ID, a.ID, directory.ByPassword)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie{}.Name(), Value: token, Path: "/"}})
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
