package directory_test

import (
	"fmt"
	"testing"

	"github.com/admit-dev/admit/directory"
)

func TestPalette(t *testing.T) {
	for _, tc := range []struct {
		color string
		want  directory.Palette
	}{
		{"", directory.Palette{Fill: "#1f6feb", OnFill: "#ffffff", Text: "#1f6feb"}},
		{"red;}body{display:none", directory.Palette{Fill: "#1f6feb", OnFill: "#ffffff", Text: "#1f6feb"}},
		{"#000", directory.Palette{Fill: "#000000", OnFill: "#ffffff", Text: "#000000"}},
		{"#FFFFFF", directory.Palette{Fill: "#ffffff", OnFill: "#1b1f24", Text: "#757575"}},
		{"#c0ffee", directory.Palette{Fill: "#c0ffee", OnFill: "#1b1f24", Text: "#5c7a72"}},
		{"#ffff00", directory.Palette{Fill: "#ffff00", OnFill: "#1b1f24", Text: "#7a7a00"}},
		{"#b42318", directory.Palette{Fill: "#b42318", OnFill: "#ffffff", Text: "#b42318"}},
	} {
		if got := (directory.Branding{PrimaryColor: tc.color}).Palette(); got != tc.want {
			t.Errorf("Palette of %q = %+v; want %+v", tc.color, got, tc.want)
		}
	}
}

// TestPaletteIsReadable: over the whole colour cube, links are readable on
// white, as little darker as they can be, and text on the fill is the
// better of white and near-black.
func TestPaletteIsReadable(t *testing.T) {
	for r := 0; r < 256; r += 15 {
		for g := 0; g < 256; g += 15 {
			for b := 0; b < 256; b += 15 {
				c := fmt.Sprintf("#%02x%02x%02x", r, g, b)
				p := directory.Branding{PrimaryColor: c}.Palette()
				if p.Fill != c {
					t.Fatalf("%s: fill %s", c, p.Fill)
				}
				if got := directory.Contrast(p.Text, "#ffffff"); got < 4.5 {
					t.Fatalf("%s: links %s at %.2f:1 on white", c, p.Text, got)
				}
				if directory.Contrast(c, "#ffffff") >= 4.5 && p.Text != c {
					t.Fatalf("%s, readable on white, darkened to %s", c, p.Text)
				}
				other := "#ffffff"
				if p.OnFill == "#ffffff" {
					other = "#1b1f24"
				}
				if directory.Contrast(p.OnFill, c) < directory.Contrast(other, c) {
					t.Fatalf("%s: text %s on it, where %s contrasts more", c, p.OnFill, other)
				}
			}
		}
	}
}
