package directory

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// PasswordPolicy is an account's rule for the passwords of its people. A
// person in several accounts must meet the strictest combination of their
// accounts' policies (see StrictestPolicy).
//
// Whatever the policy says, a password is never accepted when it is a
// commonly used one or contains the person's email address: those checks are
// what actually stops guessing (NIST 800-63B §5.1.1.2), so they cannot be
// switched off.
type PasswordPolicy struct {
	MinLength     int  `json:"min_length"`
	RequireUpper  bool `json:"require_upper"`
	RequireLower  bool `json:"require_lower"`
	RequireDigit  bool `json:"require_digit"`
	RequireSymbol bool `json:"require_symbol"`
	// InitialPasswordDays is how long a password set by an admin or a
	// bulk upload works before the person must have replaced it.
	InitialPasswordDays int `json:"initial_password_days,omitempty"`
}

// DefaultInitialPasswordDays applies when a policy sets none.
const DefaultInitialPasswordDays = 14

// InitialPasswordTTL is how long an initial password works under p.
func (p PasswordPolicy) InitialPasswordTTL() time.Duration {
	days := p.InitialPasswordDays
	if days <= 0 {
		days = DefaultInitialPasswordDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// Bounds of MinLength an account may choose.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 128
)

// DefaultPasswordPolicy is what a new account starts with: 12 characters and
// no required character classes. Length and the common-password check defeat
// guessing; composition rules mostly produce "Password1!" (NIST 800-63B
// advises against them), so they are left for accounts that must have them.
func DefaultPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{MinLength: 12, InitialPasswordDays: DefaultInitialPasswordDays}
}

// Validate checks that the policy itself is sensible.
func (p PasswordPolicy) Validate() error {
	var problems []string
	if p.MinLength < MinPasswordLength || p.MinLength > MaxPasswordLength {
		problems = append(problems, fmt.Sprintf("minimum password length must be between %d and %d", MinPasswordLength, MaxPasswordLength))
	}
	if p.InitialPasswordDays < 0 || p.InitialPasswordDays > 90 {
		problems = append(problems, "an initial password may last from 1 to 90 days")
	}
	if len(problems) > 0 {
		return InvalidError(problems...)
	}
	return nil
}

// StrictestPolicy combines policies so that a password meeting the result
// meets each of them: the longest minimum, every required class.
func StrictestPolicy(policies ...PasswordPolicy) PasswordPolicy {
	if len(policies) == 0 {
		return DefaultPasswordPolicy()
	}
	out := policies[0]
	for _, p := range policies[1:] {
		out.MinLength = max(out.MinLength, p.MinLength)
		out.RequireUpper = out.RequireUpper || p.RequireUpper
		out.RequireLower = out.RequireLower || p.RequireLower
		out.RequireDigit = out.RequireDigit || p.RequireDigit
		out.RequireSymbol = out.RequireSymbol || p.RequireSymbol
		if p.InitialPasswordTTL() < out.InitialPasswordTTL() {
			out.InitialPasswordDays = p.InitialPasswordDays
		}
	}
	return out
}

// Rules describes the policy in sentences, for forms to show as people type.
func (p PasswordPolicy) Rules() []string {
	return p.rules("not containing your email address")
}

// RulesForAnother is Rules said to whoever sets another person's password
// (the Add user form), as CheckForAnother is Check.
func (p PasswordPolicy) RulesForAnother() []string {
	return p.rules("not containing their email address")
}

func (p PasswordPolicy) rules(email string) []string {
	rules := []string{fmt.Sprintf("at least %d characters", p.MinLength)}
	for _, c := range p.classes() {
		rules = append(rules, "at least one "+c.name)
	}
	return append(rules, "not a commonly used password", email)
}

// InitialDays is how many days a password set by an admin works
// (InitialPasswordTTL), for the pages that say so.
func (p PasswordPolicy) InitialDays() int {
	return int(p.InitialPasswordTTL() / (24 * time.Hour))
}

type charClass struct {
	name string
	has  func(rune) bool
}

func (p PasswordPolicy) classes() []charClass {
	var cs []charClass
	if p.RequireUpper {
		cs = append(cs, charClass{"uppercase letter", unicode.IsUpper})
	}
	if p.RequireLower {
		cs = append(cs, charClass{"lowercase letter", unicode.IsLower})
	}
	if p.RequireDigit {
		cs = append(cs, charClass{"digit", unicode.IsDigit})
	}
	if p.RequireSymbol {
		cs = append(cs, charClass{"symbol", isSymbol})
	}
	return cs
}

func isSymbol(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) && unicode.IsPrint(r)
}

// Check returns every way password breaks the policy for the person with
// the given email, said to that person; none means it is acceptable.
func (p PasswordPolicy) Check(password, email string) []string {
	return p.check(password, email, "do not use your email address in your password")
}

// CheckForAnother is Check said to whoever sets another person's password
// (an admin's initial password).
func (p PasswordPolicy) CheckForAnother(password, email string) []string {
	return p.check(password, email, "do not use their email address in the password")
}

func (p PasswordPolicy) check(password, email, ownEmail string) []string {
	password = normalizePassword(password)
	var problems []string
	n := utf8.RuneCountInString(password)
	if n < p.MinLength {
		problems = append(problems, fmt.Sprintf("use at least %d characters", p.MinLength))
	}
	if n > maxPasswordChars {
		problems = append(problems, fmt.Sprintf("use at most %d characters", maxPasswordChars))
	}
	for _, c := range p.classes() {
		if strings.IndexFunc(password, c.has) < 0 {
			problems = append(problems, "include at least one "+c.name)
		}
	}
	if strings.IndexFunc(password, unicode.IsControl) >= 0 {
		problems = append(problems, "do not use control characters")
	}
	if isCommonPassword(password) {
		problems = append(problems, "this password is too common; choose one that is hard to guess")
	}
	if containsEmail(password, email) {
		problems = append(problems, ownEmail)
	}
	return problems
}

func containsEmail(password, email string) bool {
	if email == "" {
		return false
	}
	pw := strings.ToLower(password)
	email = strings.ToLower(email)
	local, _, _ := strings.Cut(email, "@")
	return strings.Contains(pw, email) || (utf8.RuneCountInString(local) >= 4 && strings.Contains(pw, local))
}

//go:embed common-passwords.txt
var commonPasswordsText []byte

// commonPasswords is built on first use: 49k entries are not worth holding
// for commands that never check a password.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 50000)
	sc := bufio.NewScanner(bytes.NewReader(commonPasswordsText))
	for sc.Scan() {
		set[sc.Text()] = struct{}{}
	}
	return set
})

// leet undoes the substitutions people make to dress up a common word.
var leet = strings.NewReplacer("@", "a", "4", "a", "3", "e", "1", "i", "!", "i", "0", "o", "$", "s", "5", "s", "7", "t", "+", "t")

// isCommonPassword reports whether password is on the common list, also
// after lowercasing, undoing leetspeak, and stripping the digits and
// symbols people pad a common word with ("Password2024!" is "password").
func isCommonPassword(password string) bool {
	set := commonPasswords()
	lower := strings.ToLower(password)
	trimmed := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	candidates := []string{lower, trimmed, leet.Replace(lower), leet.Replace(trimmed)}
	// A common word said twice ("dragondragon") is no stronger than once.
	if half := len(lower) / 2; len(lower)%2 == 0 && lower[:half] == lower[half:] {
		candidates = append(candidates, lower[:half])
	}
	for _, c := range candidates {
		if _, ok := set[c]; ok && c != "" {
			return true
		}
	}
	return false
}
