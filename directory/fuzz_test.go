package directory_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/admit-dev/admit/directory"
)

// FuzzNormalizeEmail: emails come from admins, spreadsheets, IdPs and SCIM
// clients. Whatever arrives, normalizing never panics, a normalized address
// normalizes to itself, and it has exactly one @.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", " Ada@EXAMPLE.com ", "a@b@c", "user@evil.example<!---->.good.example", "josé@exämple.com", "\x00@x.com", "a@-b.com", "\"q\"@x.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := directory.NormalizeEmail(in)
		if err != nil {
			if directory.KindOf(err) != directory.Invalid {
				t.Fatalf("NormalizeEmail(%q) error kind %v; want Invalid", in, directory.KindOf(err))
			}
			return
		}
		if strings.Count(out, "@") != 1 || strings.ContainsAny(out, " <>\"\x00\n") {
			t.Fatalf("NormalizeEmail(%q) = %q: not a plain address", in, out)
		}
		again, err := directory.NormalizeEmail(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeEmail(%q) = %q, %v; want it unchanged", out, again, err)
		}
	})
}

// FuzzPasswordCheck: any password, any email, never a panic, and a password
// that passes meets the length rule.
func FuzzPasswordCheck(f *testing.F) {
	f.Add("correct horse battery", "ada@example.com")
	f.Add("P@ssw0rd2024!", "")
	f.Add("\xff\xfe", "\xff@x")
	policy := directory.PasswordPolicy{MinLength: 12, RequireDigit: true}
	f.Fuzz(func(t *testing.T, pw, email string) {
		// Length is counted after NFKC normalization ("ﬃ" is three letters).
		if problems := policy.Check(pw, email); len(problems) == 0 && utf8.RuneCountInString(norm.NFKC.String(pw)) < 12 {
			t.Fatalf("%q passed with fewer than 12 characters", pw)
		}
	})
}

// FuzzVerifyHash: a stored hash is read back from the database; a corrupt
// or hostile one is refused, never a panic, and never a match.
func FuzzVerifyHash(f *testing.F) {
	h := directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
	good, _ := h.Hash(context.Background(), "pw")
	f.Add(good)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Add("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5")
	f.Fuzz(func(t *testing.T, encoded string) {
		// No hash of another password, well-formed or not, may match: a
		// parser that let an empty key through would match everything.
		if ok, _, _ := h.Verify(context.Background(), encoded, "a different password"); ok {
			t.Fatalf("%q matched a password it is not the hash of", encoded)
		}
	})
}
