package directory

import "testing"

// TestNamesRefuseReorderingCharacters: a name holds no character that
// reorders or hides the text around it, while the marks and joiners that
// right-to-left and Indic names are written with are kept.
func TestNamesRefuseReorderingCharacters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, v string
		refused bool
	}{
		{"plain", "Ada", false},
		{"Hebrew with a right-to-left mark", "\u05e9\u05e8\u05d4\u200f", false},
		{"Arabic letter mark", "\u0633\u0627\u0631\u0629\u061c", false},
		{"Persian with a zero-width non-joiner", "\u0645\u06cc\u200c\u0646\u0627", false},
		{"emoji sequence with a zero-width joiner", "Ada \U0001F469\u200d\U0001F4BB", false},
		{"Devanagari with a zero-width joiner", "\u0915\u094d\u200d\u0937", false},
		{"tab", "Ada\tLovelace", true},
		{"right-to-left override", "Ada \u202emoc.live", true},
		{"left-to-right embedding", "\u202aAda", true},
		{"pop directional formatting", "Ada\u202c", true},
		{"right-to-left isolate", "\u2067Ada", true},
		{"pop directional isolate", "Ada\u2069", true},
		{"first strong isolate", "\u2068Ada", true},
		{"deprecated shaping control", "Ada\u206f", true},
		{"interlinear annotation", "Ada\ufff9x\ufffa", true},
		{"tag characters", "Ada\U000E0041\U000E0042", true},
		{"invalid UTF-8", "Ada\xff", true},
	} {
		got := validateName("first name", tc.v)
		if refused := got != ""; refused != tc.refused {
			t.Errorf("%s %q: %q; want refused %v", tc.name, tc.v, got, tc.refused)
		}
	}
}
