package directory

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// User is one person, identified by email, with one password for every
// account they belong to.
type User struct {
	ID        string
	Email     string // as the person or their admin typed it
	FirstName string
	LastName  string
	// PasswordHash is an argon2id PHC string, empty when the person has no
	// password (they sign in through SSO or have not accepted an invitation).
	PasswordHash string
	// PasswordMustChange marks a password that someone else chose (manual add,
	// bulk upload): the person must replace it at their next sign-in.
	PasswordMustChange bool
	PasswordChangedAt  *time.Time
	// PasswordProven says the password's holder showed they own the
	// address (they came through an emailed link: an invitation or a
	// reset). An unproven password was set by the admin of PasswordSetBy
	// and opens only that account (DESIGN rule 10).
	PasswordProven bool
	PasswordSetBy  string
	// LastAccountID is the account the person chose last, opened first
	// at their next sign-in.
	LastAccountID string
	// DevicesEndedAt is when the person last signed out everywhere: their
	// device tokens issued before then spare no browser the lockout.
	DevicesEndedAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// HasPassword reports whether the person can sign in with a password.
func (u User) HasPassword() bool { return u.PasswordHash != "" }

// Role names what a member may do in an account. owner, admin and member
// exist in every account; an account may define more.
type Role string

const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// BuiltinRoles returns the roles every account has.
func BuiltinRoles() []Role { return []Role{RoleOwner, RoleAdmin, RoleMember} }

// Status is the state of a membership.
type Status string

const (
	StatusActive      Status = "active"
	StatusInvited     Status = "invited"
	StatusDeactivated Status = "deactivated"
)

// Statuses returns every status a membership can be in.
func Statuses() []Status { return []Status{StatusActive, StatusInvited, StatusDeactivated} }

// Membership ties a user to an account with a role and a status.
type Membership struct {
	// ID is the membership's own id: the id SCIM clients know the person
	// by in this account.
	ID        string
	AccountID string
	UserID    string
	Role      Role
	Status    Status
	Source    MembershipSource
	// LastSignInAt is when the person last signed in to the account (nil:
	// never), and LastConnectionID the connection they came through then
	// (empty for a password).
	LastSignInAt     *time.Time
	LastConnectionID string
	// SessionsEndedAt is when an admin last ended the person's sessions in
	// the account (nil: never). A session signed in before then, wherever
	// it is now, does not enter the account (sessionsEnded).
	SessionsEndedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// MembershipSource says how a membership came to be.
type MembershipSource string

const (
	SourceOfAdmin      MembershipSource = "admin"
	SourceOfInvitation MembershipSource = "invitation"
	SourceOfSCIM       MembershipSource = "scim"
	SourceOfSSO        MembershipSource = "sso"
	SourceOfImport     MembershipSource = "import"
)

// MembershipSources returns every way a membership comes to be.
func MembershipSources() []MembershipSource {
	return []MembershipSource{SourceOfAdmin, SourceOfInvitation, SourceOfSCIM, SourceOfSSO, SourceOfImport}
}

// Federated reports whether the membership came from the account's
// identity provider (SCIM or an SSO login), which then answers for how the
// person signs in to it.
func (s MembershipSource) Federated() bool { return s == SourceOfSCIM || s == SourceOfSSO }

// Member is a membership seen with its person, as member listings show it.
type Member struct {
	User       User
	Membership Membership
}

// NormalizeEmail trims an email address and checks that it is a plain
// address (local@domain, no display name, no comments). It returns the address
// with its domain lowercased; EmailKey gives the case-insensitive key.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	local, domain, ok := strings.Cut(s, "@")
	switch {
	case s == "":
		return "", InvalidError("email is required")
	case !ok || local == "" || strings.Contains(domain, "@"):
		return "", InvalidError(fmt.Sprintf("%q is not an email address like name@example.com", s))
	case len(s) > 254 || len(local) > 64:
		return "", InvalidError("email address is too long")
	case !validLocalPart(local):
		return "", InvalidError(fmt.Sprintf("%q has characters an email address cannot have", s))
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return "", InvalidError(fmt.Sprintf("%q is not an email address like name@example.com", s))
	}
	return local + "@" + d, nil
}

// validLocalPart accepts the dot-atom form of RFC 5322 and UTF-8 letters
// (RFC 6531); quoted local parts are refused because no provider we meet
// issues them and they make comparison ambiguous.
func validLocalPart(local string) bool {
	if !utf8.ValidString(local) || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", r):
		case r > unicode.MaxASCII && unicode.IsPrint(r) && !unicode.IsSpace(r):
		default:
			return false
		}
	}
	return true
}

// lookupable reports whether a typed address can be looked up at all: the
// databases refuse NUL and invalid UTF-8 in text, and no address has them.
// Pages take such input as an address nobody has.
func lookupable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// EmailKey is the form in which emails are compared and kept unique: two
// addresses that differ only in case are the same person.
func EmailKey(email string) string { return strings.ToLower(email) }

func validateName(field, v string) string {
	switch {
	case v == "":
		return field + " is required"
	case utf8.RuneCountInString(v) > 100:
		return field + " must be at most 100 characters"
	case hasControl(v):
		return field + " must not contain control characters"
	}
	return ""
}

// hasControl reports whether s is not UTF-8 or holds a control character.
// The format characters that reorder or hide text count as control
// characters here too: a bidirectional override turns "Ada
// \u202Emoc.live" into a name that reads otherwise in the console, in an
// invitation email or in an app's claims, and tag characters carry text
// nobody sees. The marks (LRM, RLM, ALM) and zero-width joiners that
// Arabic, Hebrew, Persian and Indic names need are not among them.
func hasControl(s string) bool {
	return strings.IndexFunc(s, isControl) >= 0 || !utf8.ValidString(s)
}

func isControl(r rune) bool {
	switch {
	case unicode.IsControl(r),
		r >= 0x202A && r <= 0x202E,   // embeddings and overrides: LRE, RLE, PDF, LRO, RLO
		r >= 0x2066 && r <= 0x2069,   // isolates: LRI, RLI, FSI, PDI
		r >= 0x206A && r <= 0x206F,   // deprecated format characters (symmetric swapping, shaping)
		r >= 0xFFF9 && r <= 0xFFFB,   // interlinear annotation
		r >= 0xE0000 && r <= 0xE007F: // tags
		return true
	}
	return false
}

// Group is a named set of an account's members, as identity providers push
// them over SCIM; groups map to roles.
type Group struct {
	ID          string
	AccountID   string
	DisplayName string
	ExternalID  string // the identity provider's own id for the group
	CreatedAt   time.Time
	UpdatedAt   time.Time
}
