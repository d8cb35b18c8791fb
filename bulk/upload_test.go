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
		preview(c, "after the erasure", prepare, http.StatusGone, "discarded by the installation", "Upload the file again", again)
		start(c, "starting it after the erasure", prepare, http.StatusGone, "discarded by the installation", again)

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

// TestUploadCheckedWhenImportStarts: the console reads the upload
// (ImportUploadOf), parses it, which takes seconds for a large file, and
// then starts the import. The upload was checked only when read and
// deleted after the import was made, so an erasure or the hour passing
// in between let its rows into an import (the erased person's address at
// rest in its report, and the person made again), and the import deleted
// whichever upload the account then had, another admin's newer one. Now
// the start takes that upload in its own transaction and is refused when
// it is gone.
func TestUploadCheckedWhenImportStarts(t *testing.T) {
	const none = directory.Kind(-1)
	const file = "Email,First name,Last name\neve@beta.example,Eve,Erased\nnew@acme.example,N,W\n"
	spec := directory.ImportSpec{Mode: directory.ImportInvite}
	for _, tc := range []struct {
		name string
		// meanwhile happens between reading the upload and starting.
		meanwhile func(t *testing.T, svc *directory.Service, clk *clock, adm directory.Admin)
		want      directory.Kind // of the refusal; none when started
	}{
		{"nothing", func(*testing.T, *directory.Service, *clock, directory.Admin) {}, none},
		{"an erasure", func(t *testing.T, svc *directory.Service, _ *clock, _ directory.Admin) {
			if _, err := svc.ErasePerson(context.Background(), operator, "eve@beta.example", directory.EraseOptions{}); err != nil {
				t.Fatal(err)
			}
		}, directory.Gone},
		{"the hour ends", func(_ *testing.T, _ *directory.Service, clk *clock, _ directory.Admin) {
			clk.Add(2 * time.Second)
		}, directory.Gone},
		{"another upload", func(t *testing.T, svc *directory.Service, _ *clock, adm directory.Admin) {
			if _, err := svc.SaveImportUpload(context.Background(), adm, "other.csv", []byte(file)); err != nil {
				t.Fatal(err)
			}
		}, directory.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				clk := &clock{now: time.Now().UTC()}
				svc := directory.NewService(directory.Config{Store: s, Hasher: directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1}), Now: clk.Now})
				acme := mustAccount(t, svc, "acme", "acme.example")
				beta := mustAccount(t, svc, "beta", "beta.example")
				if _, err := svc.AddUser(ctx, beta.ID, operator, directory.NewUser{Email: "eve@beta.example", FirstName: "Eve", LastName: "Erased"}); err != nil {
					t.Fatal(err)
				}
				adm := directory.Admin{Account: acme, User: directory.User{ID: "u1", Email: "ann@acme.example"}, Membership: directory.Membership{Role: directory.RoleAdmin, Status: directory.StatusActive}}
				saved, err := svc.SaveImportUpload(ctx, adm, "people.csv", []byte(file))
				if err != nil {
					t.Fatal(err)
				}
				clk.Add(directory.ImportUploadLifetime - time.Second)
				up, err := svc.ImportUploadOf(ctx, adm, saved.ID)
				if err != nil {
					t.Fatal(err)
				}
				tc.meanwhile(t, svc, clk, adm)
				_, err = svc.StartUploadedImport(ctx, adm, up.ID, spec, readRows(t, string(up.Data)))
				if tc.want == none {
					if err != nil {
						t.Fatalf("starting the import: %v", err)
					}
					return
				}
				if got := directory.KindOf(err); got != tc.want {
					t.Fatalf("starting the import: %v (kind %v); want kind %v", err, got, tc.want)
				}
				var n int
				if err := s.DB().GetContext(ctx, &n, s.DB().Rebind(`SELECT count(*) FROM import_chunks WHERE lower(row_data) LIKE ?`), "%eve@beta.example%"); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%d import chunks hold the file's rows", n)
				}
				if tc.name == "another upload" {
					var left int
					if err := s.DB().GetContext(ctx, &left, s.DB().Rebind(`SELECT count(*) FROM import_uploads WHERE account_id = ? AND length(data) > 0`), acme.ID); err != nil {
						t.Fatal(err)
					}
					if left != 1 {
						t.Errorf("the newer upload was deleted by the refused start")
					}
				}
			})
		})
	}
}

// TestErasureWaitsForImportTakingItsUpload: on PostgreSQL (read
// committed) an import that took its upload (deleted it in its
// transaction) before an erasure discarded the uploads holds that row;
// the erasure's discard waits for the import to commit. The erasure read
// the import reports before discarding, so it missed the rows the import
// wrote meanwhile: the erased person's address stayed in its report.
// Now the erasure discards first and reads the reports once the import
// committed. (SQLite runs one writer at a time.)
func TestErasureWaitsForImportTakingItsUpload(t *testing.T) {
	s := storetest.Postgres(t)
	ctx := context.Background()
	svc := newService(t, s)
	acme := mustAccount(t, svc, "acme", "acme.example")
	beta := mustAccount(t, svc, "beta", "beta.example")
	if _, err := svc.AddUser(ctx, beta.ID, operator, directory.NewUser{Email: "eve@beta.example", FirstName: "Eve", LastName: "Erased"}); err != nil {
		t.Fatal(err)
	}
	adm := directory.Admin{Account: acme, User: directory.User{ID: "u1", Email: "ann@acme.example"}, Membership: directory.Membership{Role: directory.RoleAdmin, Status: directory.StatusActive}}
	const file = "Email,First name,Last name\neve@beta.example,Eve,Erased\n"
	up, err := svc.SaveImportUpload(ctx, adm, "people.csv", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	// The import, once it took the upload, waits on acme's row (its
	// insert checks the account) until hold ends.
	hold, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.ExecContext(ctx, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, acme.ID); err != nil {
		t.Fatal(err)
	}
	waiting := func(n int) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			var got int
			if err := s.DB().GetContext(ctx, &got, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
				t.Fatal(err)
			}
			if got >= n {
				return
			}
		}
		t.Fatalf("fewer than %d transactions wait for a lock", n)
	}
	started := make(chan error, 1)
	go func() {
		_, err := svc.StartUploadedImport(ctx, adm, up.ID, directory.ImportSpec{Mode: directory.ImportInvite}, readRows(t, file))
		started <- err
	}()
	waiting(1)
	erased := make(chan error, 1)
	go func() {
		_, err := svc.ErasePerson(ctx, operator, "eve@beta.example", directory.EraseOptions{})
		erased <- err
	}()
	// The erasure waits for the import's upload row (with the fix), or
	// has read the reports already and waits there (without it).
	waiting(2)
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatalf("the import that took its upload first: %v", err)
	}
	if err := <-erased; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM import_chunks WHERE lower(row_data) LIKE '%eve@beta.example%'`); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("after the erasure %d import chunks hold the erased address", n)
	}
}
