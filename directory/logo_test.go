package directory_test

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/admit-dev/admit/directory"
)

func encoded(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCheckLogo: the four formats pass with their sniffed type and size
// (the WebP was made by Chromium's canvas.toDataURL); SVG, HTML, a PNG-looking file that
// does not decode and a GIF with a JPEG's name do not.
func TestCheckLogo(t *testing.T) {
	t.Parallel()
	webp, err := os.ReadFile("testdata/logo.webp")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		typ  string
	}{
		{"png", encoded(t, "png", 120, 30), "image/png"},
		{"jpeg", encoded(t, "jpeg", 120, 30), "image/jpeg"},
		{"gif", encoded(t, "gif", 120, 30), "image/gif"},
		{"webp", webp, "image/webp"},
	} {
		typ, w, h, err := directory.CheckLogo(tc.data)
		if err != nil || typ != tc.typ || w < 1 || h < 1 {
			t.Errorf("%s: %q %d×%d %v", tc.name, typ, w, h, err)
		}
	}
	png := encoded(t, "png", 4, 4)
	for _, tc := range []struct {
		name, says string
		data       []byte
	}{
		{"svg", "SVG is not accepted", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`)},
		{"html", "SVG is not accepted", []byte(`<!DOCTYPE html><script>alert(1)</script>`)},
		{"png signature, then html", "not a readable png", append(bytes.Clone(png[:8]), "<script>alert(1)</script>"...)},
		{"webp header only", "not a readable webp", webp[:16]},
	} {
		_, _, _, err := directory.CheckLogo(tc.data)
		if directory.KindOf(err) != directory.Invalid || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want Invalid saying %q", tc.name, err, tc.says)
		}
	}
}

// FuzzCheckLogo: any bytes get a clear answer, never a panic, and what
// passes is one of the four types within the limits.
func FuzzCheckLogo(f *testing.F) {
	f.Add(encoded(f, "png", 3, 2))
	f.Add(encoded(f, "gif", 3, 2))
	f.Add(encoded(f, "jpeg", 3, 2))
	f.Add([]byte("<svg/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, w, h, err := directory.CheckLogo(data)
		if err != nil {
			if directory.KindOf(err) != directory.Invalid {
				t.Fatalf("error of kind %v: %v", directory.KindOf(err), err)
			}
			return
		}
		if !strings.HasPrefix(typ, "image/") || typ == "image/svg+xml" || w < 1 || h < 1 || w > directory.MaxLogoSide || h > directory.MaxLogoSide {
			t.Fatalf("accepted %q %d×%d", typ, w, h)
		}
	})
}
