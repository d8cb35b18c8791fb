package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/admit-dev/admit/directory"
)

func TestPasswordPolicyCheck(t *testing.T) {
	t.Parallel()
	def := directory.DefaultPasswordPolicy()
	classes := directory.PasswordPolicy{MinLength: 8, RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true}
	tests := []struct {
		name     string
		policy   directory.PasswordPolicy
		password string
		email    string
		want     []string // substrings, one per expected problem, in order
	}{
		{"long passphrase", def, "violet staple orbit lantern", "ada@example.com", nil},
		{"too short", def, "Xk3!pq9", "ada@example.com", []string{"at least 12 characters"}},
		{"length counts characters not bytes", def, "ééééééééééé", "ada@example.com", []string{"at least 12 characters"}},
		{"exactly the minimum", def, "qz8vw2mx7kp4", "ada@example.com", nil},
		{"common password", def, "passwordpassword", "ada@example.com", []string{"too common"}},
		{"common with case and padding", def, "Password2024!!", "ada@example.com", []string{"too common"}},
		{"common in leetspeak", def, "P@ssw0rd12345", "ada@example.com", []string{"too common"}},
		{"common word said twice", def, "dragondragon", "ada@example.com", []string{"too common"}},
		{"contains email", def, "ada@example.com-2024", "ada@example.com", []string{"email address"}},
		{"contains local part", def, "xx-lovelace-xx-9", "lovelace@example.com", []string{"email address"}},
		{"contains local part, other case", def, "ZZ-LoveLace-zz-9", "lovelace@example.com", []string{"email address"}},
		{"short local part is not checked", def, "ada plus numbers 993", "ada@example.com", nil},
		{"control character", def, "tab\tinside password", "ada@example.com", []string{"control characters"}},
		{"too long", def, strings.Repeat("q", 257), "ada@example.com", []string{"at most 256"}},
		{"all classes present", classes, "Vq7#mzLp", "ada@example.com", nil},
		{"every class missing", classes, "        ", "", []string{"uppercase", "lowercase", "digit", "symbol"}},
		{"unicode upper counts", classes, "Ωq7#mzlp", "", nil},
		{"several problems at once", classes, "abc123", "", []string{"at least 8", "uppercase", "symbol", "too common"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.policy.Check(tc.password, tc.email)
			if len(got) != len(tc.want) {
				t.Fatalf("Check = %q; want %d problems like %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d = %q; want it to mention %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestStrictestPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []directory.PasswordPolicy
		want directory.PasswordPolicy
	}{
		{"none is the default", nil, directory.DefaultPasswordPolicy()},
		{"one is itself", []directory.PasswordPolicy{{MinLength: 8, RequireDigit: true}}, directory.PasswordPolicy{MinLength: 8, RequireDigit: true}},
		{"longest minimum and every class", []directory.PasswordPolicy{
			{MinLength: 16, RequireUpper: true},
			{MinLength: 10, RequireDigit: true, RequireSymbol: true},
			{MinLength: 12, RequireLower: true},
		}, directory.PasswordPolicy{MinLength: 16, RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, directory.StrictestPolicy(tc.in...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPasswordPolicyValidate(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 7, 129} {
		if err := (directory.PasswordPolicy{MinLength: n}).Validate(); directory.KindOf(err) != directory.Invalid {
			t.Errorf("MinLength %d: %v; want Invalid", n, err)
		}
	}
	for _, n := range []int{8, 12, 128} {
		if err := (directory.PasswordPolicy{MinLength: n}).Validate(); err != nil {
			t.Errorf("MinLength %d: %v", n, err)
		}
	}
}

func TestPolicyRulesDescribeEveryRequirement(t *testing.T) {
	t.Parallel()
	rules := directory.PasswordPolicy{MinLength: 14, RequireDigit: true}.Rules()
	want := []string{"at least 14 characters", "at least one digit", "not a commonly used password", "not containing your email address"}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada.Lovelace+tag@EXAMPLE.COM ", "Ada.Lovelace+tag@example.com", true},
		{"o'brien@example.ie", "o'brien@example.ie", true},
		{"josé@example.es", "josé@example.es", true},
		{"", "", false},
		{"ada", "", false},
		{"@example.com", "", false},
		{"ada@", "", false},
		{"ada@localhost", "", false},
		{"a@b@example.com", "", false},
		{"Ada <ada@example.com>", "", false},
		{"ada lovelace@example.com", "", false},
		{".ada@example.com", "", false},
		{"ada..l@example.com", "", false},
		{"ada@exa_mple.com", "", false},
		{"ada@-example.com", "", false},
		{"\"quoted\"@example.com", "", false},
		{"ada\n@example.com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := directory.NormalizeEmail(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && directory.KindOf(err) != directory.Invalid {
				t.Errorf("error kind = %v; want Invalid", directory.KindOf(err))
			}
		})
	}
}

func TestBrandingValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    directory.Branding
		want int
	}{
		{"empty", directory.Branding{}, 0},
		{"good", directory.Branding{LogoURL: "https://cdn.acme.example/logo.png", PrimaryColor: "#1f6feb"}, 0},
		{"short colour", directory.Branding{PrimaryColor: "#abc"}, 0},
		{"http logo", directory.Branding{LogoURL: "http://acme.example/logo.png"}, 1},
		{"javascript logo", directory.Branding{LogoURL: "javascript:alert(1)"}, 1},
		{"css injection", directory.Branding{PrimaryColor: "red;}body{display:none"}, 1},
		{"named colour", directory.Branding{PrimaryColor: "red"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Validate(); len(got) != tc.want {
				t.Errorf("Validate = %q; want %d problems", got, tc.want)
			}
		})
	}
}

func TestHasherRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
	hash, err := h.Hash(ctx, "café au lait forever")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash = %q; want a PHC argon2id string with the parameters", hash)
	}
	other, _ := h.Hash(ctx, "café au lait forever")
	if other == hash {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	// "é" decomposed (e + combining acute) is the same password after NFKC.
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"café au lait forever", true},
		{"cafe\u0301 au lait forever", true},
		{"Café au lait forever", false},
		{"", false},
	} {
		ok, stale, err := h.Verify(ctx, hash, tc.pw)
		if err != nil || ok != tc.want || stale {
			t.Errorf("Verify(%q) = %v, stale %v, %v; want %v", tc.pw, ok, stale, err, tc.want)
		}
	}
	stronger := directory.NewHasher(directory.Argon2Params{Memory: 128, Iterations: 1, Parallelism: 1})
	if ok, stale, _ := stronger.Verify(ctx, hash, "café au lait forever"); !ok || !stale {
		t.Errorf("verify with new parameters: ok %v stale %v; want the old hash accepted and reported stale", ok, stale)
	}
}

func TestHasherRefusesMalformedHashes(t *testing.T) {
	t.Parallel()
	h := directory.NewHasher(directory.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1})
	for _, bad := range []string{
		"",
		"plaintext",
		"$2a$10$abcdefghijklmnopqrstuv", // bcrypt
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",       // argon2i
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=64,t=1,p=1$!!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5",
	} {
		if ok, _, err := h.Verify(context.Background(), bad, "password"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", bad, ok, err)
		}
	}
}
