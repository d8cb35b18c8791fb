package bulk_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/admit-dev/admit/bulk"
	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestPendingUploadExpiresAndErasureDiscardsIt: a file uploaded for an
// import was kept until the account's next upload or import, possibly
// forever, and an erasure left it as it was, with the erased person's
// address and name in it. Now an upload lives an hour: past it the
// preview says it expired (also before the sweep ran), and the sweep
// empties it. An erasure empties every account's waiting upload, also
// one in an account the person never joined, and the preview says why it
// went. Neither is a 500: the import page, with the form to upload again.
func TestPendingUploadExpiresAndErasureDiscardsIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		clk := &clock{now: time.Now().UTC()}
		svc := directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}), Now: clk.Now})
		srv := httptest.NewServer(consoleMux(t, svc, bulk.NewSlots(2, time.Second)))
		defer srv.Close()
		acme := mustAccount(t, svc, "acme", "acme.example")
		beta := mustAccount(t, svc, "beta", "beta.example")
		if _, err := svc.AddUser(ctx, beta.ID, operator, directory.NewUser{Email: "eve@beta.example", FirstName: "Eve", LastName: "Erased"}); err != nil {
			t.Fatal(err)
		}
		const file = "Email,First name,Last name\neve@beta.example,Eve,Erased\nnew@acme.example,N,W\n"
		c := signedIn(t, svc, srv.URL, acme, "ada@acme.example", directory.RoleAdmin)
		upload := func(c *http.Client, slug string) string {
			t.Helper()
			resp, page := uploadCSV(t, c, srv.URL, slug, file)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("upload to %s: %d\n%s", slug, resp.StatusCode, page)
			}
			return resp.Header.Get("Location")
		}
		preview := func(c *http.Client, step, prepare string, status int, want ...string) {
			t.Helper()
			resp, err := c.Get(srv.URL + prepare)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("%s: the preview answers %d; want %d\n%s", step, resp.StatusCode, status, b)
			}
			for _, w := range want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s: the page lacks %q\n%s", step, w, b)
				}
			}
		}
		// start posts the preview's form to start the import.
		start := func(c *http.Client, step, prepare string, status int, want ...string) {
			t.Helper()
			u, err := url.Parse(prepare)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Get(srv.URL + "/admin/acme/imports")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
			if csrf == nil {
				t.Fatalf("no form:\n%s", page)
			}
			form := url.Values{"csrf_token": {string(csrf[1])}, "upload": {u.Query().Get("upload")}, "mode": {"invite"}}
			if resp, err = c.PostForm(srv.URL+"/admin/acme/imports/start", form); err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("%s: %d; want %d\n%s", step, resp.StatusCode, status, b)
			}
			for _, w := range want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s: the page lacks %q\n%s", step, w, b)
				}
			}
		}
		// What is at rest of the account's upload: its file's size and
		// name, and why it was discarded; missing when there is no row.
		kept := func(accountID string) (size int, name, discarded string, missing bool) {
			t.Helper()
			var r struct {
				Data      []byte `db:"data"`
				FileName  string `db:"file_name"`
				Discarded string `db:"discarded"`
			}
			err := s.DB().GetContext(ctx, &r, s.DB().Rebind(`SELECT data, file_name, discarded FROM import_uploads WHERE account_id = ?`), accountID)
			if errors.Is(err, sql.ErrNoRows) {
				return 0, "", "", true
			} else if err != nil {
				t.Fatal(err)
			}
			return len(r.Data), r.FileName, r.Discarded, false
		}
		again := `id="file"` // the form to upload again

		// An erasure discards the upload of an account the person is
		// not in: eve is in beta only, the file is acme's.
		prepare := upload(c, "acme")
		preview(c, "before the erasure", prepare, http.StatusOK, "eve@beta.example")
		e, err := svc.ErasePerson(ctx, operator, "eve@beta.example", directory.EraseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if e.UploadsDiscarded != 1 {
			t.Errorf("the erasure discarded %d uploads; want 1", e.UploadsDiscarded)
		}
		if size, name, why, _ := kept(acme.ID); size != 0 || name != "" || why != directory.UploadErasure {
			t.Errorf("after the erasure acme's upload keeps %d bytes, name %q, discarded %q; want none, none, %q", size, name, why, directory.UploadErasure)
		}
		preview(c, "after the erasure", prepare, http.StatusGone, "discarded", "erased a person", "Upload the file again", again)
		start(c, "starting it after the erasure", prepare, http.StatusGone, "discarded", "erased a person", again)

		// Uploaded again, it lives an hour, refused once past it even
		// before the sweep empties it.
		prepare = upload(c, "acme")
		clk.Add(directory.ImportUploadLifetime - time.Minute)
		preview(c, "a minute before its hour", prepare, http.StatusOK, "new@acme.example")
		b := signedIn(t, svc, srv.URL, beta, "bob@beta.example", directory.RoleAdmin)
		fresh := upload(b, "beta")
		clk.Add(2 * time.Minute)
		preview(c, "a minute past its hour", prepare, http.StatusGone, "expired", "kept for an hour", "Upload the file again", again)
		start(c, "starting it a minute past its hour", prepare, http.StatusGone, "expired", again)
		if size, _, _, _ := kept(acme.ID); size == 0 {
			t.Fatal("the upload was emptied before any sweep")
		}
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if size, name, why, _ := kept(acme.ID); size != 0 || name != "" || why != directory.UploadExpired {
			t.Errorf("after the sweep acme's expired upload keeps %d bytes, name %q, discarded %q; want none, none, %q", size, name, why, directory.UploadExpired)
		}
		if size, _, why, _ := kept(beta.ID); size == 0 || why != "" {
			t.Errorf("the sweep emptied beta's upload of two minutes ago: %d bytes, discarded %q", size, why)
		}
		preview(c, "after the sweep", prepare, http.StatusGone, "expired", again)
		preview(b, "beta's within its hour", fresh, http.StatusOK, "new@acme.example")

		// The empty rows go a week later.
		clk.Add(8 * 24 * time.Hour)
		if _, err := svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		for _, a := range []directory.Account{acme, beta} {
			if _, _, _, missing := kept(a.ID); !missing {
				t.Errorf("%s's upload row is still there after a week", a.Slug)
			}
		}
		c = signedIn(t, svc, srv.URL, acme, "ann@acme.example", directory.RoleAdmin) // ada's session ended meanwhile
		preview(c, "once the row is gone", prepare, http.StatusBadRequest, "no longer kept", "upload the file again", again)
	})
}
