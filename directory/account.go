package directory

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Account is a customer organisation: everything account-scoped hangs off one.
type Account struct {
	ID             string
	Slug           string // appears in URLs: /sso/{slug}/login
	Name           string
	Domains        []string // email domains the account owns; lowercase, sorted
	Branding       Branding
	PasswordPolicy PasswordPolicy
	SignIn         SignInPolicy
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Branding is how the account's pages and emails look to its people, so
// that what admit sends reads as the customer's own product.
type Branding struct {
	DisplayName  string `json:"display_name,omitempty"` // instead of the account name
	LogoURL      string `json:"logo_url,omitempty"`
	PrimaryColor string `json:"primary_color,omitempty"`
	SenderName   string `json:"sender_name,omitempty"` // the From name of emails
	ReplyTo      string `json:"reply_to,omitempty"`    // where replies to emails go
	// InviteSubject and InviteIntro replace the invitation email's subject
	// line and opening paragraph.
	InviteSubject string `json:"invite_subject,omitempty"`
	InviteIntro   string `json:"invite_intro,omitempty"`
	// Logo is the SHA-256 (hex) of the uploaded logo (see UploadLogo);
	// it is set only by UploadLogo and RemoveLogo.
	Logo string `json:"logo,omitempty"`
}

// Title is the name people see: the display name, else the account name.
func (a Account) Title() string {
	if a.Branding.DisplayName != "" {
		return a.Branding.DisplayName
	}
	return a.Name
}

// NewAccount is what an operator gives to create an account.
type NewAccount struct {
	Slug    string
	Name    string
	Domains []string
}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// reservedSlugs would shadow admit's own paths or confuse people reading a URL.
var reservedSlugs = []string{"admin", "api", "static", "login", "logout", "me", "scim", "sso", "invite", "password", "hooks", "metrics", "healthz", "readyz"}

func validateSlug(slug string) string {
	switch {
	case slug == "":
		return "slug is required"
	case len(slug) < 2 || !slugPattern.MatchString(slug):
		return fmt.Sprintf("slug %q must be 2 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit", slug)
	case slices.Contains(reservedSlugs, slug):
		return fmt.Sprintf("slug %q is reserved; choose another", slug)
	case isID(slug):
		// The API takes an account's id in place of its slug: one written
		// as another's id would stand for it there.
		return fmt.Sprintf("slug %q is written as an id; choose another", slug)
	}
	return ""
}

func validateAccountName(name string) string {
	switch {
	case name == "":
		return "name is required"
	case len([]rune(name)) > 200:
		return "name must be at most 200 characters"
	case hasControl(name):
		return "name must not contain control characters"
	}
	return ""
}

// NormalizeDomain lowercases an email domain and checks that it is a plain DNS
// name with at least two labels ("example.com", not "localhost" or "*.example.com").
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if !isDomainName(d) || !strings.Contains(d, ".") {
		return "", InvalidError(fmt.Sprintf("%q is not a domain name like example.com", d))
	}
	return d, nil
}

func normalizeDomains(in []string) ([]string, []string) {
	var out, problems []string
	for _, d := range in {
		n, err := NormalizeDomain(d)
		if err != nil {
			problems = append(problems, Message(err))
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, problems
}

// isDomainName reports whether s is a syntactically valid DNS name (RFC 1035
// labels: letters, digits, hyphens; no label starts or ends with a hyphen).
func isDomainName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Validate checks branding values before they reach a page or an email:
// the logo must be an https URL and the colour a plain hex colour, so neither
// can smuggle markup or CSS.
func (b Branding) Validate() []string {
	var problems []string
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(b.LogoURL) > 2000 {
			problems = append(problems, "logo URL must be an https:// address")
		}
	}
	if b.PrimaryColor != "" && !hexColor.MatchString(b.PrimaryColor) {
		problems = append(problems, "primary colour must be a hex colour like #1f6feb")
	}
	if b.ReplyTo != "" {
		if _, err := NormalizeEmail(b.ReplyTo); err != nil {
			problems = append(problems, "reply-to must be an email address")
		}
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"display name", b.DisplayName, 100}, {"sender name", b.SenderName, 100},
		{"invitation subject", b.InviteSubject, 200}, {"invitation intro", b.InviteIntro, 2000},
	} {
		if len([]rune(f.value)) > f.max {
			problems = append(problems, fmt.Sprintf("%s must be at most %d characters", f.name, f.max))
		}
		// Line breaks in a name or subject would let it forge mail headers.
		if f.max <= 200 && strings.ContainsAny(f.value, "\r\n") {
			problems = append(problems, f.name+" must be one line")
		}
	}
	return problems
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// OwnsEmailDomain reports whether the email's domain is one of the account's.
func (a Account) OwnsEmailDomain(email string) bool {
	_, domain, ok := strings.Cut(strings.ToLower(email), "@")
	return ok && slices.Contains(a.Domains, domain)
}
