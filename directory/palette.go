package directory

import (
	"fmt"
	"math"
	"strconv"
)

// DefaultColor is the brand colour of an account that chose none.
const DefaultColor = "#1f6feb"

// Palette is an account's brand colour as pages and emails paint it, each
// shade readable to WCAG 2.1 AA (4.5:1 for text). An owner may pick any
// colour, a pale yellow included: pages keep it where it is a fill and
// choose the shades of text around it, rather than show white text on
// yellow, or yellow links on white, which no one can read.
type Palette struct {
	// Fill is the brand colour itself: buttons, the header's rule.
	Fill string
	// OnFill is the text on Fill: white or near-black, whichever
	// contrasts more.
	OnFill string
	// Text is the colour of links and other text in the brand colour on a
	// white surface: the brand colour, darkened as little as reaches 4.5:1
	// against white.
	Text string
}

// onFillDark is the near-black of the pages' body text.
const onFillDark = "#1b1f24"

// minTextContrast is WCAG 2.1 AA's contrast for normal text.
const minTextContrast = 4.5

// Palette returns the account's palette: DefaultColor's when it set no
// valid colour.
func (b Branding) Palette() Palette {
	r, g, bl, ok := parseHexColor(b.PrimaryColor)
	if !ok {
		r, g, bl, _ = parseHexColor(DefaultColor)
	}
	p := Palette{Fill: hexOf(r, g, bl), OnFill: "#ffffff"}
	l := luminance(r, g, bl)
	if contrast(l, 1) < contrast(l, luminance(0x1b, 0x1f, 0x24)) {
		p.OnFill = onFillDark
	}
	// Darken in steps of 2% of each channel: at most 50 steps, and black
	// (21:1) always reaches the bar.
	tr, tg, tb := r, g, bl
	for f := 1.0; contrast(luminance(tr, tg, tb), 1) < minTextContrast; {
		f -= 0.02
		tr, tg, tb = scale(r, f), scale(g, f), scale(bl, f)
	}
	p.Text = hexOf(tr, tg, tb)
	return p
}

// Contrast is the WCAG contrast ratio of two colours (#rgb or #rrggbb),
// from 1 to 21; 0 when either is not a hex colour.
func Contrast(a, b string) float64 {
	ar, ag, ab, ok1 := parseHexColor(a)
	br, bg, bb, ok2 := parseHexColor(b)
	if !ok1 || !ok2 {
		return 0
	}
	return contrast(luminance(ar, ag, ab), luminance(br, bg, bb))
}

func parseHexColor(s string) (r, g, b uint8, ok bool) {
	if !hexColor.MatchString(s) {
		return 0, 0, 0, false
	}
	s = s[1:]
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, 0, 0, false
	}
	return uint8(v >> 16), uint8(v >> 8), uint8(v), true
}

func hexOf(r, g, b uint8) string { return fmt.Sprintf("#%02x%02x%02x", r, g, b) }

func scale(c uint8, f float64) uint8 { return uint8(math.Max(0, math.Round(float64(c)*f))) }

// luminance is the relative luminance of an sRGB colour (WCAG 2.1).
func luminance(r, g, b uint8) float64 {
	lin := func(c uint8) float64 {
		s := float64(c) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// contrast is the ratio of two luminances, lighter over darker.
func contrast(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return (a + 0.05) / (b + 0.05)
}
