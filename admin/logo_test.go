package admin_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
	"github.com/admit-dev/admit/store"
	"github.com/admit-dev/admit/store/storetest"
)

// pngOf is a w×h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{10, 102, 194, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// uploadLogo sends data as the Branding page's logo form does.
func (p *person) uploadLogo(path string, data []byte) (int, string) {
	p.t.Helper()
	return p.upload(path, url.Values{}, "logo", data)
}

// TestBrandingLogo: an admin uploads a PNG; pages and the email preview
// show it from admit's own address, which serves it with its sniffed type,
// nosniff, a sandbox policy and a long cache; it wins over the logo URL
// until removed. SVG (also renamed .png), HTML, too big, too many pixels
// and a corrupt image are refused with a reason; another account's
// address for it is a 404; a member gets 403.
func TestBrandingLogo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a, b := s.account(t, "acme"), s.account(t, "beta")
		ada := s.add(t, a, "ada@acme.example", directory.RoleAdmin)
		p := s.signIn(t, ada, a)
		p.get("/admin/acme/branding")
		p.post("/admin/acme/branding", url.Values{"logo_url": {"https://cdn.acme.example/logo.png"}})
		logo := pngOf(t, 120, 30)
		p.get("/admin/acme/branding")
		if code, path := p.uploadLogo("/admin/acme/branding/logo", logo); code != 200 || path != "/admin/acme/branding?done=logo" {
			t.Fatalf("upload: %d at %s\n%s", code, path, p.last)
		}
		got, _ := s.svc.Account(ctx, "acme")
		src := got.LogoSource()
		if !strings.HasPrefix(src, "/branding/acme/logo/") || got.Branding.LogoURL != "https://cdn.acme.example/logo.png" {
			t.Fatalf("branding after upload: %+v", got.Branding)
		}
		p.sees(`class="logo" src="`+src+`"`, "The logo has been uploaded.")
		if ev := s.events(t, a, "account.logo_uploaded"); len(ev) != 1 || ev[0].Actor.ID != ada.User.ID || !strings.Contains(string(ev[0].Data), `image/png`) {
			t.Errorf("audit: %+v", ev)
		}

		// Served by admit, to anyone (emails show it), safely.
		resp, err := http.Get(s.server.URL + src)
		if err != nil {
			t.Fatal(err)
		}
		served, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(served, logo) {
			t.Fatalf("served logo: %d, %d bytes", resp.StatusCode, len(served))
		}
		for k, want := range map[string]string{
			"Content-Type": "image/png", "X-Content-Type-Options": "nosniff",
			"Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "public, max-age=31536000, immutable",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q; want %q", k, got, want)
			}
		}
		hash := strings.TrimPrefix(src, "/branding/acme/logo/")
		for _, path := range []string{"/branding/beta/logo/" + hash, "/branding/acme/logo/" + strings.Repeat("0", 64), "/branding/nobody/logo/" + hash} {
			if resp, err := http.Get(s.server.URL + path); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %v %v; want 404", path, resp.StatusCode, err)
			} else {
				resp.Body.Close()
			}
		}

		// The previews show it too, in the real templates.
		if code, _ := p.get("/admin/acme/branding/preview/email"); code != 200 {
			t.Fatalf("email preview: %d", code)
		}
		p.sees(`<img src="`+src+`"`, "invited you to join Acme")
		if code, _ := p.get("/admin/acme/branding/preview/sign-in"); code != 200 {
			t.Fatalf("sign-in preview: %d", code)
		}
		p.sees(`src="` + src + `"`)

		// What an attacker sends: nothing changes, and the page says why.
		svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
		// A bomb: a tiny PNG whose header claims 60000×60000 pixels.
		bomb := pngOf(t, 1, 1)
		binary.BigEndian.PutUint32(bomb[16:], 60000)
		binary.BigEndian.PutUint32(bomb[20:], 60000)
		binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
		for _, tc := range []struct {
			name, says string
			data       []byte
		}{
			{"svg", "SVG is not accepted", svg},
			{"html", "must be a PNG", []byte("<html><script>alert(1)</script>")},
			{"polyglot html first", "must be a PNG", append([]byte("<html><script>alert(1)</script>"), logo...)},
			{"empty", "choose an image file", nil},
			{"too big", "at most 256 KiB", append(bytes.Clone(logo), make([]byte, directory.MaxLogoBytes)...)},
			{"too many pixels", "at most 2048×2048 pixels", pngOf(t, 3000, 10)},
			{"bomb", "this one is 60000×60000", bomb},
			{"truncated", "not a readable png image", logo[:len(logo)/2]},
		} {
			p.get("/admin/acme/branding")
			if code, _ := p.uploadLogo("/admin/acme/branding/logo", tc.data); code != http.StatusBadRequest {
				t.Errorf("%s: %d; want 400", tc.name, code)
			}
			p.sees(tc.says)
		}
		if now, _ := s.svc.Account(ctx, "acme"); now.LogoSource() != src {
			t.Errorf("after refusals the logo is %q", now.LogoSource())
		}

		// Saving the other fields keeps the upload.
		p.get("/admin/acme/branding")
		p.post("/admin/acme/branding", url.Values{"display_name": {"Acme Cloud"}, "logo_url": {"https://cdn.acme.example/logo.png"}})
		if now, _ := s.svc.Account(ctx, "acme"); now.LogoSource() != src {
			t.Errorf("after saving the form the logo is %q", now.LogoSource())
		}

		// Isolation: beta's owner uploads nothing into acme; a member may not.
		bo := s.add(t, b, "bo@beta.example", directory.RoleOwner)
		pb := s.signIn(t, bo, b)
		pb.get("/admin/beta/branding")
		if code, _ := pb.uploadLogo("/admin/acme/branding/logo", pngOf(t, 2, 2)); code != http.StatusNotFound {
			t.Errorf("beta's owner uploading to acme: %d; want 404", code)
		}
		if code, _ := pb.get("/admin/acme/branding/preview/email"); code != http.StatusNotFound {
			t.Errorf("beta's owner previewing acme: %d; want 404", code)
		}
		m := s.add(t, a, "mo@acme.example", directory.RoleMember)
		pm := s.signIn(t, m, a)
		pm.get("/login") // a CSRF token for the member's browser
		if code, _ := pm.uploadLogo("/admin/acme/branding/logo", pngOf(t, 2, 2)); code != http.StatusForbidden {
			t.Errorf("a member uploading: %d; want 403", code)
		}

		// Removing it brings back the logo URL, and the old address is gone.
		p.get("/admin/acme/branding")
		if code, path := p.post("/admin/acme/branding/logo/remove", url.Values{}); code != 200 || path != "/admin/acme/branding?done=logo-removed" {
			t.Fatalf("remove: %d at %s", code, path)
		}
		p.sees(`class="logo" src="https://cdn.acme.example/logo.png"`)
		if resp, err := http.Get(s.server.URL + src); err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("removed logo: %v %v; want 404", resp.StatusCode, err)
		}
		if ev := s.events(t, a, "account.logo_removed"); len(ev) != 1 {
			t.Errorf("audit of removal: %+v", ev)
		}
		if code, _ := p.post("/admin/acme/branding/logo/remove", url.Values{}); code != http.StatusNotFound {
			t.Errorf("removing again: %d; want 404", code)
		}
	})
}

// TestBrandingPreview: the Preview button shows the typed values in both
// previews without saving them; values that could carry markup never
// reach the previews.
func TestBrandingPreview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newSite(t, st)
		a := s.account(t, "acme")
		p := s.signIn(t, s.add(t, a, "ada@acme.example", directory.RoleOwner), a)
		p.get("/admin/acme/branding")
		code, _ := p.post("/admin/acme/branding/preview", url.Values{"display_name": {"Acme Preview"}, "color": {"#0a66c2"}, "logo_url": {""}, "sender_name": {""}})
		if code != 200 {
			t.Fatalf("preview: %d\n%s", code, p.last)
		}
		p.sees("nothing is saved", `value="Acme Preview"`, `src="/admin/acme/branding/preview/email?`, "display_name=Acme&#43;Preview")
		if got, _ := s.svc.Account(ctx, "acme"); got.Branding.DisplayName != "" {
			t.Errorf("the preview saved: %+v", got.Branding)
		}
		q := url.Values{"display_name": {"Acme Preview"}, "color": {"#0a66c2"}}.Encode()
		resp, err := p.client.Get(s.server.URL + "/admin/acme/branding/preview/email?" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "join Acme Preview") || !strings.Contains(string(body), "#0a66c2") {
			t.Errorf("email preview:\n%s", body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox; ") || !strings.Contains(csp, "frame-ancestors 'self'") {
			t.Errorf("email preview CSP: %q", csp)
		}
		bad := url.Values{"display_name": {"<script>x</script>"}, "color": {"red;background:url(//evil)"}, "logo_url": {"javascript:alert(1)"}}.Encode()
		for _, path := range []string{"/admin/acme/branding/preview/email?" + bad, "/admin/acme/branding/preview/sign-in?" + bad} {
			p.get(path)
			for _, never := range []string{"<script>x", "evil", "javascript:"} {
				if strings.Contains(p.last, never) {
					t.Errorf("%s carries %q", path, never)
				}
			}
		}
		resp, err = p.client.Get(s.server.URL + "/admin/acme/branding/preview/sign-in")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp, xfo := resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Frame-Options"); !strings.HasPrefix(csp, "sandbox; ") || !strings.Contains(csp, "frame-ancestors 'self'") || xfo != "SAMEORIGIN" {
			t.Errorf("sign-in preview headers: %q %q", csp, xfo)
		}
		resp, err = p.client.Get(s.server.URL + "/admin/acme/branding")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src 'self'") {
			t.Errorf("branding page CSP: %q", csp)
		}
	})
}
