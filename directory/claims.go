package directory

import (
	"fmt"
	"slices"
	"strings"
)

// Claims are what an identity provider said about a person: SAML
// attributes (by Name and by FriendlyName) or OIDC claims, each with its
// values. Names are compared without regard to case.
type Claims map[string][]string

// Add appends values under name.
func (c Claims) Add(name string, values ...string) {
	if name == "" {
		return
	}
	c[name] = append(c[name], values...)
}

// lookup returns the values of the first of names that has a non-blank
// value, and which name that was.
func (c Claims) lookup(names []string) ([]string, string) {
	for _, want := range names {
		for name, values := range c {
			if !strings.EqualFold(name, want) {
				continue
			}
			var kept []string
			for _, v := range values {
				if v = strings.TrimSpace(v); v != "" {
					kept = append(kept, v)
				}
			}
			if len(kept) > 0 {
				return kept, name
			}
		}
	}
	return nil, ""
}

// AttributeMapping names, per connection, the claim each field comes from.
// An empty field uses the defaults, which cover what Okta, Entra ID, Google
// Workspace, OneLogin, JumpCloud, ADFS and Keycloak send out of the box.
type AttributeMapping struct {
	// Email is a claim name, or "nameid" for the SAML NameID (or OIDC
	// subject) itself.
	Email       string `json:"email,omitempty"`
	FirstName   string `json:"first_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Groups      string `json:"groups,omitempty"`
	// Subject, SAML only, is the attribute holding the person's lasting
	// subject: an id the identity provider assigns and never gives to
	// anyone else (SubjectAttribute). "nameid" links by a persistent
	// NameID only; empty takes Entra ID's object id when the assertion
	// carries one, else a persistent NameID.
	Subject string `json:"subject,omitempty"`
}

// NameIDClaim, as AttributeMapping.Email, takes the email from the SAML
// NameID or the OIDC subject; as AttributeMapping.Subject, it links a
// SAML connection's logins by a persistent NameID only.
const NameIDClaim = "nameid"

// Entra ID puts the person's object id (a GUID that is never given to
// another object of the tenant) and the tenant's id in every SAML token
// it issues, whatever the application's claims say.
const (
	EntraObjectIDClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	EntraTenantIDClaim = "http://schemas.microsoft.com/identity/claims/tenantid"
)

func (m AttributeMapping) check() []string {
	var problems []string
	for _, f := range []struct{ field, v string }{
		{"email", m.Email}, {"first name", m.FirstName}, {"last name", m.LastName},
		{"display name", m.DisplayName}, {"groups", m.Groups}, {"subject", m.Subject},
	} {
		if len(f.v) > 512 || hasControl(f.v) {
			problems = append(problems, fmt.Sprintf("the %s attribute name must be at most 512 characters, without control characters", f.field))
		}
	}
	if held := m.subjectHeldByOthers(); held != "" {
		problems = append(problems, fmt.Sprintf("the subject attribute %s is %s, which people share or hand on: name an id the identity provider gives one person and never anyone else (Entra ID's object id, Okta's user id, an employee number never reused)", m.Subject, held))
	}
	return problems
}

// subjectHeldByOthers says what the subject attribute holds when it is an
// attribute several people hold the same value of, or one a person may
// edit or hand on ("" when it is none that admit knows): the first
// person's link would catch the next one's login as a rename of theirs,
// and give them the first person, at their address. Entra ID's tenant id
// sits beside the object id in its claim list and is the same for
// everyone of the tenant; a name or a group is shared, often editable;
// an address goes to the next Jane Doe. Each field's names count, the
// connection's own and the defaults, compared as claims are, without
// regard to case.
func (m AttributeMapping) subjectHeldByOthers() string {
	if m.Subject == "" || m.Subject == NameIDClaim {
		return ""
	}
	if strings.EqualFold(m.Subject, EntraTenantIDClaim) {
		return "Entra ID's tenant id"
	}
	n := m.Names()
	for _, f := range []struct {
		what  string
		names [][]string
	}{
		{"an attribute admit reads the email address from", [][]string{n.Email, defaultEmailClaims}},
		{"an attribute admit reads the first name from", [][]string{n.FirstName, defaultFirstNameClaims}},
		{"an attribute admit reads the last name from", [][]string{n.LastName, defaultLastNameClaims}},
		{"an attribute admit reads the full name from", [][]string{n.DisplayName, defaultDisplayNameClaims}},
		{"an attribute admit reads the groups from", [][]string{n.Groups, defaultGroupClaims}},
	} {
		for _, names := range f.names {
			if slices.ContainsFunc(names, func(name string) bool { return strings.EqualFold(name, m.Subject) }) {
				return f.what
			}
		}
	}
	return ""
}

// The claim names each field is looked for under when the connection does
// not name one, in order. Where providers' names differ, each is listed:
//   - Entra ID and ADFS: the WS-Federation claim URIs
//     (http://schemas.xmlsoap.org/ws/2005/05/identity/claims/...), groups as
//     .../ws/2008/06/identity/claims/groups (object ids) or, ADFS,
//     http://schemas.xmlsoap.org/claims/Group;
//   - Okta, Google Workspace and JumpCloud: the names the admin types in
//     the app's attribute statements; their guides (and ours) use email,
//     firstName, lastName and groups (JumpCloud: memberOf);
//   - OneLogin: User.email, User.FirstName, User.LastName, and memberOf;
//   - Keycloak: email, firstName, lastName from its default mappers (and the
//     X.500 urn:oid names with the "X500" mappers), groups from a group list
//     mapper, Role from its role list;
//   - OIDC: email, given_name, family_name, name, groups.
var (
	defaultEmailClaims = []string{
		"email", "mail", "emailaddress", "email_address", "User.email", "Email Address",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
		"urn:oid:0.9.2342.19200300.100.1.3", "urn:oid:1.2.840.113549.1.9.1",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		"upn",
	}
	defaultFirstNameClaims = []string{
		"firstName", "first_name", "givenName", "given_name", "User.FirstName", "firstname",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
		"urn:oid:2.5.4.42",
	}
	defaultLastNameClaims = []string{
		"lastName", "last_name", "surname", "familyName", "family_name", "sn", "User.LastName", "lastname",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
		"urn:oid:2.5.4.4",
	}
	defaultDisplayNameClaims = []string{
		"displayName", "display_name", "name", "cn", "fullName",
		"http://schemas.microsoft.com/identity/claims/displayname",
		"urn:oid:2.16.840.1.113730.3.1.241", "urn:oid:2.5.4.3",
	}
	defaultGroupClaims = []string{
		"groups", "memberOf", "group", "member", "User.groups", "isMemberOf",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
		"http://schemas.xmlsoap.org/claims/Group",
		"urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
		"roles", "Role",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
	}
)

// AttributeNames are the claim names a connection reads each field from,
// in the order they are looked for: what the identity provider's admin
// must send. An email named nowhere is also taken from the NameID (or
// OIDC subject) when that is an address.
type AttributeNames struct {
	Email       []string `json:"email"`
	FirstName   []string `json:"first_name"`
	LastName    []string `json:"last_name"`
	DisplayName []string `json:"display_name"`
	Groups      []string `json:"groups"`
	// Subject, SAML only, is the attribute a lasting subject is read from
	// (AttributeMapping.Subject); empty when only a persistent NameID is.
	Subject []string `json:"subject,omitempty"`
}

// Names returns the claim names MapClaims reads with this mapping.
func (m AttributeMapping) Names() AttributeNames {
	names := func(override string, defaults []string) []string { return slices.Clone(namesFor(override, defaults)) }
	return AttributeNames{
		Email:       names(m.Email, defaultEmailClaims),
		FirstName:   names(m.FirstName, defaultFirstNameClaims),
		LastName:    names(m.LastName, defaultLastNameClaims),
		DisplayName: names(m.DisplayName, defaultDisplayNameClaims),
		Groups:      names(m.Groups, defaultGroupClaims),
		Subject:     subjectNames(m.Subject),
	}
}

func subjectNames(override string) []string {
	switch override {
	case NameIDClaim:
		return nil
	case "":
		return []string{EntraObjectIDClaim, EntraTenantIDClaim}
	}
	return []string{override}
}

func namesFor(override string, defaults []string) []string {
	if override != "" {
		return []string{override}
	}
	return defaults
}

// Identity is a person as an identity provider asserted them, mapped to
// the directory's fields. SAML and OIDC build one from a verified login;
// SignInWithSSO decides what it may do.
type Identity struct {
	Subject string // the SAML NameID or the OIDC sub
	// Lasting says the subject names the person for good and never
	// anyone else (an OIDC sub, a persistent SAML NameID): admit links
	// the connection's logins to the person by it, so that an address the
	// provider renames follows (SignInWithSSO).
	Lasting bool
	// Attribute, when not empty, is where a SAML login's lasting subject
	// was read from instead (SubjectAttribute), and AttributeSubject its
	// value: the login is linked by that, and never by the NameID.
	Attribute        string
	AttributeSubject string
	Email            string
	FirstName        string
	LastName         string
	DisplayName      string
	Groups           []string
	// From says which claim each field was read from, for the connection's
	// login log.
	From map[string]string
}

// MaxGroupsPerLogin bounds the groups kept from one login: Entra ID sends
// at most 150 in a SAML token before it switches to a link, and nobody
// needs thousands of group names in a session decision.
const MaxGroupsPerLogin = 500

// MapClaims turns what the provider said into an Identity, with the
// connection's mapping or the defaults. The email must be a plain address;
// a blank or malformed one is Invalid, naming the claims looked at.
func MapClaims(subject string, claims Claims, m AttributeMapping) (Identity, error) {
	id := Identity{Subject: strings.TrimSpace(subject), From: map[string]string{}}
	emailNames := namesFor(m.Email, defaultEmailClaims)
	var raw string
	if m.Email == NameIDClaim {
		raw, id.From["email"] = id.Subject, NameIDClaim
	} else {
		// A claim that does not hold an address (Entra's name claim can
		// be a UPN-less id) is passed over for the next.
		for _, name := range emailNames {
			if vs, from := claims.lookup([]string{name}); len(vs) > 0 {
				if _, err := NormalizeEmail(vs[0]); err == nil {
					raw, id.From["email"] = vs[0], from
					break
				}
				if raw == "" {
					raw, id.From["email"] = vs[0], from
				}
			}
		}
		if _, err := NormalizeEmail(raw); err != nil && m.Email == "" {
			// No attribute carries it: the NameID often is the address.
			if _, err := NormalizeEmail(id.Subject); err == nil {
				raw, id.From["email"] = id.Subject, NameIDClaim
			}
		}
	}
	email, err := NormalizeEmail(raw)
	if err != nil {
		if raw == "" {
			return id, InvalidError(fmt.Sprintf("the identity provider sent no email address (looked for the NameID and %s)", strings.Join(emailNames, ", ")))
		}
		return id, InvalidError(fmt.Sprintf("the identity provider's email %q (from %s) is not an email address", raw, id.From["email"]))
	}
	id.Email = email
	pick := func(field, override string, defaults []string) string {
		vs, from := claims.lookup(namesFor(override, defaults))
		if len(vs) == 0 {
			return ""
		}
		id.From[field] = from
		return clip(vs[0], 100)
	}
	id.FirstName = pick("first_name", m.FirstName, defaultFirstNameClaims)
	id.LastName = pick("last_name", m.LastName, defaultLastNameClaims)
	id.DisplayName = pick("display_name", m.DisplayName, defaultDisplayNameClaims)
	if id.FirstName == "" && id.LastName == "" && id.DisplayName != "" {
		// Only a full name: the last word is the family name.
		if i := strings.LastIndexByte(id.DisplayName, ' '); i > 0 {
			id.FirstName, id.LastName = id.DisplayName[:i], id.DisplayName[i+1:]
		} else {
			id.FirstName = id.DisplayName
		}
	}
	if groups, from := claims.lookup(namesFor(m.Groups, defaultGroupClaims)); len(groups) > 0 {
		id.From["groups"] = from
		// Values are kept whole: an LDAP-backed provider's group is a
		// distinguished name, commas and all.
		for _, g := range groups {
			if g = clip(g, 256); !hasControl(g) && !slices.Contains(id.Groups, g) {
				id.Groups = append(id.Groups, g)
			}
		}
		if len(id.Groups) > MaxGroupsPerLogin {
			id.Groups = id.Groups[:MaxGroupsPerLogin]
		}
	}
	for _, f := range []*string{&id.FirstName, &id.LastName, &id.DisplayName} {
		if hasControl(*f) {
			*f = ""
		}
	}
	return id, nil
}

// SubjectAttribute reads a SAML login's lasting subject from its
// attributes, as the connection's mapping says (AttributeMapping.Subject):
// the attribute it came from ("" when the login is linked by its NameID,
// as ever) and its value.
//
// Entra ID's object id is unique only within its tenant: with the tenant
// id beside it, the subject is the two together, and the attribute names
// both, so that a value read without a tenant can never equal one read
// with it.
//
// An attribute the connection names but the assertion lacks, or holds
// several values of, is Invalid: the login is refused rather than linked
// by something else (the NameID, or the address, which a company hands to
// the next Jane Doe) or by whichever value came first.
func SubjectAttribute(claims Claims, m AttributeMapping) (string, string, error) {
	name := m.Subject
	switch name {
	case NameIDClaim:
		return "", "", nil
	case "":
		if _, present := claims.all(EntraObjectIDClaim); !present {
			return "", "", nil
		}
		name = EntraObjectIDClaim
	}
	value, err := claims.single(name)
	if err != nil {
		return "", "", err
	}
	if !strings.EqualFold(name, EntraObjectIDClaim) {
		return name, value, nil
	}
	name = EntraObjectIDClaim
	if _, present := claims.all(EntraTenantIDClaim); !present {
		return name, value, nil
	}
	tenant, err := claims.single(EntraTenantIDClaim)
	if err != nil {
		return "", "", err
	}
	// A tenant id is a GUID: one with a slash would make tenant/object
	// ambiguous.
	if strings.Contains(tenant, "/") || len(tenant)+1+len(value) > maxLinkedSubject {
		return "", "", InvalidError(fmt.Sprintf("the %s attribute %q is no tenant id", EntraTenantIDClaim, clip(tenant, 100)))
	}
	return EntraTenantIDClaim + " " + name, tenant + "/" + value, nil
}

// all returns the distinct non-blank values held under name, however many
// attributes (or friendly names) carry it, and whether any attribute of
// that name was sent at all.
func (c Claims) all(name string) ([]string, bool) {
	var values []string
	present := false
	for n, vs := range c {
		if !strings.EqualFold(n, name) {
			continue
		}
		present = true
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(values, v) {
				values = append(values, v)
			}
		}
	}
	return values, present
}

// single returns the one value held under name: none, or more than one
// distinct value, is Invalid.
func (c Claims) single(name string) (string, error) {
	values, _ := c.all(name)
	switch {
	case len(values) == 0:
		return "", InvalidError(fmt.Sprintf("the identity provider sent no %s attribute, which holds the person's lasting subject for this connection", name))
	case len(values) > 1:
		return "", InvalidError(fmt.Sprintf("the identity provider sent %d values of the %s attribute, which must hold the person's one lasting subject", len(values), name))
	case len(values[0]) > maxLinkedSubject || hasControl(values[0]):
		return "", InvalidError(fmt.Sprintf("the %s attribute is longer than %d characters or holds control characters: it is no subject", name, maxLinkedSubject))
	}
	return values[0], nil
}

// clip shortens s to at most n characters.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
